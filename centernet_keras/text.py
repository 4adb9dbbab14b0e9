"""Text for messages: short renderings of user-supplied strings (a class name or a path from a
file can be megabytes long; a message quoting it must not be), and how a message names a
setting (the caller's flag, else the Python parameter)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

#: Characters of a user string kept in a message.
QUOTE_LIMIT = 80


def shorten(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``str(text)`` cut to ``limit`` characters, with ``…`` and the full length when cut.

    Example: ``shorten("x" * 1000, 5)`` → ``"xxxxx… (1000 chars)"``.
    """
    text = text if isinstance(text, str) else str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} chars)"


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of a user string for a message, cut to ``limit`` characters.

    Example: ``quote("cat")`` → ``"'cat'"``; ``quote("x" * 1000, 5)`` →
    ``"'xxxxx'… (1000 chars)"``.
    """
    text = text if isinstance(text, str) else str(text)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} chars)"


def setting_name(name: str, flags: Mapping[str, str] | None = None) -> str:
    """How a message names the setting ``name`` (a Python parameter): the caller's flag for it
    (``flags``: a command's ``{parameter: flag}``, e.g. ``{"image_dir": "--images"}``), else
    ``name=``, so that a command-line user reads flags and a Python caller parameters.

    Example: ``setting_name("image_dir", {"image_dir": "--images"})`` → ``"--images"``;
    ``setting_name("image_dir")`` → ``"image_dir="``.
    """
    return (flags or {}).get(name) or f"{name}="


def setting_value(name: str, value: object, flags: Mapping[str, str] | None = None) -> str:
    """A setting with a value, as the caller would write it: ``--images data`` with a flag
    (``flags``; the value quoted for a shell where it needs it), else ``image_dir='data'``."""
    flag = (flags or {}).get(name)
    return f"{flag} {shlex.quote(str(value))}" if flag else f"{name}={str(value)!r}"
