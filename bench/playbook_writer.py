"""6. The write path with ten enabled event playbooks, beside the same write path with none.

Playbooks' event triggers cost the write path one indexed look per project per group commit at
the event names its enabled playbooks listen to, and an inbox row per event that one of them
listens to (server/src/salesmachine_server/store/write/trigger_inbox.py). Measured as
bench/writer_cpu.py measures the writer: scenario 1's batch bodies (70 events of ten names,
20 pageviews, 10 profile updates per batch), committed in groups of 8 straight through
ingest.group_commit.commit_group, items per second of the committing thread's CPU (steadier than
wall time on a shared machine). Two fresh databases, one with ten enabled event playbooks (one
listening to `invoice_paid`, a tenth of the events, as a `payment_failed` playbook would; nine to
names the workload never sends), one with none, measured in alternating rounds; the figure is
the median of each. Target: with playbooks at least 90% of without.

    .venv/bin/python bench/playbook_writer.py sqlite|postgres [--seconds 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

import harness

TARGET_SHARE = 0.9
LISTENED = ["invoice_paid"] + [f"never_sent_{i}" for i in range(9)]
DATABASES = {"none": "salesmachine_bench_playbooks_none", "ten": "salesmachine_bench_playbooks_ten"}


def playbook(event: str) -> dict[str, Any]:
    return {
        "name": f"On {event}",
        "enrollment": "every_time",
        "trigger": {"type": "event", "event": event},
        "actions": [
            {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_bench_1234"},
            {"type": "task", "title": "Look at {{account.name}}", "due_in_days": 2},
        ],
    }


def _database(engine: str, which: str) -> str:
    return harness.fresh_sqlite(f"playbooks-{which}") if engine == "sqlite" else harness.fresh_postgres(DATABASES[which])


def measure(engine: str, bodies_file: Path, seconds: float = 4.0, rounds: int = 5, group: int = 8) -> dict[str, Any]:
    from salesmachine_server.domain.messages import parse_item
    from salesmachine_server.domain.playbooks import parse_playbook
    from salesmachine_server.ingest.group_commit import Submission, commit_group
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.db.migrate import migrate
    from salesmachine_server.store.records.playbooks import create_playbook
    from salesmachine_server.store.records.projects import create_project

    bodies = [orjson.loads(line) for line in bodies_file.read_bytes().splitlines()[:400]]
    setups = {}
    for which in ("none", "ten"):
        engines = open_engines(_database(engine, which))
        migrate(engines)
        project, _ = create_project(engines.writer, "bench", b"k" * 32)
        if which == "ten":
            for event in LISTENED:
                create_playbook(engines.writer, project.id, parse_playbook(playbook(event)))
        setups[which] = (engines, project.id)
    rates: dict[str, list[float]] = {"none": [], "ten": []}
    position = 0
    try:
        for round_number in range(rounds):
            # Each round in the other order: neither side is always the warmer one.
            for which in ("none", "ten") if round_number % 2 == 0 else ("ten", "none"):
                engines, project_id = setups[which]
                items, cpu, wall = 0, 0.0, 0.0
                while wall < seconds:  # only commit_group() is timed, as in bench/writer_cpu.py
                    submissions = []
                    for _ in range(group):
                        now = datetime.now(timezone.utc).replace(tzinfo=None)
                        body = bodies[position % len(bodies)]
                        position += 1
                        submissions.append(Submission(project_id, now, [parse_item(i, "batch", now) for i in body]))
                        items += len(body)
                    started, cpu0 = time.perf_counter(), time.thread_time()
                    commit_group(engines, submissions)
                    wall += time.perf_counter() - started
                    cpu += time.thread_time() - cpu0
                rates[which].append(items / cpu)
        inbox = _count(setups["ten"][0], "trigger_inbox")
    finally:
        for engines, _ in setups.values():
            engines.dispose()
        if engine == "postgres":
            for name in DATABASES.values():
                harness.drop_postgres(name)
    none, ten = statistics.median(rates["none"]), statistics.median(rates["ten"])
    return {
        "none": none,
        "ten": ten,
        "share": ten / none,
        "rounds": rates,
        "inbox_rows": inbox,
        "met": ten / none >= TARGET_SHARE,
        "command": f".venv/bin/python bench/playbook_writer.py {engine} --seconds {seconds:g} --rounds {rounds}",
    }


def _count(engines: Any, table: str) -> int:
    from sqlalchemy import text

    with engines.reader.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bodies = harness.CACHE / "bodies-batch.ndjson"
    if not bodies.exists():
        import workload

        harness.CACHE.mkdir(exist_ok=True)
        workload.write_batches(bodies, 1000)
    found = measure(args.engine, bodies, args.seconds, args.rounds)
    print(
        f"{args.engine}: none {found['none']:,.0f} items/s of CPU, ten playbooks {found['ten']:,.0f} "
        f"({found['share']:.1%}; target at least {TARGET_SHARE:.0%}); {found['inbox_rows']:,} inbox rows",
        flush=True,
    )
    sys.exit(0 if found["met"] else 1)


if __name__ == "__main__":
    main()
