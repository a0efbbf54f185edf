"""Soak: ten minutes of mixed traffic at a steady rate against `salesmachine serve`, on SQLite
and PostgreSQL, printing the server's memory and open files as they go (issue 9).

The same load as the test suite's short run (server/tests/reliability/test_steady_load.py):
single calls and batches with messageIds, one request in ten a read, one in ten on a new
connection. Afterwards every acknowledged message is checked in the database, exactly once.

    .venv/bin/python bench/soak.py                       # 10 minutes per engine
    .venv/bin/python bench/soak.py --minutes 1 --engines sqlite

Exit status 1 when a request failed, a message was lost or duplicated, or memory or open files
grew past the bounds after the warm-up (printed with the figures).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

import pytest  # noqa: E402 - tests.support reports a missing PostgreSQL through pytest.skip

from tests.reliability.steady import LoadReport, Sample, run_steady_load  # noqa: E402
from tests.reliability.traffic import check_store  # noqa: E402
from tests.support import ServerProcess, make_project, postgres_database  # noqa: E402

MAX_RSS_GROWTH_MIB = 48
MAX_OPEN_FILES_GROWTH = 8


@contextlib.contextmanager
def database(engine: str, workdir: Path) -> Iterator[str | None]:
    if engine == "sqlite":
        yield f"sqlite:///{workdir}/soak.db"
        return
    try:
        with postgres_database() as url:
            yield url
    except pytest.skip.Exception as exc:
        print(f"postgresql: skipped ({exc})")
        yield None


def soak(engine: str, minutes: float, threads: int, rate: float, workdir: Path) -> bool:
    with database(engine, workdir) as url:
        if url is None:
            return True
        project, secret = make_project(url)
        server = ServerProcess(url, workdir / f"{engine}-server.log").start()
        assert server.process is not None
        print(f"\n{engine}: {minutes:g} min, {threads} clients x {rate:g} requests/s, server pid {server.process.pid}")

        def show(sample: Sample) -> None:
            print(f"  {sample.at:6.0f} s  RSS {sample.rss_kib / 1024:7.1f} MiB  open files {sample.open_files:3d}"
                  f"  requests {sample.requests}", flush=True)

        try:
            report = run_steady_load(server.base_url, server.process.pid, project.token, secret,
                                     seconds=minutes * 60, warmup=min(60.0, minutes * 10), threads=threads,
                                     rate=rate, sample_every=10.0, prefix=f"soak-{engine}", on_sample=show)
        finally:
            exit_code = server.stop()
        return verdict(engine, report, url, project.id, exit_code)


def verdict(engine: str, report: LoadReport, url: str, project_id: int, exit_code: int | None) -> bool:
    check = check_store(url, project_id, report.outcome)
    growth_mib = report.rss_growth_kib() / 1024
    problems = []
    if report.errors():
        problems.append(f"errors {report.errors()}")
    if report.outcome.surprises:
        problems.append(f"unexpected answers, e.g. {report.outcome.surprises[:3]}")
    if check.missing or check.duplicated:
        problems.append(f"{len(check.missing)} acknowledged messages missing, {len(check.duplicated)} duplicated")
    if growth_mib > MAX_RSS_GROWTH_MIB:
        problems.append(f"RSS grew {growth_mib:.1f} MiB after the warm-up (bound {MAX_RSS_GROWTH_MIB})")
    if report.open_files_growth() > MAX_OPEN_FILES_GROWTH:
        problems.append(f"open files grew by {report.open_files_growth()} (bound {MAX_OPEN_FILES_GROWTH})")
    if exit_code != 0:
        problems.append(f"the server exited with {exit_code} on SIGTERM")
    print(f"{engine}: {report.summary()}")
    print(f"{engine}: {check.acknowledged} messages acknowledged, all stored exactly once"
          if not (check.missing or check.duplicated) else f"{engine}: STORE CHECK FAILED")
    print(f"{engine}: RSS growth after warm-up {growth_mib:+.1f} MiB; "
          + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
    return not problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="per engine (default 10)")
    parser.add_argument("--engines", default="sqlite,postgresql", help="comma-separated (default both)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--rate", type=float, default=12.0, help="requests per second per client (default 12)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="salesmachine-soak-"))
    os.environ.setdefault("SALESMACHINE_KEY_FILE", str(workdir / "server.key"))
    results = [soak(engine, args.minutes, args.threads, args.rate, workdir)
               for engine in args.engines.split(",") if engine]
    print(f"\nlogs in {workdir}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
