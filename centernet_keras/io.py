"""Small file helpers shared by the CLIs and the library: every output is written atomically.

``atomic_path`` is the one way outputs are written (annotated images, videos, plots, result
files, exported models, annotation lines): the writer writes a temporary file (or folder) in
the same folder, which is renamed over the output only when the writer finished. A reader, or
a later run, never sees a half-written output under its final name. A failed writer (any
exception, Ctrl-C included) leaves nothing; a process killed outright (``kill -9``, power loss)
may leave its temporary file, named ``.<name>.<8 hex digits>.tmp<suffix>`` (hidden, and marked
so: ``is_temp_file``), never a partial ``<name>``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

#: The temporary names of ``atomic_path``: ``.<name>.<8 hex>.tmp<suffix>``.
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{8}\.tmp(\..*)?")


def is_temp_file(path: str | os.PathLike) -> bool:
    """Whether ``path``'s name is a temporary name of ``atomic_path`` (left by a killed
    writer: never a finished output)."""
    return _TEMP_NAME.fullmatch(Path(path).name) is not None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it over ``path`` when the block ends.

    The temporary path keeps ``path``'s suffixes (writers that pick the format from them, PIL,
    matplotlib, ``model.save``, ``save_weights``' ``.weights.h5``, OpenCV's ``VideoWriter``,
    work unchanged) and is a file or a
    folder, as the writer makes it. On success it replaces ``path`` (``os.replace``, atomic on
    POSIX and Windows; a folder replaces an existing folder by two renames) and takes the
    permissions of the file it replaces, else the writer's (``0666`` minus the umask for a
    file). If the block raises (Ctrl-C included), the temporary path is removed and ``path``
    is left as it was. If the writer wrote nothing, nothing is renamed.

    Args:
        path: the output file or folder. Its folder is created.
        durable: fsync a file before the rename (survives a power loss, not only a kill).

    Yields:
        The temporary path to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = path.name.encode()[:150].decode(errors="ignore")  # the name stays under 255 bytes
    suffix = "".join(path.suffixes).encode()[-60:].decode(errors="ignore")  # .weights.h5
    for _ in range(100):
        tmp = path.parent / f".{name}.{secrets.token_hex(4)}.tmp{suffix}"
        if not os.path.lexists(tmp):
            break
    else:
        raise FileExistsError(f"no free temporary file name next to {path}")
    try:
        yield tmp
        if not os.path.lexists(tmp):
            return
        if durable:
            _fsync(tmp)
        if tmp.is_dir() and path.is_dir() and not path.is_symlink():
            old = tmp.with_name(f"{tmp.name}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
            return
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` so readers never see a half-written file (``atomic_path``).

    The file is flushed and fsynced before the rename. It gets the permissions a plain
    ``open(path, "w")`` gives: those of the file it replaces, else ``0666`` minus the umask.
    """
    with atomic_path(path) as tmp, open(tmp, "w", encoding=encoding, newline="\n") as f:
        f.write(text)
