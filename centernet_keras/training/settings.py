"""A training setting declared once: a config dataclass field whose metadata also holds its
``train`` flag (help, flag name, argparse type, choices or action).

``commands/train.py`` generates its setting flags from these fields, ``training.config``
derives from them the flat keys (``FLAT_KEYS``: the flags' destinations, the keys of a flat
``--config`` JSON) and how messages name each setting (``flag_name``). A field without a help
has no flag: it is set in a ``--config`` JSON. Plain data: ``train --help`` reads it before
Keras loads.

Metadata keys (written by :func:`setting`; ``data.augment_config`` writes them by hand):

- ``help``: the flag's help; ``train --help`` appends the field's default unless the help
  speaks of it (or the default is ``None``, or the flag a switch).
- ``flag``: the flag, when not ``--`` + the flat key with dashes (``--classes``).
- ``key``: the flat key, when not the field's name (``augment`` for ``augment.enabled``).
- ``type``, ``choices`` (a sequence, or a function returning one when the parser is built),
  ``action``, ``metavar``: passed to ``argparse``'s ``add_argument``.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def setting(default: Any = dataclasses.MISSING, *, help: str | None = None, **flag: Any) -> Any:
    """A dataclass field with a ``default`` and, given a ``help``, its ``train`` flag.

    Args:
        default: the field's default.
        help: the flag's help (``None``: no flag; the setting is a ``--config`` key).
        **flag: ``flag``, ``key``, ``type``, ``choices``, ``action``, ``metavar`` (module doc).
    """
    metadata = {"help": help, **flag} if help is not None else dict(flag)
    return dataclasses.field(default=default, metadata=metadata)


def flat_key(spec: dataclasses.Field) -> str:
    """The setting's flat key: the flag's destination and its key in a flat config."""
    return spec.metadata.get("key", spec.name)


def flag_of(spec: dataclasses.Field, key: str) -> str:
    """How messages name the setting of field ``spec`` (sectioned key ``key``, e.g.
    ``model.image_resize``): its ``train`` flag (``--resize``), else its ``--config`` key
    (``augment.jitter (--config)``)."""
    if "help" not in spec.metadata:
        return f"{key} (--config)"
    return spec.metadata.get("flag", "--" + flat_key(spec).replace("_", "-"))


def comma_ints(text: str) -> list[int]:
    """A flag's comma-separated whole numbers: ``"256,128,64"`` → ``[256, 128, 64]``."""
    return [int(v) for v in text.split(",") if v.strip()]
