"""Train a detector (CenterNet, CenterNet pose or FCOS) on annotation lines or COCO JSON.

The same program as ``centernet train`` (centernet_keras/commands/train.py); ``--help`` lists
its options with their defaults.
"""

import sys

from centernet_keras.commands.train import main
from centernet_keras.console import interruptible

if __name__ == "__main__":
    sys.exit(interruptible(main))  # Ctrl-C: one line, exit 130
