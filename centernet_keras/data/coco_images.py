"""Where a COCO file's images are when none is under the image folder given: one level up or
down (``did you mean --images DIR?``), or beside their ``file_name``'s subfolder. Only looked
for when every image is missing (the hint of the reader's error)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from centernet_keras.text import setting_name, setting_value

#: Images looked for elsewhere when none is found under the image folder (the hint), and the
#: subfolders of the image folder tried.
_PROBED_IMAGES = 10
_PROBED_FOLDERS = 100


def _found_elsewhere(images: list[dict], image_dir: object) -> tuple[str, int, int] | None:
    """Where the file's first images are when none is under ``image_dir``: the folder above it
    (``file_name`` ``train2017/1.jpg`` with ``train2017`` given as the image folder) or one of
    its subfolders (``file_name`` ``1.jpg`` with the folder above the images given).

    Returns:
        ``(folder, found, probed)``: the folder holding most of the first ``probed`` images
        (``found`` of them), or ``None`` when neither holds any.
    """
    names = [img.get("file_name") for img in images[:_PROBED_IMAGES]]
    names = [name for name in names if isinstance(name, str) and name]
    root = os.fspath(image_dir)
    folders = [os.path.normpath(os.path.join(root, os.pardir))]
    if os.path.isdir(root):
        with os.scandir(root) as entries:
            subfolders = sorted(entry.name for entry in entries if entry.is_dir())
        folders += [os.path.join(root, name) for name in subfolders[:_PROBED_FOLDERS]]
    best = None
    for folder in folders:
        found = sum(os.path.isfile(os.path.join(folder, name)) for name in names)
        if found and (best is None or found > best[1]):
            best = (folder, found, len(names))
    return best


def _without_subfolder(images: list[dict], image_dir: object) -> tuple[str, int, int] | None:
    """``(subfolder, found, probed)`` when the first images' ``file_name`` has a subfolder
    (``train2017/1.jpg``) and ``found`` of the first ``probed`` images are in ``image_dir``
    itself without it (``1.jpg``), else ``None``."""
    names = [img.get("file_name") for img in images[:_PROBED_IMAGES]]
    names = [name for name in names if isinstance(name, str) and os.path.dirname(name)]
    root = os.fspath(image_dir)
    found = sum(os.path.isfile(os.path.join(root, os.path.basename(name))) for name in names)
    return (os.path.dirname(names[0]), found, len(names)) if found else None


def missing_images_hint(
    images: list[dict], image_dir: object, flags: Mapping[str, str] | None
) -> str:
    """What to give instead when none of the images is under ``image_dir``: the image folder
    one level up or down (``did you mean --images DIR?``), a subfolder of the ``file_name``
    that the images are not in, else ``wrong --images?`` (``flags`` name ``image_dir``)."""
    elsewhere = _found_elsewhere(images, image_dir)
    if elsewhere is not None:
        folder, found, probed = elsewhere
        return (
            f"{found} of the first {probed} are under {folder}: did you mean "
            f"{setting_value('image_dir', folder, flags)}?"
        )
    flat = _without_subfolder(images, image_dir)
    if flat is not None:
        subfolder, found, probed = flat
        return (
            f"{found} of the first {probed} are in {image_dir} itself, not in the subfolder "
            f"{subfolder!r} their file_name starts with: move them to "
            f"{os.path.join(os.fspath(image_dir), subfolder)}"
        )
    return f"wrong {setting_name('image_dir', flags)}?"
