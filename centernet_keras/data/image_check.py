"""A cheap check that an image file is complete (not cut short by an interrupted copy or
download), for the dataset converters: the header alone says nothing about the end of a file.
"""

from __future__ import annotations

import os

from PIL import Image

_JPEG_START, _JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"
_PNG_START, _PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


def incomplete_image(path: str | os.PathLike) -> str | None:
    """Why the image file at ``path`` is truncated or corrupt, or ``None`` if it is complete.

    A JPEG that ends with its end-of-image marker, or a PNG that ends with its ``IEND`` chunk
    (trailing zero bytes allowed), is complete: only the last bytes are read. Any other file
    (other formats, or data after the end marker, e.g. a motion photo) is decoded in full with
    PIL, which fails on missing data.
    """
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64))
        tail = f.read().rstrip(b"\x00")
    if (head.startswith(_JPEG_START) and tail.endswith(_JPEG_END)) or (
        head.startswith(_PNG_START) and tail.endswith(_PNG_END)
    ):
        return None
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as err:  # PIL raises many kinds for broken data
        return f"{type(err).__name__}: {err}"
    return None
