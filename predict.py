"""Detect objects with a trained detector: images, folders, video, timing, heatmaps, export.

The same program as ``centernet predict`` (centernet_keras/commands/predict.py); ``--help`` lists
its options with their defaults.
"""

import sys

from centernet_keras.commands.predict import main

if __name__ == "__main__":
    sys.exit(main())
