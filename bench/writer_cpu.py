"""The group commit's CPU per item, without HTTP: the batch bodies of scenario 1 parsed once, then
committed in groups of 8 requests (what group commit forms under 16 connections) straight
through ingest.group_commit.commit_group on a fresh database. Prints items/s of wall time and of the
committing thread's CPU time (the latter is steadier on a loaded machine). For A/B runs while tuning.

    .venv/bin/python bench/writer_cpu.py sqlite|postgres [--seconds 10]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
from sqlalchemy import create_engine, text

from salesmachine_server.domain.messages import parse_item
from salesmachine_server.ingest.group_commit import Submission, commit_group
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.projects import create_project
HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Another name (BENCH_WRITER_DATABASE) keeps two checkouts measuring at once on one PostgreSQL apart.
PG_DB = os.environ.get("BENCH_WRITER_DATABASE", "salesmachine_bench_writer_cpu")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--single", action="store_true",
                        help="single-event requests (scenario 2's bodies), one event per submission")
    parser.add_argument("--profile", help="write a cProfile of the commits to this file")
    args = parser.parse_args()
    if args.single:
        lines = (HERE / ".cache/bodies-single.ndjson").read_bytes().splitlines()[:4000]
        bodies = [[orjson.loads(line)] for line in lines]
    else:
        bodies = [orjson.loads(line) for line in (HERE / ".cache/bodies-batch.ndjson").read_bytes().splitlines()[:400]]
    with tempfile.TemporaryDirectory() as tmp:
        if args.engine == "sqlite":
            url = f"sqlite:///{tmp}/w.db"
        else:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {PG_DB}"))
                c.execute(text(f"CREATE DATABASE {PG_DB}"))
            url = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
        engines = open_engines(url)
        migrate(engines)
        project, _ = create_project(engines.writer, "bench", b"k" * 32)
        items, wall, cpu, i, commits = 0, 0.0, 0.0, 0, 0
        profiler = cProfile.Profile() if args.profile else None
        while wall < args.seconds:  # only commit_group() is timed: parsing is the event loop's work
            group = []
            for _ in range(args.group):
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                body = bodies[i % len(bodies)]
                i += 1
                kind = "event" if args.single else "batch"
                group.append(Submission(project.id, now, [parse_item(item, kind, now) for item in body]))
                items += len(body)
            start, cpu0 = time.perf_counter(), time.thread_time()
            if profiler is not None:
                profiler.enable()
            commit_group(engines, group)
            if profiler is not None:
                profiler.disable()
            wall, cpu = wall + time.perf_counter() - start, cpu + time.thread_time() - cpu0
            commits += 1
        engines.dispose()
    if profiler is not None:
        profiler.dump_stats(args.profile)
    print(f"{args.engine}: {items} items in {wall:.1f} s: {items / wall:,.0f} items/s wall, "
          f"{items / cpu:,.0f} items/s of CPU; {commits} commits, {1000 * wall / commits:.2f} ms each", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
