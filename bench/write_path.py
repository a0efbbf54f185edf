"""The write path through the journal (issue 20): its targets, each beside a limit measured in
the same run, written to bench/results/write-path.md (and write-path.png, the sustained run).

    .venv/bin/python bench/write_path.py [--engines sqlite,postgres] [--only raw,batch,single,sustained,outage]
                                         [--single-rounds 3] [--sustained-seconds 300] [--quick]

Scenarios:
- raw: the issue's raw-insert limit: sqlite3 `executemany` of (project id, contact id, event
  name, params JSON, time) into a table with one index, 5,000 rows per transaction, WAL,
  synchronous=FULL; rows/s. Beside it, for each engine, the store's own limit: the same items
  as rows of the server's `events` table, its indexes included (bench/rawinsert.py: executemany
  on SQLite, COPY on PostgreSQL, 5,000 rows per transaction), the most the projector's one
  writer could insert doing nothing else; the sustained rows compare their load with it.
- batch: wrk, 16 connections, batches of 100 (bench/workload.py), acknowledged items/s; targets
  >= 100,000 items/s and >= 0.5 x raw.
- single: wrk, 64 connections, single events: the bare endpoint (bare_app.py) and the server on
  each engine, one after the other, --single-rounds times (3); the ratio is the median of the
  rounds' ratios, the p99 the median of theirs; target >= 0.5 x bare, p99 < 20 ms.
- sustained: a steady offered load (wrk at a fixed rate whatever the latency, lua/paced.lua) for
  --sustained-seconds, sampling every second the projection lag and journal depth (/metrics)
  and the resident memory of every process of the server; targets: offered >= 50,000 items/s
  on SQLite, 30,000 on PostgreSQL, lag p99 < 2 s, memory flat (last minute within 10% of the
  first minute after warm-up).
- outage: PostgreSQL behind a TCP relay (server/tests/support.py TcpProxy), 5,000 items/s in
  batches of 100 with a messageId each, the relay cut for 60 s: every item acknowledged is in
  the store within 30 s of the return, none twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import rawinsert  # noqa: E402
import workload  # noqa: E402
from harness import BENCH, CACHE, ROOT, RssSampler, basic, wrk  # noqa: E402
from salesmachine_server.settings import Settings  # noqa: E402
from salesmachine_server.supervisor import PROJECTOR_NAME  # noqa: E402

RESULTS = BENCH / "results"
BATCH_TARGET = 100_000
RAW_SHARE = 0.5
SINGLE_BARE_SHARE = 0.5
SINGLE_P99_MS = 20
SUSTAINED_TARGET = {"sqlite": 50_000, "postgres": 30_000}
LAG_P99_TARGET = 2.0
OUTAGE_RATE = 5_000
OUTAGE_SECONDS = 60
OUTAGE_CATCH_UP = 30.0
SCENARIOS = ("raw", "batch", "single", "sustained", "outage")
PROJECTOR_COMM = PROJECTOR_NAME.decode()  # the projector process's name (/proc/PID/comm)
# Seconds of the paced load before the bare insert beside it starts, and after it ends.
UNDER_LOAD_SETTLE = 5
# The items of a batch that become events rows (events and pageviews; bench/workload.py).
EVENT_SHARE = (workload.MIX["event"] + workload.MIX["pageview"]) / workload.BATCH_ITEMS


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(value: float | None, limit: float | None) -> str:
    return "—" if value is None or not limit else f"{value / limit:.2f}"


def database(engine: str, name: str) -> str:
    return harness.fresh_sqlite(name) if engine == "sqlite" else harness.fresh_postgres(f"salesmachine_bench_{name}")


def metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("salesmachine_") and " " in line and "{" not in line:
            name, value = line.split(" ", 1)
            found[name] = float(value)
    return found


def wait_applied(url: str, timeout: float) -> float | None:
    """Seconds until the journal is empty (the projector caught up); None if not within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if metrics(url).get("salesmachine_journal_depth_items", 1) == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def cpu_reason(usage: dict[str, float], wrk_cores: float) -> str:
    """Where the machine's CPU went while a row was measured."""
    steal = usage.get("steal_cores", 0.0)
    ours = usage["server_cores"] + usage["postgres_cores"] + wrk_cores
    other = max(0.0, usage["machine_cores"] - ours - steal)
    said = (f"CPU: the server (workers and projector) {usage['server_cores']:.2f} cores, PostgreSQL "
            f"{usage['postgres_cores']:.2f}, wrk {wrk_cores:.2f}, the machine {usage['machine_cores']:.2f} of "
            f"{os.cpu_count()}" + (f", of which the hypervisor took {steal:.2f} (steal)" if steal >= 0.05 else ""))
    if other > 0.5 or steal >= 0.2:
        return (f"{said}: other processes or machines took {other + steal:.2f} cores, the server got what was "
                f"left; the figure measures the machine's load, not the server's limit")
    return f"{said}: the server's own work per item is the limit on {os.cpu_count()} cores"


def cpu_split(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server's projector, of its other processes (the request workers
    and the supervisor), of PostgreSQL, and of the whole machine (busy jiffies in cores' seconds)."""
    pids = harness.process_tree(server_pid)
    projector = [p for p in pids if _comm(p) == PROJECTOR_COMM]
    busy, _, _ = harness.machine_busy()
    total = harness.cpu_seconds(pids)
    mine = harness.cpu_seconds(projector)
    return {"t": time.monotonic(), "workers": total - mine, "projector": mine,
            "postgres": harness.system_cpu()["postgres"], "machine": busy / os.sysconf("SC_CLK_TCK")}


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cpu_budget(samples: list[dict[str, float]]) -> str:
    """Mean cores each part used over the run (samples of a second each)."""
    if not samples or "workers_cores" not in samples[0]:
        return ""
    mean = {k: statistics.mean(s[f"{k}_cores"] for s in samples) for k in ("workers", "projector", "postgres", "machine")}
    return (f"; CPU on average: request workers {mean['workers']:.2f} cores, projector {mean['projector']:.2f}, "
            f"PostgreSQL {mean['postgres']:.2f}, the machine busy {mean['machine']:.2f} of {os.cpu_count()}")


def after(seconds: float | None, within: float) -> str:
    return f"{seconds:.1f} s" if seconds is not None else f"not within {within:g} s"


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.limits: dict[str, float] = {}
        self.batches_file = CACHE / "bodies-batch.ndjson"
        self.singles_file = CACHE / "bodies-single.ndjson"
        CACHE.mkdir(parents=True, exist_ok=True)
        self.batches = workload.write_batches(self.batches_file, 1000)
        workload.write_singles(self.singles_file, 20_000)
        self.series: dict[str, list[dict[str, float]]] = {}

    def row(self, **row: Any) -> None:
        log(f"{row['scenario']} {row.get('engine', '')}: {row['figure']}")
        row["measured"] = f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {_commit()}"
        self.rows.append(row)

    def keep_earlier_rows(self) -> None:
        """A run of some scenarios keeps the rows of the others from the last results, each
        with when and at which commit it was measured."""
        earlier = RESULTS / "write-path.json"
        if not earlier.exists():
            return
        found = json.loads(earlier.read_text())
        measured = {(r["scenario"], r.get("engine")) for r in self.rows}
        kept = [r for r in found.get("rows", []) if (r["scenario"], r.get("engine")) not in measured]
        self.rows = kept + self.rows
        for engine, samples in found.get("series", {}).items():
            self.series.setdefault(engine, samples)

    # the raw-insert limit ------------------------------------------------------------------

    def raw(self) -> None:
        path = CACHE / "run" / "raw-narrow.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE events (project_id INTEGER, contact_id INTEGER, name TEXT, params TEXT, at TEXT)")
        conn.execute("CREATE INDEX ix_events_contact ON events (project_id, contact_id, at)")
        rows = [
            (1, int(item.get("contact_uid", "c0")[1:]), item.get("event_uid", item["method"]),
             json.dumps(item.get("params", {})), "2026-12-05 10:00:00.000000")
            for batch in self.batches for item in batch
        ]
        written, started = 0, time.monotonic()
        while time.monotonic() - started < self.args.raw_seconds:
            for start in range(0, len(rows), 5000):
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", rows[start:start + 5000])
                conn.execute("COMMIT")
                written += len(rows[start:start + 5000])
        rate = written / (time.monotonic() - started)
        conn.close()
        self.limits["raw"] = rate
        self.row(scenario="limit: raw insert, narrow rows", engine="sqlite", figure=f"{n(rate)} rows/s",
                 command="bench/write_path.py raw: sqlite3 executemany of (project id, contact id, event name, "
                         "params JSON, time), one index, 5,000 rows per transaction, WAL, synchronous=FULL")

    def store_limits(self, engines: list[str]) -> None:
        """The same items as rows of the store's `events` table, indexes included, written bare:
        what the projector's writer could do if it did nothing else (bench/rawinsert.py)."""
        rows = rawinsert.rows_of(self.batches, 1)
        for engine in engines:
            found = rawinsert.run(engine, database(engine, "wp-raw-events"), rows, 5000, self.args.raw_seconds)
            rate = found["rows_per_second"]
            self.limits[f"events-{engine}"] = rate
            self.row(scenario="limit: raw insert into the store's events table", engine=engine,
                     figure=f"{n(rate)} rows/s",
                     command=f"bench/rawinsert.py: {found['how']}, into the server's events table (its indexes)")
            if engine == "postgres":
                harness.drop_postgres("salesmachine_bench_wp-raw-events")

    def store_limit_under_load(self, engine: str) -> None:
        """The same bare insert while the request workers take the sustained load, the projector
        stopped (SIGSTOP) and the journal absorbing it: what the store's writer could do, doing
        nothing else, beside the request side of the load it has to keep up with on this
        machine's cores."""
        rows = rawinsert.rows_of(self.batches, 1)
        url = database(engine, "wp-under-load")
        project = harness.create_project(url)
        rate = SUSTAINED_TARGET[engine] / workload.BATCH_ITEMS
        found: dict[str, Any] = {}
        with harness.salesmachine_server(f"wp-under-load-{engine}", url) as server:
            projector = [p for p in harness.process_tree(server.process.pid) if _comm(p) == PROJECTOR_COMM]
            for pid in projector:
                os.kill(pid, signal.SIGSTOP)
            try:
                load = threading.Thread(target=lambda: found.setdefault("load", wrk(
                    f"{server.url}/v1/batch", "paced.lua",
                    [str(self.batches_file), basic(project["token"]), f'"accepted":{workload.BATCH_ITEMS}', f"{rate:g}"],
                    16, int(self.args.raw_seconds) + UNDER_LOAD_SETTLE * 2, timeout=30)))
                load.start()
                time.sleep(UNDER_LOAD_SETTLE)
                found["bare"] = rawinsert.run(engine, database(engine, "wp-raw-events"), rows, 5000, self.args.raw_seconds)
                load.join()
            finally:
                for pid in projector:
                    os.kill(pid, signal.SIGCONT)
        offered = found["load"].ok_per_second * workload.BATCH_ITEMS
        self.limits[f"events-under-load-{engine}"] = found["bare"]["rows_per_second"]
        self.row(scenario="limit: raw insert into the store's events table, beside the sustained load's requests",
                 engine=engine,
                 figure=f"{n(found['bare']['rows_per_second'])} rows/s while the request workers took "
                        f"{n(offered)} items/s (the projector stopped, the journal absorbing them)",
                 command=f"{server.command}; {found['load'].command}; bench/rawinsert.py: {found['bare']['how']}, "
                         "into the server's events table (its indexes), started after "
                         f"{UNDER_LOAD_SETTLE} s of the load")

    # batches ------------------------------------------------------------------------------

    def burst(self, engine: str, name: str, path: str, bodies: Path, expect: str, connections: int,
              seconds: int) -> tuple[str, Any, dict[str, float], float | None]:
        """wrk against a fresh server for `seconds`, then the wait for its projector to apply
        what wrk left: (the commands, wrk's result, the server's CPU and memory, that wait)."""
        url = database(engine, name)
        project = harness.create_project(url)
        with harness.salesmachine_server(f"{name}-{engine}", url) as server:
            sampler = RssSampler(server.process.pid)
            sampler.start()
            result = wrk(f"{server.url}{path}", "write.lua", [str(bodies), basic(project["token"]), expect],
                         connections, seconds)
            usage = sampler.stop()
            caught_up = wait_applied(server.url, 300)
        if engine == "postgres":
            harness.drop_postgres(f"salesmachine_bench_{name}")
        return f"{server.command}; {result.command}", result, usage, caught_up

    def batch(self, engine: str) -> None:
        command, result, usage, caught_up = self.burst(
            engine, "wp-batch", "/v1/batch", self.batches_file, f'"accepted":{workload.BATCH_ITEMS}', 16,
            self.args.batch_seconds)
        items = result.ok_per_second * workload.BATCH_ITEMS
        raw = self.limits.get("raw")
        met = result.failures == 0 and items >= BATCH_TARGET and raw is not None and items >= RAW_SHARE * raw
        reason = None if met else cpu_reason(usage, result.cores)
        self.row(scenario="batches of 100, 16 connections (acknowledged items/s)", engine=engine,
                 figure=f"{n(items)} items/s ({n(result.ok_per_second)} req/s, p50 {result.latency_ms('p50'):.1f} ms, "
                        f"p99 {result.latency_ms('p99'):.1f} ms, {result.failures} failed; the projector applied "
                        f"the backlog {after(caught_up, 300)} after wrk stopped; RSS peak {usage['rss_peak_mb']:.0f} MB)",
                 limit=f"raw insert {n(raw)} rows/s", ratio=ratio(items, raw),
                 target=f"≥ {BATCH_TARGET:,} items/s and ≥ {RAW_SHARE} × raw", met=met, reason=reason,
                 command=command)

    # single events ------------------------------------------------------------------------

    def singles(self, engines: list[str]) -> None:
        """The bare endpoint and a server per engine, all started once, then rounds of a short
        wrk run on each in turn (each server's projector left to apply its backlog before the
        next run); each engine's ratio is the median of its rounds' ratios to the bare run of the
        same round. This machine's speed moves under a run: the bare endpoint gave 11,470 to
        19,322 req/s within three minutes, and rounds of 15 s with a server started for each
        run, the bare run half a minute from the last engine's, ranged from 0.36 to 0.75 x bare."""
        rounds = self.args.single_rounds
        bare: list[Any] = []
        bare_steal: list[float] = []  # cores the hypervisor took while each bare run ran
        runs: dict[str, list[tuple[Any, dict[str, float], float | None]]] = {e: [] for e in engines}
        commands: dict[str, str] = {}
        with contextlib.ExitStack() as stack:
            bare_server = stack.enter_context(harness.bare_server("wp-bare"))
            servers = {}
            for engine in engines:
                url = database(engine, "wp-single")
                project = harness.create_project(url)
                servers[engine] = (stack.enter_context(harness.salesmachine_server(f"wp-single-{engine}", url)), project)
            for _ in range(rounds):
                steal0, t0 = harness.machine_steal(), time.monotonic()
                bare.append(wrk(f"{bare_server.url}/v1/track/event", "write.lua", [str(self.singles_file), basic("bare")],
                                64, self.args.single_seconds))
                commands["bare"] = f"{bare_server.command}; {bare[-1].command}"
                bare_steal.append((harness.machine_steal() - steal0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0))
                line = [f"bare {n(bare[-1].ok_per_second)} req/s (steal {bare_steal[-1]:.2f} cores)"]
                for engine, (server, project) in servers.items():
                    sampler = RssSampler(server.process.pid)
                    sampler.start()
                    result = wrk(f"{server.url}/v1/track/event", "write.lua",
                                 [str(self.singles_file), basic(project["token"]), ""], 64, self.args.single_seconds)
                    usage = sampler.stop()
                    runs[engine].append((result, usage, wait_applied(server.url, 300)))
                    commands[engine] = f"{server.command}; {result.command}"
                    line.append(f"{engine} {n(result.ok_per_second)} req/s, p99 {result.latency_ms('p99'):.1f} ms "
                                f"({result.ok_per_second / bare[-1].ok_per_second:.2f} x bare, steal "
                                f"{usage.get('steal_cores', 0):.2f} cores)")
                log("; ".join(line))
        if "postgres" in engines:
            harness.drop_postgres("salesmachine_bench_wp-single")
        bare_rps = [b.ok_per_second for b in bare]
        self.limits["bare single"] = statistics.median(bare_rps)
        self.row(scenario="limit: bare endpoint, single events, 64 connections", engine="none",
                 figure=f"median {n(statistics.median(bare_rps))} req/s of {rounds} runs of {self.args.single_seconds} s "
                        f"({', '.join(n(r) for r in bare_rps)}), p99 {statistics.median(b.latency_ms('p99') for b in bare):.1f} ms; "
                        f"the hypervisor took {', '.join(f'{c:.2f}' for c in bare_steal)} cores (steal)",
                 command=commands["bare"])
        for engine, measured in runs.items():
            ratios = [r.ok_per_second / b for (r, _, _), b in zip(measured, bare_rps)]
            share = statistics.median(ratios)
            p99 = statistics.median(r.latency_ms("p99") for r, _, _ in measured)
            failures = sum(r.failures for r, _, _ in measured)
            result, usage, _ = measured[ratios.index(sorted(ratios)[len(ratios) // 2])]  # the median round
            met = failures == 0 and share >= SINGLE_BARE_SHARE and p99 < SINGLE_P99_MS
            reason = None if met else cpu_reason(usage, result.cores)
            caught = [c for _, _, c in measured]
            slowest = None if None in caught else max(caught)
            self.row(scenario="single events, 64 connections", engine=engine,
                     figure=f"median of {rounds} runs of {self.args.single_seconds} s: "
                            f"{n(statistics.median(r.ok_per_second for r, _, _ in measured))} req/s, p99 {p99:.1f} ms "
                            "(runs: " + "; ".join(f"{n(r.ok_per_second)} req/s, p99 {r.latency_ms('p99'):.1f} ms"
                                                  for r, _, _ in measured)
                            + f"), {failures} failed; the projector applied each backlog within "
                            f"{after(slowest, 300)} after wrk stopped",
                     limit="bare endpoint, same rounds", ratio=f"{share:.2f} ({', '.join(f'{r:.2f}' for r in ratios)})",
                     target=f"≥ {SINGLE_BARE_SHARE} × bare, p99 < {SINGLE_P99_MS} ms", met=met, reason=reason,
                     command=commands[engine])

    # sustained ----------------------------------------------------------------------------

    def sustained(self, engine: str) -> None:
        target = SUSTAINED_TARGET[engine]
        connections = 16
        rate = target / workload.BATCH_ITEMS  # requests/s, wrk's one thread (lua/paced.lua)
        url = database(engine, "wp-sustained")
        project = harness.create_project(url)
        seconds = self.args.sustained_seconds
        samples: list[dict[str, float]] = []
        with harness.salesmachine_server(f"wp-sustained-{engine}", url) as server:
            stop = threading.Event()

            def sample() -> None:
                started = time.monotonic()
                before = cpu_split(server.process.pid)
                while not stop.wait(1.0):
                    try:
                        found = metrics(server.url)
                    except OSError:
                        continue
                    pids = harness.process_tree(server.process.pid)
                    now = cpu_split(server.process.pid)
                    samples.append({
                        "t": time.monotonic() - started,
                        "lag": found.get("salesmachine_projection_lag_seconds", 0.0),
                        "depth": found.get("salesmachine_journal_depth_items", 0.0),
                        "rate": found.get("salesmachine_projector_items_per_second", 0.0),
                        "rss_mb": sum(harness.status_kb(p, "VmRSS") for p in pids) / 1024,
                        **{f"{k}_cores": (now[k] - before[k]) / max(now["t"] - before["t"], 0.001)
                           for k in ("workers", "projector", "postgres", "machine")},
                    })
                    before = now

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = wrk(f"{server.url}/v1/batch", "paced.lua",
                         [str(self.batches_file), basic(project["token"]), f'"accepted":{workload.BATCH_ITEMS}',
                          f"{rate:g}"], connections, seconds, timeout=30)
            stop.set()
            sampler.join()
            caught_up = wait_applied(server.url, 120)
            left = metrics(server.url).get("salesmachine_journal_depth_items", 0)
        self.series[engine] = samples
        offered = result.ok_per_second * workload.BATCH_ITEMS
        lags = sorted(s["lag"] for s in samples)
        lag_p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else None
        warm = [s["rss_mb"] for s in samples if 30 <= s["t"] <= 90]
        last = [s["rss_mb"] for s in samples if s["t"] >= seconds - 60]
        growth = (statistics.mean(last) / statistics.mean(warm) - 1) if warm and last else None
        met = (result.failures == 0 and offered >= target and lag_p99 is not None and lag_p99 < LAG_P99_TARGET
               and growth is not None and growth < 0.10)
        events_limit = self.limits.get(f"events-{engine}")
        under_load = self.limits.get(f"events-under-load-{engine}")
        reason = None if met else sustained_reason(engine, offered, samples, events_limit, under_load)
        self.row(scenario=f"sustained {seconds} s at an offered {target:,} items/s", engine=engine,
                 figure=f"{n(offered)} items/s acknowledged ({result.failures} failed), projection lag p99 "
                        f"{n(lag_p99, 2)} s (max {n(lags[-1] if lags else None, 2)} s), RSS "
                        f"{n(statistics.mean(warm) if warm else None)} MB after warm-up -> "
                        f"{n(statistics.mean(last) if last else None)} MB in the last minute "
                        f"({'+' if (growth or 0) >= 0 else ''}{(growth or 0) * 100:.1f}%); journal applied "
                        f"{after(caught_up, 120)} after the load stopped ({n(left)} items left then)"
                        f"{cpu_budget(samples)}",
                 limit=f"offered {target:,} items/s; the events rows alone, bare: {n(events_limit)} rows/s"
                       + (f", beside the load's requests: {n(under_load)} rows/s" if under_load else ""),
                 ratio=f"{ratio(offered, target)}; events rows {ratio(offered * EVENT_SHARE, events_limit)} of bare"
                       + (f", {ratio(offered * EVENT_SHARE, under_load)} beside the requests" if under_load else ""),
                 target=f"≥ {target:,} items/s, lag p99 < {LAG_P99_TARGET:g} s, RSS flat (< +10%)", met=met,
                 reason=reason, command=f"{server.command}; {result.command}")
        if engine == "postgres":
            harness.drop_postgres("salesmachine_bench_wp-sustained")

    # PostgreSQL cut for 60 s ----------------------------------------------------------------

    def outage(self) -> None:
        sys.path.insert(0, str(ROOT / "server"))
        from salesmachine_server.ingest.journal import Journal, journal_path
        from tests.support import TcpProxy  # the reliability suite's relay

        real = harness.fresh_postgres("salesmachine_bench_wp_outage")
        project = harness.create_project(real)
        proxy = TcpProxy("127.0.0.1", 5432).start()
        url = real.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        acknowledged: list[tuple[float, str]] = []
        failed = 0
        stop = threading.Event()
        batches_per_second = OUTAGE_RATE / workload.BATCH_ITEMS
        seconds = self.args.outage_seconds
        with harness.salesmachine_server("wp-outage", url) as server:
            authorization = basic(project["token"])
            started = time.monotonic()

            def send(thread: int, threads: int) -> None:
                nonlocal failed
                k = 0
                while not stop.is_set():
                    due = started + (k * threads + thread) / batches_per_second
                    if (wait := due - time.monotonic()) > 0 and stop.wait(wait):
                        return
                    ids = [f"o-{uuid.uuid4().hex}" for _ in range(workload.BATCH_ITEMS)]
                    body = json.dumps([{"method": "event", "contact_uid": f"c{k % 500}", "event_uid": "tick",
                                        "messageId": i} for i in ids]).encode()
                    request = urllib.request.Request(f"{server.url}/v1/batch", data=body, method="POST",
                                                     headers={"Authorization": authorization,
                                                              "Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(request, timeout=30) as answer:
                            if answer.status == 201:
                                now = time.monotonic() - started
                                acknowledged.extend((now, i) for i in ids)
                    except OSError:
                        failed += 1
                    k += 1

            threads = [threading.Thread(target=send, args=(t, 8), daemon=True) for t in range(8)]
            for t in threads:
                t.start()
            time.sleep(10)
            proxy.cut()
            cut_at = time.monotonic() - started
            log(f"PostgreSQL cut at {cut_at:.1f} s for {seconds} s")
            time.sleep(seconds)
            journal = Journal(CACHE / journal_path(url))  # the server's cwd is CACHE
            target, _ = journal.positions()  # everything acknowledged until the return
            proxy.restore()
            back_at = time.monotonic() - started
            while journal.positions()[1] < target:
                time.sleep(0.05)
            back_to_applied = time.monotonic() - started - back_at
            time.sleep(max(0.0, 10 - back_to_applied))
            stop.set()
            for t in threads:
                t.join()
            caught_up = wait_applied(server.url, 600)
        proxy.cut()
        import psycopg

        with psycopg.connect(real) as conn:
            counts = dict(conn.execute("SELECT message_id, count(*) FROM events WHERE message_id LIKE 'o-%' "
                                       "GROUP BY message_id").fetchall())
        during = [i for at, i in acknowledged if cut_at <= at <= back_at]
        missing = [i for _, i in acknowledged if i not in counts]
        twice = [i for i, c in counts.items() if c > 1]
        rate = len(acknowledged) / (back_at + 10)
        reached = rate >= 0.9 * OUTAGE_RATE
        met = (not missing and not twice and back_to_applied <= OUTAGE_CATCH_UP and failed == 0 and len(during) > 0
               and reached)
        self.row(scenario=f"PostgreSQL cut for {seconds} s under {OUTAGE_RATE:,} items/s", engine="postgres",
                 figure=f"{len(acknowledged):,} items acknowledged ({n(rate)} items/s), {len(during):,} of them during "
                        f"the cut, {failed} requests failed; all in the store {back_to_applied:.1f} s after "
                        f"PostgreSQL's return (the journal empty {after(caught_up, 600)} after the load stopped); "
                        f"{len(missing)} missing, {len(twice)} stored twice",
                 limit=f"catch-up within {OUTAGE_CATCH_UP:g} s", ratio=ratio(back_to_applied, OUTAGE_CATCH_UP),
                 target=f"every item acknowledged in the cut stored within {OUTAGE_CATCH_UP:g} s of the return, "
                        "none twice", met=met,
                 reason=None if met else (f"catch-up took {back_to_applied:.1f} s" if back_to_applied > OUTAGE_CATCH_UP
                                          else f"the load generator (8 Python threads) offered {n(rate)} items/s, "
                                               f"not {OUTAGE_RATE:,}: the machine was saturated; what it sent "
                                               "was all stored once, in time"),
                 command=f"{server.command} (PostgreSQL through server/tests/support.py TcpProxy); 8 Python threads "
                         f"posting {batches_per_second:g} batches of 100 events with messageIds per second")
        harness.drop_postgres("salesmachine_bench_wp_outage")

    # the report ---------------------------------------------------------------------------

    def write(self, command: str) -> None:
        RESULTS.mkdir(exist_ok=True)
        load = os.getloadavg()
        out = [
            "# The write path through the journal (issue 20)",
            "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, commit "
            f"{_commit()}, with `{command}`. Load average at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} "
            "(above 1, other processes shared the 2 cores: figures are then low and noisy; ratios are to limits "
            "measured in the same run). A run of some scenarios keeps the other rows of the last results: the last "
            "column says when and at which commit each row was measured.",
            "",
            "| scenario | engine | figure | limit | ratio | target | met | reason | measured |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            met = "—" if r.get("met") is None else ("**met**" if r["met"] else "**not met**")
            out.append(f"| {r['scenario']} | {r.get('engine', '')} | {r['figure']} | {r.get('limit', '')} | "
                       f"{r.get('ratio', '')} | {r.get('target', '')} | {met} | {r.get('reason') or ''} | "
                       f"{r.get('measured', '')} |")
        out += ["", "## Commands", ""]
        out += [f"- {r['scenario']} ({r.get('engine', '')}): `{r['command']}`" for r in self.rows]
        if self.series:
            out += ["", "## Sustained run", "", "![lag, depth and memory](write-path.png)", ""]
        out += [f"- {note}" for note in self.notes]
        (RESULTS / "write-path.md").write_text("\n".join(out) + "\n")
        (RESULTS / "write-path.json").write_text(json.dumps({"rows": self.rows, "series": self.series}, indent=1))
        if self.series:
            self.chart()

    def chart(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
        for engine, samples in self.series.items():
            t = [s["t"] for s in samples]
            axes[0].plot(t, [s["lag"] for s in samples], label=engine)
            axes[1].plot(t, [s["depth"] for s in samples], label=engine)
            axes[2].plot(t, [s["rss_mb"] for s in samples], label=engine)
        axes[0].set_ylabel("projection lag (s)")
        axes[1].set_ylabel("journal depth (items)")
        axes[2].set_ylabel("RSS, all processes (MB)")
        axes[2].set_xlabel("seconds")
        for axis in axes:
            axis.legend()
            axis.grid(alpha=0.3)
        fig.suptitle("Sustained offered load through the journal")
        fig.tight_layout()
        fig.savefig(RESULTS / "write-path.png", dpi=90)


def _commit() -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()


def sustained_reason(engine: str, offered: float, samples: list[dict[str, float]], events_limit: float | None,
                     under_load: float | None = None) -> str:
    """Why a sustained run missed: a projector slower than the load, or one that kept pace on
    average and left the lag of its groups (an item waits for the group being applied, then
    for its own). Beside it, how the load compares with the store's own limit: SQLite takes one
    writer at a time, so the projector can never insert faster than the events rows alone, and
    on SQLite that bare insert measured again beside the load's requests."""
    depth_end = samples[-1]["depth"] if samples else 0
    applied = statistics.mean(s["rate"] for s in samples) if samples else 0
    needed = offered * EVENT_SHARE
    if events_limit is None:
        store = ""
    elif engine == "sqlite":
        store = (f"; the load's events rows ({n(needed)}/s) alone, written bare into the events table by SQLite's "
                 f"one writer and nothing else, run at {n(events_limit)} rows/s here ({needed / events_limit:.2f} of "
                 f"it)")
        if under_load:
            store += (f", and at {n(under_load)} rows/s ({needed / under_load:.2f} of it) while the request workers "
                      f"take the same load: "
                      + ("even a writer doing nothing but insert them falls behind on this machine"
                         if needed >= under_load else
                         "the contacts, days and journal besides must fit in what that leaves"))
        else:
            store += (f": with the contacts, days and journal besides, and the request workers on the other core, "
                      f"{'this is beyond the machine' if needed >= 0.8 * events_limit else 'a narrow margin'}")
    else:
        store = (f"; PostgreSQL takes the load's events rows bare at {n(events_limit)} rows/s ({needed / events_limit:.2f} "
                 f"of it): the projector's own work per item is the limit, not the database's")
    if not samples or applied < 0.99 * offered:
        return (f"acknowledged {n(offered)} items/s while the projector applied {n(applied)} items/s on "
                f"average: the store's work per item (identity, events with their indexes, active days) "
                f"on the cores it shares with the request workers and wrk; {n(depth_end)} items waited "
                f"in the journal at the end{store}")
    deepest = max(s["depth"] for s in samples)
    return (f"the projector kept pace on average ({n(applied)} items/s applied, {n(offered)} acknowledged) "
            f"but not at every moment: the journal rose to {n(deepest)} items and fell back, the lag with it "
            f"(the chart); an item waits for the group being applied (up to "
            f"{Settings().projector_group_items:,} items), then for its own{store}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help="some scenarios: the rows of the others are kept from the last results")
    parser.add_argument("--raw-seconds", type=float, default=6)
    parser.add_argument("--batch-seconds", type=int, default=20)
    # Many short rounds rather than a few long ones: the machine's speed moves under a run
    # (Run.singles), and a round's runs are the closer in time the shorter they are.
    parser.add_argument("--single-seconds", type=int, default=5)
    parser.add_argument("--single-rounds", type=lambda v: max(1, int(v)), default=9,
                        help="rounds of bare endpoint then each engine; ratios are the rounds' median")
    parser.add_argument("--sustained-seconds", type=int, default=300)
    parser.add_argument("--outage-seconds", type=int, default=OUTAGE_SECONDS)
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test of the scenarios")
    args = parser.parse_args()
    if args.quick:
        args.raw_seconds, args.batch_seconds, args.single_seconds, args.single_rounds = 2, 5, 5, 1
        args.sustained_seconds, args.outage_seconds = 20, 5
    engines = args.engines.split(",")
    only = args.only.split(",")
    run = Run(args)
    command = "python bench/write_path.py " + " ".join(sys.argv[1:])
    try:
        if "raw" in only or "batch" in only:
            run.raw()
        if "raw" in only or "sustained" in only:
            run.store_limits(engines)
        if "batch" in only:
            for engine in engines:
                run.batch(engine)
        if "single" in only:
            run.singles(engines)
        if "sustained" in only:
            if "sqlite" in engines:
                run.store_limit_under_load("sqlite")
            for engine in engines:
                run.sustained(engine)
        if "outage" in only and "postgres" in engines:
            run.outage()
    finally:
        if set(only) != set(SCENARIOS) or set(engines) != {"sqlite", "postgres"}:
            run.keep_earlier_rows()
        run.write(command.strip())
    log(f"written {RESULTS / 'write-path.md'}")


if __name__ == "__main__":
    main()
