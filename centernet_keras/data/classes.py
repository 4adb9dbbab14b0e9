"""Class-name files: one class name per line, the line number minus blanks is the class id."""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def class_list_difference(
    given: Sequence[str], expected: Sequence[str], given_name: str, expected_name: str
) -> str | None:
    """How class list ``given`` differs from ``expected``, in one line; ``None`` when equal.

    Names the first ids whose names differ, the names only one list has, the lengths when they
    differ, and a reordering (the same names at other ids).

    Example: ``class_list_difference(["cat", "car"], ["cat", "bird"], "--classes", "the
    model")`` → ``"id 1: 'car' in --classes, 'bird' in the model; only in --classes: 'car';
    only in the model: 'bird'"``.
    """
    given, expected = [str(n) for n in given], [str(n) for n in expected]
    if given == expected:
        return None

    def listed(names: list[str]) -> str:
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        return ", ".join(quote(n, 40) for n in names[:5]) + more

    parts = []
    if len(given) != len(expected):
        parts.append(f"{len(given)} names in {given_name}, {len(expected)} in {expected_name}")
    ids = [i for i, (a, b) in enumerate(zip(given, expected, strict=False)) if a != b]
    shown = "; ".join(
        f"id {i}: {quote(given[i], 40)} in {given_name}, {quote(expected[i], 40)} in "
        f"{expected_name}"
        for i in ids[:3]
    )
    if ids:
        count = min(len(given), len(expected))
        parts.append(shown + (f" ({len(ids)} of {count} ids differ)" if len(ids) > 3 else ""))
    if sorted(given) == sorted(expected):
        parts.append("the same names in another order")
    given_set, expected_set = set(given), set(expected)
    only_given = [n for n in given if n not in expected_set]
    only_expected = [n for n in expected if n not in given_set]
    if only_given:
        parts.append(f"only in {given_name}: {listed(only_given)}")
    if only_expected:
        parts.append(f"only in {expected_name}: {listed(only_expected)}")
    return "; ".join(parts)
