"""Measure a detector's mAP (and a pose model's keypoint AP) on a split.

The same program as ``centernet val`` (centernet_keras/commands/val.py); ``--help`` lists
its options with their defaults.
"""

import sys

from centernet_keras.commands.val import main
from centernet_keras.console import interruptible

if __name__ == "__main__":
    sys.exit(interruptible(main))  # Ctrl-C: one line, exit 130
