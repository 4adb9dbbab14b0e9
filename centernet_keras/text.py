"""Short renderings of user-supplied strings for messages (a class name or a path from a file
can be megabytes long; a message quoting it must not be)."""

from __future__ import annotations

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
