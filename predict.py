"""Detect objects with a trained detector: images, folders, video, timing, heatmaps, export.

The same program as ``centernet predict`` (centernet_keras/commands/predict.py); ``--help`` lists
its options with their defaults.
"""

import sys

from centernet_keras.commands.predict import main
from centernet_keras.console import interruptible

if __name__ == "__main__":
    sys.exit(interruptible(main))  # Ctrl-C: one line, exit 130
