"""Run one benchmark script of this checkout and of an older commit, alternately, and print the
new/old ratio of every timing: ``python bench/compare_commits.py --old REV forward.py [ARGS…]``.

Each side runs in its own process (the two versions of the package cannot share one), in
``--rounds`` alternating pairs (old, new, old, new…), so drift of the machine hits both alike;
the ratio is of the medians over the rounds. The old commit is checked out as a temporary git
worktree. Only options both versions accept can be passed.

    python bench/compare_commits.py --old 11c0975 forward.py --backbones resnet50,dla34
    python bench/compare_commits.py --old 11c0975 --rounds 3 predict.py --no-onnx
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tree: Path, script: str, args: list[str]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / script), *args],
        cwd=tree, env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="alternating pairs of runs")
    parser.add_argument("script", help="a script of bench/, e.g. forward.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old),
                        args.old], check=True)  # fmt: skip
        try:
            runs: dict[str, list[list[dict]]] = {"old": [], "new": []}
            for _ in range(args.rounds):
                for side, tree in (("old", old), ("new", ROOT)):
                    runs[side].append(_run(tree, args.script, args.args))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)])
    for i, row in enumerate(runs["new"][0]):
        report = {"bench": row.get("bench"), "backbone": row.get("backbone"), "old": args.old}
        for key in row:
            if key.endswith("_ms") and all(key in r[i] for r in runs["old"]):
                new = statistics.median(r[i][key] for r in runs["new"])
                before = statistics.median(r[i][key] for r in runs["old"])
                report[key] = {
                    "old": round(before, 2),
                    "new": round(new, 2),
                    "new_over_old": round(new / before, 3),
                }
        report["rounds"] = args.rounds
        print(json.dumps(report))


if __name__ == "__main__":
    main()
