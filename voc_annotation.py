"""Prepare a PASCAL VOC dataset for training: split it and write the annotation-line files.

    python voc_annotation.py --voc-root VOCdevkit --year 2007 --classes model_data/voc_classes.txt

The same program as ``centernet convert voc`` (centernet_keras/commands/convert.py; --help).
"""

import sys

from centernet_keras.commands.convert import voc_main
from centernet_keras.console import interruptible


def main(argv: list[str] | None = None) -> int:
    return voc_main(argv)


if __name__ == "__main__":
    sys.exit(interruptible(main))  # Ctrl-C: one line, exit 130
