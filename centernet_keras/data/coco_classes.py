"""A COCO file's categories → the class list and the category id of each class.

Without a class list, the categories in ascending id order are the classes; with one, the
categories are matched by name. What does not match is reported into the reader's
``DatasetReport`` or, where no class list can be made, raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from centernet_keras.data.coco_fields import shown
from centernet_keras.data.problems import DatasetReport, Problem
from centernet_keras.text import setting_name


def class_map(
    file: str,
    categories: list[dict],
    annotated: set,
    class_names: Sequence[str] | None,
    report: DatasetReport,
    flags: Mapping[str, str] | None = None,
) -> tuple[list[str], tuple[int | None, ...]]:
    """Class names and the category id of each; category findings go into ``report``
    (messages name ``class_names`` as ``flags`` say).

    Args:
        file: the JSON file, for messages.
        categories: the file's categories in ascending id order.
        annotated: the category ids that some annotation has.
        class_names: the class list fixing the class ids, or ``None`` (the categories').
        report: receives ``empty_category`` / ``missing_category`` problems.
        flags: how the messages name ``class_names``.

    Returns:
        ``(class names, category id of each class)`` (``None``: no category of that name).

    Raises:
        ValueError: duplicate category names without ``class_names``; a class name several
            categories have; no class of ``class_names`` is a category.
    """
    names = [str(c["name"]).strip() for c in categories]
    classes = setting_name("class_names", flags)
    if class_names is None:
        if len(set(names)) != len(names):
            raise ValueError(
                f"{file}: duplicate category names {shown(names)}; pass {classes} (your class "
                "list) to choose categories by name"
            )
        for i, c in enumerate(categories):
            if c["id"] in annotated:
                continue
            shift = " (every later class id is one higher for it)" if i < len(names) - 1 else ""
            report.problems.append(
                Problem(
                    "empty_category",
                    file,
                    f"category {c['id']!r} {names[i]!r} has no annotations but takes class id "
                    f"{i}{shift}: pass {classes} (your class list) to match categories by name",
                    names[i],
                )
            )
        return names, tuple(c["id"] for c in categories)
    class_names = list(class_names)
    by_name: dict[str, list] = {}
    for c, name in zip(categories, names, strict=True):
        by_name.setdefault(name, []).append(c["id"])
    if not any(name in by_name for name in class_names):
        raise ValueError(
            f"{file}: none of the classes {shown(class_names)} is a category of the file "
            f"(its categories: {shown(names)}): wrong class list?"
        )
    category_ids = []
    for name in class_names:
        ids = by_name.get(name, [])
        if len(ids) > 1:
            raise ValueError(f"{file}: categories {ids} are all named {name!r}")
        if not ids:
            report.problems.append(
                Problem(
                    "missing_category",
                    file,
                    f"class {name!r} is not a category of the file: no objects of it",
                    name,
                )
            )
        category_ids.append(ids[0] if ids else None)
    return class_names, tuple(category_ids)
