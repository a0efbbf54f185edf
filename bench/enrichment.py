"""What enrichment costs batch ingestion: the batch scenario with enrichment on and off.

    .venv/bin/python bench/enrichment.py                       # SQLite, 3 rounds of 15 s each way
    .venv/bin/python bench/enrichment.py --engines sqlite,postgres --rounds 5 --seconds 20
    .venv/bin/python bench/enrichment.py --before-src /tmp/old/server/src   # also: code before enrichment

The bodies are those of scenario 1 (workload.py: 100 items, 70 events, 20 pageviews, 8 contact
and 2 account updates), with what a browser-fed installation sends: every pageview carries a
`visit_ip` and a `visit_agent`, half of the events a `visit_ip`; addresses are drawn from 20,000
public ones and agents from 300 (real browsers' strings with varied versions), so the caches
(65,536 addresses, 16,384 agents) see repeats as real traffic does, after a first miss each.

First, in this process, the CPU time enrichment adds per item (the same items: cold caches on
the first pass, warm after), a figure the machine's load does not move. Then each round runs a
fresh database per setting, alternating on and off so that a change in the
machine's load hits both; the figure per setting is the median of its rounds. With
`--before-src`, a third setting runs `salesmachine serve` from another source tree (a checkout
of the commit before enrichment: no enrichment columns at all). Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import workload  # noqa: E402

ADDRESSES = 20_000
AGENTS = 300
PREFIXES = ["8.8", "81.2", "193.0", "200.160", "202.12", "151.101", "185.60", "62.4", "212.58", "77.88", "1.0",
            "104.16", "172.217", "31.13", "91.198", "5.255"]
TEMPLATES = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{p} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{p} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{p} "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 "
    "Edg/{v}.0.{b}.{p}",
]


def pools(rng: random.Random) -> tuple[list[str], list[str]]:
    addresses = [f"{rng.choice(PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(ADDRESSES)]
    agents = [rng.choice(TEMPLATES).format(v=rng.randrange(100, 131), b=rng.randrange(4000, 7000), p=rng.randrange(10))
              for _ in range(AGENTS)]
    return addresses, agents


def with_visits(batch: list[dict[str, Any]], rng: random.Random, addresses: list[str],
                agents: list[str]) -> list[dict[str, Any]]:
    for item in batch:
        params = item.get("params")
        if item["method"] == "pageview":
            params["visit_ip"] = rng.choice(addresses)
            params["visit_agent"] = rng.choice(agents)
        elif item["method"] == "event" and rng.random() < 0.5:
            params["visit_ip"] = rng.choice(addresses)
    return batch


def write_bodies(path: Path, count: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    addresses, agents = pools(rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(orjson.dumps(with_visits(workload.batch(rng), rng, addresses, agents))
                                for _ in range(count)) + b"\n")


def cpu_per_item(bodies: Path) -> dict[str, float]:
    """Microseconds per item of parsing an item, and of enriching it after (cold, then warm)."""
    from datetime import datetime

    from salesmachine_server.enrich.events import enricher_from
    from salesmachine_server.domain.messages import parse_item
    from salesmachine_server.settings import Settings
    items = [item for line in bodies.read_bytes().splitlines() if line for item in orjson.loads(line)]
    enricher = enricher_from(Settings())
    now = datetime(2026, 1, 1)

    def run(enrich: bool) -> float:
        started = time.perf_counter()
        for item in items:
            message = parse_item(orjson.loads(orjson.dumps(item)), "batch", now)
            if enrich and message.kind == "event":
                message.enrichment = enricher.event(message.params)
        return (time.perf_counter() - started) / len(items) * 1e6

    cold = run(True)
    parse = min(run(False) for _ in range(3))
    warm = min(run(True) for _ in range(3))
    return {"items": len(items), "parse_us": parse, "enrich_cold_us": cold - parse, "enrich_warm_us": warm - parse}


def commit_loop(engine: str, setting: str, bodies: Path, batches: int) -> tuple[float, float]:
    """(items per CPU second, items per wall second) of this process applying batches straight
    through the write path's parse, enrichment and group commit (no HTTP): SQLite's own work is
    in this process, so its CPU time is the whole cost and other processes' load matters less."""
    from salesmachine_server.enrich.events import enricher_from
    from salesmachine_server.domain.messages import parse_item
    from salesmachine_server.ingest.group_commit import Submission, commit_group
    from salesmachine_server.settings import Settings
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.db.migrate import migrate
    from salesmachine_server.store.records.projects import create_project, utcnow
    url = fresh(engine, f"enrich_loop_{setting}")
    engines = open_engines(url)
    migrate(engines)
    project, _ = create_project(engines.writer, "bench", harness.SERVER_KEY.encode())
    enricher = enricher_from(Settings(), enabled=setting == "on")
    lines = [line for line in bodies.read_bytes().splitlines() if line][:batches]
    cpu, wall = time.process_time(), time.perf_counter()
    for line in lines:
        now = utcnow()
        messages = []
        for item in orjson.loads(line):
            message = parse_item(item, "batch", now)
            if message.kind == "event":
                message.enrichment = enricher.event(message.params)
            messages.append(message)
        commit_group(engines, [Submission(project.id, now, messages)])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    engines.dispose()
    if engine == "postgres":
        harness.drop_postgres(f"salesmachine_bench_enrich_loop_{setting}")
    items = len(lines) * workload.BATCH_ITEMS
    return items / cpu, items / wall


def server(name: str, url: str, setting: str, before_src: str | None) -> harness.Server:
    port = harness.free_port()
    env = harness.server_env(SALESMACHINE_ENRICHMENT="off" if setting == "off" else "on")
    argv = [harness.SALESMACHINE, "serve", "--host", "127.0.0.1", "--port", str(port), "--database", url]
    if setting == "before":
        env["PYTHONPATH"] = before_src or ""
        argv = [sys.executable, "-m", "salesmachine_server", *argv[1:]]
    return harness.Server(name, argv, port, env)


def fresh(engine: str, name: str) -> str:
    return harness.fresh_sqlite(name) if engine == "sqlite" else harness.fresh_postgres(f"salesmachine_bench_{name}")


def one_run(engine: str, setting: str, bodies: Path, args: argparse.Namespace) -> tuple[float, float]:
    """(items per second, items per second of the server's CPU: its process's user and system
    time, which another process's load moves much less than the wall-clock rate)."""
    name = f"enrich-{engine}-{setting}".replace("-", "_")
    url = fresh(engine, name)
    if setting == "before":  # migrate and create the project with the old code too
        env = {**harness.server_env(), "PYTHONPATH": args.before_src}
        import subprocess

        for command in (["migrate"], ["projects", "create", "bench", "--json"]):
            done = subprocess.run([sys.executable, "-m", "salesmachine_server", *command, "--database", url], env=env,
                                  cwd=harness.CACHE, capture_output=True, text=True, check=True)
        project = orjson.loads(done.stdout)
    else:
        project = harness.create_project(url)
    with server(name, url, setting, args.before_src) as running:
        time.sleep(1)
        assert running.process is not None
        pids = harness.process_tree(running.process.pid)
        cpu = harness.cpu_seconds(pids)
        result = harness.wrk(f"{running.url}/v1/batch", "write.lua",
                             [str(bodies), harness.basic(project["token"]), f'"accepted":{workload.BATCH_ITEMS}'],
                             args.connections, args.seconds)
        cpu = harness.cpu_seconds(pids) - cpu
    if engine == "postgres":
        harness.drop_postgres(f"salesmachine_bench_{name}")
    if result.failures:
        raise RuntimeError(f"{result.failures} failed requests with enrichment {setting}")
    items = result.data["ok"] * workload.BATCH_ITEMS
    return result.ok_per_second * workload.BATCH_ITEMS, items / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--cpu-only", action="store_true", help="only the in-process figure")
    parser.add_argument("--loop", type=int, metavar="BATCHES",
                        help="instead of wrk: commit this many batches in process, CPU time measured")
    parser.add_argument("--before-src", help="a server/src of the code before enrichment, to run beside it")
    args = parser.parse_args()
    bodies = harness.CACHE / "enrichment-batches.ndjson"
    if not bodies.exists():
        write_bodies(bodies, 2000)
    cpu = cpu_per_item(bodies)
    print(f"In process, over {cpu['items']:,} items: parsing {cpu['parse_us']:.1f} us per item (a JSON copy "
          f"included); enrichment adds {cpu['enrich_cold_us']:.1f} us per item with cold caches, "
          f"{cpu['enrich_warm_us']:.1f} us warm", flush=True)
    if args.cpu_only:
        return
    if args.loop:
        for engine in args.engines.split(","):
            figures: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
            for round_ in range(args.rounds):
                for setting in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                    figures[setting].append(commit_loop(engine, setting, bodies, args.loop))
            print(f"\n{engine}: {args.loop:,} batches of 100 items committed one by one, in process, "
                  f"{args.rounds} rounds (median)\n")
            print("| enrichment | items per CPU second | items per second | cost vs off (CPU) |")
            print("|---|---|---|---|")
            off_cpu = statistics.median(c for c, _ in figures["off"])
            for setting, runs in figures.items():
                cpu_rate = statistics.median(c for c, _ in runs)
                print(f"| {setting} | {cpu_rate:,.0f} | {statistics.median(w for _, w in runs):,.0f} | "
                      f"{1 - cpu_rate / off_cpu:+.1%} |")
        return
    settings = ["off", "on"] + (["before"] if args.before_src else [])
    rows = []
    for engine in args.engines.split(","):
        if engine == "postgres" and not harness.postgres_available():
            print("PostgreSQL not reachable: skipped", file=sys.stderr)
            continue
        figures: dict[str, list[tuple[float, float]]] = {s: [] for s in settings}
        for round_ in range(args.rounds):
            for setting in settings if round_ % 2 == 0 else list(reversed(settings)):
                figures[setting].append(one_run(engine, setting, bodies, args))
                rate, per_cpu = figures[setting][-1]
                print(f"{engine} round {round_ + 1} {setting}: {rate:,.0f} items/s, {per_cpu:,.0f} per server "
                      f"CPU second", file=sys.stderr)
        rates = {s: statistics.median(r for r, _ in v) for s, v in figures.items()}
        per_cpu = {s: statistics.median(c for _, c in v) for s, v in figures.items()}
        for setting in settings:
            rows.append(f"| {engine} | {setting} | {rates[setting]:,.0f} | {1 - rates[setting] / rates['off']:+.1%} | "
                        f"{per_cpu[setting]:,.0f} | {1 - per_cpu[setting] / per_cpu['off']:+.1%} | "
                        f"{', '.join(f'{r:,.0f} / {c:,.0f}' for r, c in figures[setting])} |")
    load = os.getloadavg()
    print(f"\nBatch ingestion with enrichment on and off ({args.rounds} rounds of {args.seconds} s, "
          f"{args.connections} connections; load average at the end {load[0]:.1f})\n")
    print("| engine | enrichment | items/s (median) | cost vs off | items per server CPU s (median) | cost vs off "
          "| each round (items/s / per CPU s) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
