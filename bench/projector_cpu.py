"""The projector's cost per item, without HTTP: a journal filled with the write-path bodies
(bench/workload.py), then applied to a fresh store by `Projector.run`, as `serve` runs it.
Prints items/s of wall time and of the process's CPU (steadier on a loaded machine),
with where the time went when asked. For A/B runs while making the projector faster.

    .venv/bin/python bench/projector_cpu.py sqlite|postgres [--items 200000] [--single]
                                            [--group 20000] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

from salesmachine_server.domain.messages import MessageKind, parse_item
from salesmachine_server.domain.enrichment import NOTHING
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.ingest.journal import Journal
from salesmachine_server.ingest.journal_append import entries_of
from salesmachine_server.project.projector import Projector
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.projects import create_project
from salesmachine_server.supervisor import collect_less

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import workload  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
PG_DB = os.environ.get("BENCH_PROJECTOR_DATABASE", "salesmachine_bench_projector_cpu")


def bodies(single: bool) -> list[list[dict[str, object]]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    if single:
        path = CACHE / "bodies-single.ndjson"
        workload.write_singles(path, 20_000)
        return [[orjson.loads(line)] for line in path.read_bytes().splitlines()]
    path = CACHE / "bodies-batch.ndjson"
    workload.write_batches(path, 1000)
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def fill(journal: Journal, project_id: int, requests: list[list[dict[str, object]]], items: int, single: bool) -> int:
    """Append requests as the workers would (16 to an append, the group a worker appends under
    64 connections of single events; one entry for them all) until `items` items wait."""
    appended, i, pending = 0, 0, []
    while appended < items:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        body = requests[i % len(requests)]
        i += 1
        messages = [parse_item(item, "event" if single else "batch", now) for item in body]
        for message in messages:  # as the door's enrichment leaves an event with nothing to look up
            if message.kind == MessageKind.EVENT:
                message.enrichment = NOTHING
        pending.append(Submission(project_id, now, messages))
        appended += len(messages)
        if len(pending) == 16:
            journal.append(entries_of(pending))
            pending = []
    if pending:
        journal.append(entries_of(pending))
    return appended


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["sqlite", "postgres"])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--group", type=int, default=Settings().projector_group_items)
    parser.add_argument("--single", action="store_true", help="single-event requests, one entry each")
    parser.add_argument("--profile", help="write a cProfile of the applying to this file")
    args = parser.parse_args()
    requests = bodies(args.single)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/p.db" if args.engine == "sqlite" else harness.fresh_postgres(PG_DB)
        engines = open_engines(url)
        migrate(engines)
        project, _ = create_project(engines.writer, "bench", b"k" * 32)
        journal = Journal(Path(tmp) / "p.journal.sqlite")
        items = fill(journal, project.id, requests, args.items, args.single)
        settings = Settings(database_url=url, projector_group_items=args.group)
        projector = Projector(settings, engines, journal)
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        # As `serve` runs it, told to stop once the journal is empty; its garbage collected as
        # in a process of `serve` (supervisor.py).
        projector.stopping = True
        gc.freeze()
        collect_less()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.setblocking(False)
        wall0, cpu0, postgres0 = time.perf_counter(), time.process_time(), harness.system_cpu()["postgres"]
        applying0 = time.thread_time()
        projector.run(listener)
        wall, cpu, applying = time.perf_counter() - wall0, time.process_time() - cpu0, time.thread_time() - applying0
        postgres = harness.system_cpu()["postgres"] - postgres0
        if profiler is not None:
            profiler.disable()
        engines.dispose()
        if args.engine == "postgres":
            harness.drop_postgres(PG_DB)
    if profiler is not None:
        profiler.dump_stats(args.profile)
    print(f"{args.engine}{' single' if args.single else ''}: {items:,} items in groups of up to {args.group:,}, {wall:.1f} s: "
          f"{items / wall:,.0f} items/s wall, {items / cpu:,.0f} items/s of CPU (all threads) "
          f"({1e6 * cpu / items:.1f} µs of CPU per item, {1e6 * applying / items:.1f} of them the applying thread's"
          + (f"; PostgreSQL's own: {1e6 * postgres / items:.1f} µs" if args.engine == "postgres" else "") + ")",
          flush=True)


if __name__ == "__main__":
    main()
