"""Seconds each command's ``--help`` takes, from process start to exit (issue 26, point 9).

Runs every ``centernet`` subcommand's ``--help`` (and the top-level scripts') as a fresh
process ``--runs`` times, round-robin so machine drift hits every command alike, and prints one
line per command: the median and the slowest run, in seconds. ``--with-keras`` adds, for scale,
a process that only imports Keras (what every ``--help`` paid before it stopped loading it).
tests/test_cli_help.py checks what ``--help`` imports; this script only times it.

    python bench/help_time.py
    python bench/help_time.py --runs 9 --with-keras
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSOLE = ["-m", "centernet_keras.console"]
COMMANDS = {
    "centernet convert voc --help": [*CONSOLE, "convert", "voc", "--help"],
    "centernet convert coco --help": [*CONSOLE, "convert", "coco", "--help"],
    "centernet train --help": [*CONSOLE, "train", "--help"],
    "centernet val --help": [*CONSOLE, "val", "--help"],
    "centernet predict --help": [*CONSOLE, "predict", "--help"],
    "centernet export --help": [*CONSOLE, "export", "--help"],
    "centernet benchmark --help": [*CONSOLE, "benchmark", "--help"],
    "python train.py --help": ["train.py", "--help"],
    "python get_map.py --help": ["get_map.py", "--help"],
}


def seconds(argv: list[str]) -> float:
    """Wall time of ``python argv...`` run from the repository root (it must exit 0)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--with-keras", action="store_true", help="also time a process that imports Keras"
    )
    args = parser.parse_args()
    commands = dict(COMMANDS)
    if args.with_keras:
        commands["python -c 'import keras' (for scale)"] = ["-c", "import keras"]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(seconds(argv))
    width = max(map(len, commands))
    print(f"{'command':<{width}}  median s  slowest s  ({args.runs} runs, {sys.executable})")
    for name, values in times.items():
        print(f"{name:<{width}}  {statistics.median(values):8.3f}  {max(values):9.3f}")


if __name__ == "__main__":
    main()
