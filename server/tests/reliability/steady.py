"""Mixed traffic at a steady rate against a running server, watching its memory and open
files from /proc: the short run of `make test` (test_steady_load.py) and the long one of
`make bench` (bench/soak.py) are this one function with different durations."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.reliability.probes import open_files, rss_kib
from tests.reliability.traffic import Outcome, Traffic


@dataclass
class Sample:
    at: float  # seconds since the start
    rss_kib: int
    open_files: int
    requests: int


@dataclass
class LoadReport:
    seconds: float
    warmup: float
    outcome: Outcome
    samples: list[Sample] = field(default_factory=list)

    def after_warmup(self) -> list[Sample]:
        return [s for s in self.samples if s.at >= self.warmup]

    def rss_growth_kib(self) -> int:
        """Resident memory at the end over what it was when the warm-up ended."""
        steady = self.after_warmup()
        return steady[-1].rss_kib - steady[0].rss_kib

    def open_files_growth(self) -> int:
        steady = self.after_warmup()
        return max(s.open_files for s in steady) - steady[0].open_files

    def errors(self) -> dict[str, int]:
        """Every answer that is not a success, and every request not answered."""
        return {status: n for status, n in self.outcome.statuses.items() if not status.startswith("2")}

    def summary(self) -> str:
        steady = self.after_warmup()
        requests = self.outcome.statuses.total()
        return (
            f"{self.seconds:.0f} s: {requests} requests ({requests / self.seconds:.1f}/s), "
            f"{len(self.outcome.acknowledged)} messages acknowledged, errors {self.errors() or 'none'}; "
            f"RSS {steady[0].rss_kib / 1024:.1f} -> {steady[-1].rss_kib / 1024:.1f} MiB "
            f"(max {max(s.rss_kib for s in steady) / 1024:.1f}); "
            f"open files {steady[0].open_files} -> {steady[-1].open_files} (max {max(s.open_files for s in steady)})"
        )


def run_steady_load(
    base_url: str,
    pid: int,
    token: str,
    secret: str,
    *,
    seconds: float,
    warmup: float,
    threads: int = 4,
    rate: float = 12.0,
    sample_every: float = 1.0,
    prefix: str = "steady",
    on_sample=None,  # type: ignore[no-untyped-def]
) -> LoadReport:
    """`threads` clients at `rate` requests a second each: single calls, batches and reads
    (one in ten), one request in ten on a new connection so that sockets come and go."""
    traffic = Traffic(
        base_url,
        token,
        prefix=prefix,
        threads=threads,
        seed=11,
        rate=rate,
        secret=secret,
        read_share=0.1,
        close_every=10,
    ).start()
    report = LoadReport(seconds, warmup, Outcome())
    started = time.monotonic()
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            sample = Sample(elapsed, rss_kib(pid), open_files(pid), traffic.outcome().statuses.total())
            report.samples.append(sample)
            if on_sample is not None:
                on_sample(sample)
            time.sleep(min(sample_every, max(0.0, seconds - elapsed)))
    finally:
        report.outcome = traffic.stop()
    report.samples.append(
        Sample(time.monotonic() - started, rss_kib(pid), open_files(pid), report.outcome.statuses.total())
    )
    return report
