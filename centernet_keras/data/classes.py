"""Class-name files: one class name per line, the line number minus blanks is the class id."""

from __future__ import annotations

import os
from pathlib import Path

from centernet_keras.text import quote


def read_classes(path: str | os.PathLike) -> list[str]:
    """Read a class-name file (e.g. ``model_data/voc_classes.txt``).

    Each line is stripped; blank lines and lines starting with ``#`` are skipped. A UTF-8 byte
    order mark and Windows line endings are accepted. Class id ``i`` is the ``i``-th name kept.

    Args:
        path: the text file.

    Returns:
        The class names, in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file names no class, or names one class twice (the message gives the
            file and both line numbers).
    """
    names: list[str] = []
    first_line: dict[str, int] = {}
    text = Path(path).read_text(encoding="utf-8-sig")
    for number, raw in enumerate(text.splitlines(), 1):
        name = raw.strip()
        if not name or name.startswith("#"):
            continue
        if name in first_line:
            raise ValueError(
                f"{path}:{number}: duplicate class name {quote(name)} "
                f"(first on line {first_line[name]})"
            )
        first_line[name] = number
        names.append(name)
    if not names:
        raise ValueError(f"{path}: no class names (blank lines and # comments only)")
    return names
