"""The write path's throughput of this tree against another (a `git worktree` of the commit before
a change), measured as bench/results/tuning.md does: bench/writer_cpu.py (the group commit alone,
on bodies parsed beforehand, a fresh database each run) with each tree's `server/src` first on
PYTHONPATH, the variants alternating, rounds' medians. Items per second of the writer thread's
CPU time is the figure (a loaded machine disturbs it far less than wall time, which is shown too).

    git worktree add --detach /tmp/base <commit>
    .venv/bin/python bench/writer_ab.py /tmp/base [--rounds 3] [--seconds 10] [--engines sqlite,postgres]

Prints one line per run and a markdown table of the medians, this tree against the other.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LINE = re.compile(r"([\d,]+) items/s wall, ([\d,]+) items/s of CPU")


def run(tree: Path, engine: str, seconds: float, single: bool) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree / "server" / "src")}
    command = [sys.executable, str(HERE / "writer_cpu.py"), engine, "--seconds", str(seconds)]
    if single:
        command += ["--single", "--group", "32"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    found = LINE.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(command)} in {tree}: {done.stdout}{done.stderr}")
    wall, cpu = (float(x.replace(",", "")) for x in found.groups())
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path, help="the other tree (a worktree of the commit before)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--single", action="store_true", help="single-event requests in groups of 32")
    args = parser.parse_args()
    trees = {"before": args.base.resolve(), "after": ROOT}
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for engine in args.engines.split(","):
        for round_ in range(args.rounds):
            # Alternate which variant goes first, so that a trend in the machine's load favours neither.
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for name in order:
                wall, cpu = run(trees[name], engine, args.seconds, args.single)
                results.setdefault((engine, name), []).append((wall, cpu))
                print(f"{engine} round {round_ + 1} {name}: {cpu:,.0f} items/CPU-s, {wall:,.0f} items/s wall", flush=True)
    kind = "single-event requests, groups of 32" if args.single else "batches of 100 items, groups of 8"
    print(f"\n| engine ({kind}) | before: items/CPU-s (wall) | after: items/CPU-s (wall) | after / before (CPU) |")
    print("|---|---|---|---|")
    for engine in args.engines.split(","):
        before = results[(engine, "before")]
        after = results[(engine, "after")]
        b_cpu, a_cpu = statistics.median(c for _, c in before), statistics.median(c for _, c in after)
        b_wall, a_wall = statistics.median(w for w, _ in before), statistics.median(w for w, _ in after)
        print(f"| {engine} | {b_cpu:,.0f} ({b_wall:,.0f}) | {a_cpu:,.0f} ({a_wall:,.0f}) | {a_cpu / b_cpu:.3f} |")


if __name__ == "__main__":
    main()
