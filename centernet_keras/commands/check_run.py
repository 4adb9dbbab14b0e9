"""Running ``centernet check`` (``commands/check.py`` holds its flags): read the data as train
does, build the detector (no weights: geometry only), examine, print, draw, exit code."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from centernet_keras.backbones import WeightsUnavailableError
from centernet_keras.commands.train_run import config_from_args
from centernet_keras.doctor.examine import examine
from centernet_keras.doctor.plot import write_report
from centernet_keras.training.data import load_training_data
from centernet_keras.training.model_setup import build_model

#: The report picture in ``--output-dir``.
REPORT = "data_report.png"


def run(args: argparse.Namespace) -> int:
    """Check the data of the parsed flags; 0 clean, 1 failing findings, 2 usage error."""
    try:
        config = config_from_args(args)
        model_settings = dataclasses.replace(config.model, weights=None, model_path=None)
        config = dataclasses.replace(config, model=model_settings)
        data = load_training_data(config)
        model = build_model(config, data.class_names, data.keypoint_spec)
    except (ValueError, OSError, WeightsUnavailableError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    splits = {"training": data.train, "validation": data.val}
    result = examine(model, splits, data.class_names, config.max_objects, args.max_images)
    settings = config.model
    print(
        f"check: {settings.detector} at {settings.input_size[1]}x{settings.input_size[0]} "
        f"({settings.image_resize}), finest stride {result.stride}; {data.source}"
    )
    print(result.tables())
    path = write_report(Path(args.output_dir) / REPORT, result.surveys, data.class_names,
                        result.stride)  # fmt: skip
    failing = [f"{split}: {f.line()}" for split, found in result.found.items()
               for f in found if f.fails]  # fmt: skip
    print(f"\nwrote {path}")
    if failing:
        print("FAIL (exit 1): " + "; ".join(failing))
        return 1
    print("OK: no finding that would silently hurt training")
    return 0
