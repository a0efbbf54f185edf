"""Where the server's time goes during a scenario: py-spy attached to the server process
(scenarios 1 and 2 on uvicorn; `run.py --no-profile` turns it off), summarised as the functions
with the most samples, by thread: the measured reason behind a target not met.

py-spy samples at 100 Hz without pausing the server (--nonblocking), so its cost is small but
not nil: the figures of a profiled run are marked as such.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from harness import VENV_BIN, relative


class Profiler:
    def __init__(self, pid: int, seconds: int, out: Path) -> None:
        self.out = out
        self.raw = out.with_suffix(".collapsed")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.argv = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
                     "--nonblocking", "--threads", "--format", "raw", "--output", str(self.raw)]
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self, title: str) -> dict[str, object]:
        """Writes the summary; returns where, the threads' shares and the top frames."""
        self.process.wait(timeout=120)
        if not self.raw.exists():
            return {}
        self.out.write_text(summarise(self.raw, title, relative(" ".join(self.argv))))
        threads, own, _ = count(self.raw)
        total = max(1, sum(threads.values()))
        name = lambda frame: frame.split(": ", 1)[-1]  # noqa: E731  "thread (123): writer_0" -> "writer_0"
        return {"path": self.out, "samples": sum(threads.values()),
                "threads": [(name(t), n / total) for t, n in threads.most_common(3)],
                "own": [(f, n / total) for f, n in own.most_common(4)]}


def count(raw: Path) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Samples per thread, per frame on top of the stack (own), per frame anywhere (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        n = int(samples)
        frames = stack.split(";")
        threads[frames[0]] += n
        own[frames[-1]] += n
        for frame in set(frames[1:]):
            inclusive[frame] += n
    return threads, own, inclusive


def summarise(raw: Path, title: str, command: str, top: int = 30) -> str:
    threads, own, inclusive = count(raw)
    total = sum(threads.values())
    lines = [f"# {title}", "", f"`{command}`: {total:,} samples", "", "## Threads", ""]
    lines += [f"- {share(n, total)} {name}" for name, n in threads.most_common()]
    lines += ["", "## Own time (the frame on top of the stack)", ""]
    lines += [f"- {share(n, total)} {name}" for name, n in own.most_common(top)]
    lines += ["", "## Inclusive time (the frame anywhere in the stack)", ""]
    lines += [f"- {share(n, total)} {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def share(n: int, total: int) -> str:
    return f"{100 * n / max(1, total):5.1f}%"
