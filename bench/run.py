"""`make bench`: every scenario on SQLite and PostgreSQL, with the limits measured in the same
run, written to bench/results/LATEST.md, LATEST.png and LATEST.json.

    .venv/bin/python bench/run.py [--engines sqlite,postgres] [--only limits,batch,...] [--quick]

See bench/README.md for what each scenario does and how long it takes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import erasure  # noqa: E402
import harness  # noqa: E402
import health_history  # noqa: E402
import list_reads  # noqa: E402
import playbook_writer  # noqa: E402
import rawinsert  # noqa: E402
import readdata  # noqa: E402
import report  # noqa: E402
import workload  # noqa: E402
from harness import BENCH, CACHE, ROOT, RssSampler, WrkResult, basic, wrk  # noqa: E402

RESULTS = BENCH / "results"
ENGINE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
INGEST_DB = "salesmachine_bench_ingest"
RAW_DB = "salesmachine_bench_raw"

# Targets of issue 5.
BATCH_TARGET = {"sqlite": 50_000, "postgres": 30_000}
BATCH_RAW_SHARE = 0.5
SINGLE_TARGET_RPS = 5_000
SINGLE_TARGET_P99_MS = 25
SINGLE_BARE_SHARE = 0.6
PROFILE_TARGET_P99_MS = 50
RSS_TARGET_MB = 300


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- setup --------------------------------------------------------------------------------


def ensure_tools() -> None:
    missing = shutil.which("wrk") is None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing = True
    if missing or not harness.granian_available() or not (harness.VENV_BIN / "py-spy").exists():
        log("installing what the benchmarks need (bench/install.sh)")
        subprocess.run(["sh", str(BENCH / "install.sh"), sys.executable], check=missing)


def machine_info() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem_kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    packages = {}
    for name in ("uvicorn", "starlette", "granian", "sqlalchemy", "psycopg", "uvloop", "httptools"):
        try:
            from importlib.metadata import version

            packages[name] = version(name)
        except Exception:
            pass
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    packages["wrk"] = wrk_version.replace("wrk ", "")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "server"], cwd=ROOT, capture_output=True,
                           text=True).stdout.split("\n")
    dirty_files = [line[3:] for line in dirty if line.strip()]
    info = {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": mem_kb / 1024 / 1024, "kernel": platform.platform(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "packages": packages,
            "commit": commit.strip(), "server_dirty": ", ".join(dirty_files[:6]) + (" …" if len(dirty_files) > 6 else "")}
    if harness.postgres_available():
        info["postgres"] = harness.postgres_settings()
    return info


def fresh_database(engine: str, name: str) -> str:
    return harness.fresh_sqlite(name) if engine == "sqlite" else harness.fresh_postgres(INGEST_DB)


def count_events(engine: str, url: str) -> int:
    if engine == "sqlite":
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


# -- the scenarios ------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.commands: dict[str, str] = {}
        self.limits: dict[str, float] = {}
        self.chart: dict[str, list[dict[str, Any]]] = {"batch": [], "single": [], "latency": [], "memory": []}
        self.batches_file = CACHE / "bodies-batch.ndjson"
        self.singles_file = CACHE / "bodies-single.ndjson"
        self.batches: list[list[dict[str, Any]]] = []

    def row(self, **row: Any) -> dict[str, Any]:
        self.rows.append(row)
        return row

    # the workload -------------------------------------------------------------------------

    def prepare_bodies(self) -> None:
        self.batches = workload.write_batches(self.batches_file, 1000)
        workload.write_singles(self.singles_file, 20_000)
        self.commands["request bodies"] = ("bench/workload.py: 1,000 batches of 100 items (70 events, 20 pageviews, "
                                           "8 contact and 2 account updates, 10,000 contacts, 1,000 accounts) and "
                                           "20,000 single events, seeded, cycled by lua/write.lua")

    # limits -------------------------------------------------------------------------------

    def bare_http(self) -> None:
        a = self.args
        servers = [("uvicorn", harness.bare_server("bare-uvicorn"))]
        if harness.granian_available():
            servers.append(("granian", harness.bare_granian("bare-granian")))
        for stack, server in servers:
            with server:
                self.commands[f"bare HTTP server ({stack})"] = server.command
                QUIET.wait()
                sampler = RssSampler(server.process.pid)
                sampler.start()
                if stack == "uvicorn":
                    result = wrk(f"{server.url}/v1/batch", "write.lua",
                                 [str(self.batches_file), basic("bare")],
                                 a.batch_connections, a.bare_seconds)
                    self.limits["bare batch"] = result.ok_per_second * workload.BATCH_ITEMS
                    self.limits["bare batch rps"] = result.ok_per_second
                    usage = sampler.stop()
                    QUIET.wait()
                    sampler = RssSampler(server.process.pid)
                    sampler.start()
                    self.row(scenario="limit: bare HTTP, batch", engine="none", server=f"bare {stack}",
                             figure=f"{_n(result.ok_per_second * workload.BATCH_ITEMS)} items/s "
                                    f"({_n(result.ok_per_second)} req/s, p99 {result.latency_ms('p99'):.1f} ms; "
                                    f"{cpu(usage, result)})",
                             commands=[server.command, result.command], failures=result.failures)
                    self.chart["batch"].append({"label": "bare HTTP (uvicorn)", "value":
                                                self.limits["bare batch"], "color": "bare"})
                result = wrk(f"{server.url}/v1/track/event", "write.lua",
                             [str(self.singles_file), basic("bare")],
                             a.single_connections, a.single_seconds)
                usage = sampler.stop()
                self.limits[f"bare single {stack}"] = result.ok_per_second
                self.row(scenario="limit: bare HTTP, single call", engine="none", server=f"bare {stack}",
                         figure=f"{_n(result.ok_per_second)} req/s, p50 {result.latency_ms('p50'):.1f} ms, "
                                f"p99 {result.latency_ms('p99'):.1f} ms; {cpu(usage, result)}",
                         commands=[server.command, result.command], failures=result.failures)
                self.chart["single"].append({"label": f"bare HTTP ({stack})", "value": result.ok_per_second,
                                             "color": "bare"})
                self.chart["latency"].append({"label": f"bare {stack} single", "p50": result.latency_ms("p50"),
                                              "p99": result.latency_ms("p99"), "color": "bare"})

    def app_without_store(self) -> None:
        """The real application, its writer answering at once (nostore_app.py): what our own
        request code costs beside bare HTTP, and what is left for the store to explain."""
        a = self.args
        url = harness.fresh_sqlite("nostore")
        project = harness.create_project(url)
        with harness.nostore_server("nostore", url) as server:
            for path, body_file, connections, unit in (("/v1/batch", self.batches_file, a.batch_connections, "batch"),
                                                        ("/v1/track/event", self.singles_file,
                                                         a.single_connections, "single")):
                QUIET.wait()
                sampler = RssSampler(server.process.pid)
                sampler.start()
                result = wrk(f"{server.url}{path}", "write.lua", [str(body_file), basic(project["token"])],
                             connections, a.bare_seconds)
                usage = sampler.stop()
                self.limits[f"nostore {unit}"] = result.ok_per_second
                if unit == "single":
                    self.chart["single"].append({"label": "the app storing\nnothing (uvicorn)",
                                                 "value": result.ok_per_second, "color": "limit"})
                bare = self.limits.get(f"bare {unit} rps" if unit == "batch" else "bare single uvicorn")
                figure = (f"{_n(result.ok_per_second * workload.BATCH_ITEMS)} items/s ({_n(result.ok_per_second)} "
                          f"req/s, " if unit == "batch" else f"{_n(result.ok_per_second)} req/s (")
                self.row(scenario=f"limit: the app without the store, {'batch' if unit == 'batch' else 'single call'}",
                         engine="none", server="uvicorn, writer answering at once",
                         figure=f"{figure}p50 {result.latency_ms('p50'):.1f} ms, p99 {result.latency_ms('p99'):.1f} "
                                f"ms; {cpu(usage, result)})",
                         limit_text=f"bare HTTP {_n(bare)} req/s", ratio_text=_ratio(result.ok_per_second, bare),
                         commands=[server.command, result.command], failures=result.failures)

    def _beyond_app(self, stack: str) -> str:
        """Said of single calls when the app without the store, measured here, already misses
        the target: the request code alone is over its budget, whatever the store does."""
        nostore, bare = self.limits.get("nostore single"), self.limits.get("bare single uvicorn")
        if stack != "uvicorn" or nostore is None or bare is None:
            return ""
        if nostore >= SINGLE_TARGET_RPS and nostore >= SINGLE_BARE_SHARE * bare:
            return ""
        return (f"even storing nothing the app answers {_n(nostore)} req/s ({_ratio(nostore, bare)} of bare HTTP): "
                "our request code alone (routing, credentials, decoding, validation, enrichment) is over the "
                "target's budget on this machine")

    def raw_insert(self, engine: str) -> None:
        rows = rawinsert.rows_of(self.batches, 1)
        best = 0.0
        for per_transaction in (workload.BATCH_ITEMS, 5000):
            url = harness.fresh_sqlite("raw") if engine == "sqlite" else harness.fresh_postgres(RAW_DB)
            usages: list[Usage] = []
            result = rawinsert.run(engine, url, rows, per_transaction, self.args.raw_seconds,
                                   starting=lambda: (QUIET.wait(), usages.append(Usage())))
            usage = usages[0]
            best = max(best, result["rows_per_second"])
            self.limits[f"raw {engine} {per_transaction}"] = result["rows_per_second"]
            self.row(scenario=f"limit: raw insert, {per_transaction:,} rows per transaction", engine=engine,
                     server="none (driver)", figure=f"{_n(result['rows_per_second'])} rows/s ({usage.stop()})",
                     commands=[f"bench/rawinsert.py: {result['how']}, {self.args.raw_seconds:g} s, into the events "
                               f"table of a database made by salesmachine migrate"])
            self.chart["batch"].append({"label": f"raw insert {ENGINE_NAMES[engine]}\n{per_transaction} rows/tx",
                                        "value": result["rows_per_second"], "color": "limit"})
        if engine == "postgres":
            harness.drop_postgres(RAW_DB)
        self.limits[f"raw {engine}"] = best

    # 1. batch ingestion -------------------------------------------------------------------

    def batch_ingestion(self, engine: str) -> None:
        a = self.args
        url = fresh_database(engine, "ingest-batch")
        project = harness.create_project(url)
        with harness.salesmachine_server(f"batch-{engine}", url) as server:
            QUIET.wait()
            sampler = RssSampler(server.process.pid)
            sampler.start()
            profiler = self.profiler(server, a.batch_seconds, f"batch-{engine}")
            result = wrk(f"{server.url}/v1/batch", "write.lua",
                         [str(self.batches_file), basic(project["token"]),
                          f'"accepted":{workload.BATCH_ITEMS}'],
                         a.batch_connections, a.batch_seconds)
            memory = sampler.stop()
            spy = self.finish_profile(profiler, f"1. batch ingestion, {ENGINE_NAMES[engine]}")
            groups = group_commits(server.url)
        stored = count_events(engine, url)
        acknowledged_events = result.data["ok"] * (workload.MIX["event"] + workload.MIX["pageview"])
        items = result.ok_per_second * workload.BATCH_ITEMS
        raw, bare = self.limits.get(f"raw {engine}"), self.limits.get("bare batch")
        target = BATCH_TARGET[engine]
        met = (result.failures == 0 and items >= target and raw is not None and items >= BATCH_RAW_SHARE * raw)
        self.row(scenario="1. batch ingestion (items/s)", engine=engine, server="uvicorn",
                 figure=f"{_n(items)} items/s ({_n(result.ok_per_second)} req/s; {result.data['ok']:,} acknowledged, "
                        f"{result.failures} failed; p50 {result.latency_ms('p50'):.0f} ms, "
                        f"p99 {result.latency_ms('p99'):.0f} ms; {cpu(memory, result)})",
                 limit_text=f"raw insert {_n(raw)} rows/s; bare HTTP {_n(bare)} items/s",
                 ratio_text=f"{_ratio(items, raw)} of raw; {_ratio(items, bare)} of bare",
                 target_text=f"≥ {target:,} items/s and ≥ {BATCH_RAW_SHARE:.0%} of raw; no failure",
                 met=met, reason=why(memory, result, spy, groups, _beyond_raw(target, raw)) if not met else groups or None,
                 commands=[server.command, result.command] + ([spy["command"]] if spy else []), value=items)
        if stored < acknowledged_events:
            self.notes.append(f"{ENGINE_NAMES[engine]} batch ingestion: only {stored:,} events stored for "
                              f"{acknowledged_events:,} acknowledged: acknowledged data is MISSING")
        else:
            self.notes.append(f"{ENGINE_NAMES[engine]} batch ingestion: {stored:,} events and pageviews found in the "
                              f"database after the run, for {acknowledged_events:,} acknowledged "
                              f"({result.data['ok']:,} batches × 90); the extra ones were committed for requests "
                              f"wrk had not yet seen answered when it stopped")
        self.memory_row(engine, "1. batch ingestion", memory, [server.command])
        self.chart["batch"].append({"label": f"server {ENGINE_NAMES[engine]}", "value": items, "color": engine})

    # 2. single calls ----------------------------------------------------------------------

    def single_calls(self, engine: str, stack: str = "uvicorn") -> None:
        a = self.args
        url = fresh_database(engine, f"ingest-single-{stack}")
        project = harness.create_project(url)
        make = harness.salesmachine_server if stack == "uvicorn" else harness.granian_server
        with make(f"single-{stack}-{engine}", url) as server:
            QUIET.wait()
            sampler = RssSampler(server.process.pid)
            sampler.start()
            profiler = self.profiler(server, a.single_seconds, f"single-{stack}-{engine}") if stack == "uvicorn" else None
            result = wrk(f"{server.url}/v1/track/event", "write.lua",
                         [str(self.singles_file), basic(project["token"])],
                         a.single_connections, a.single_seconds)
            memory = sampler.stop()
            spy = self.finish_profile(profiler, f"2. single calls ({stack}), {ENGINE_NAMES[engine]}")
            groups = group_commits(server.url)
        rps, p50, p99 = result.ok_per_second, result.latency_ms("p50"), result.latency_ms("p99")
        bare = self.limits.get(f"bare single {stack}")
        met = (result.failures == 0 and rps >= SINGLE_TARGET_RPS and p99 < SINGLE_TARGET_P99_MS and bare is not None
               and rps >= SINGLE_BARE_SHARE * bare)
        self.row(scenario="2. single calls, 64 connections", engine=engine, server=stack,
                 figure=f"{_n(rps)} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms ({result.data['ok']:,} acknowledged, "
                        f"{result.failures} failed; {cpu(memory, result)})",
                 limit_text=f"bare HTTP ({stack}) {_n(bare)} req/s", ratio_text=_ratio(rps, bare),
                 target_text=f"≥ {SINGLE_TARGET_RPS:,} req/s, p99 < {SINGLE_TARGET_P99_MS} ms, "
                             f"≥ {SINGLE_BARE_SHARE:.0%} of bare; no failure",
                 met=met, reason=why(memory, result, spy, groups, self._beyond_app(stack)) if not met else groups or None,
                 commands=[server.command, result.command] + ([spy["command"]] if spy else []), value=rps)
        self.memory_row(engine, f"2. single calls ({stack})", memory, [server.command])
        self.chart["single"].append({"label": f"{stack} {ENGINE_NAMES[engine]}", "value": rps, "color": engine})
        self.chart["latency"].append({"label": f"single {stack} {ENGINE_NAMES[engine]}", "p50": p50, "p99": p99,
                                      "color": engine})

    # 5. ingestion during an erasure --------------------------------------------------------

    def ingestion_during_erasure(self, engine: str) -> None:
        """Single calls while a contact with --erasure-events events is erased (bench/erasure.py)."""
        url = fresh_database(engine, "erasure")
        QUIET.wait()
        found = erasure.measure(engine, url, str(self.singles_file), self.args.erasure_events)
        before: WrkResult = found["before"]
        during: list[WrkResult] = found["during"]
        p99 = max(r.latency_ms("p99") for r in during)
        longest = max(r.latency_ms("max") for r in during)
        failures = sum(r.failures for r in during)
        acknowledged = sum(r.data["ok"] for r in during)
        rps = acknowledged / sum(r.seconds for r in during)
        base_p99 = before.latency_ms("p99")
        met = failures == 0 and longest < erasure.TARGET_MAX_MS and found["removed"] >= self.args.erasure_events
        self.row(scenario=f"5. single calls while a contact with {self.args.erasure_events:,} events is erased",
                 engine=engine, server="uvicorn",
                 figure=f"p99 {p99:.0f} ms (worst {erasure.WINDOW_SECONDS} s window), "
                        f"longest request "
                        f"{longest:.0f} ms, {_n(rps)} req/s ({acknowledged:,} acknowledged, {failures} failed); "
                        f"erasure of {found['removed']:,} events and pageviews took {found['erase_seconds']:.0f} s "
                        f"(seeded by SQL in {found['seeded_seconds']:.0f} s)",
                 limit_text=f"the same load without an erasure: p99 {base_p99:.0f} ms, "
                            f"{_n(before.ok_per_second)} req/s",
                 ratio_text=f"p99 {_ratio(p99, base_p99)} of it",
                 target_text=f"no request {erasure.TARGET_MAX_MS} ms or longer; no failure; everything erased",
                 met=met,
                 reason=None if met else "a request waited a second or more, failed, or rows were left",
                 commands=[found["server"].command, during[0].command], value=p99)

    # 6. the health history at the target scale (issue 18) ----------------------------------

    def health_history(self, engine: str) -> None:
        """The history of 100,000 accounts and 1,000,000 contacts built, turned a day and rebuilt
        after a rule change (bench/health_history.py), beside the time to read every active day."""
        QUIET.wait()
        found = health_history.measure(engine, log)
        read = found["read_seconds"]
        scale = f"{health_history.ACCOUNTS:,} accounts and {health_history.CONTACTS:,} contacts"
        scaled = "" if health_history.DIVISOR == 1 else f" {health_history.DIVISOR}"
        command = (f"bench/health_history.py measure {engine}{scaled}: project/health_history.py rebuild and turn_day, "
                   f"in process, on a copy of a database generated by SQL (bench/health_history.py generate)")
        limit = f"reading every active day {read:.1f} s"
        for key, what, rows_text in (
            ("build", "built from nothing (the first start)", f"{found['build_rows']:,} rows"),
            ("turn", "a day turned", f"{found['turn_rows']:,} rows added"),
            ("change", "rebuilt after a rule change", f"{found['change_rows']:,} rows"),
        ):
            seconds, cpu_seconds = found[f"{key}_seconds"], found[f"{key}_cpu"]
            self.row(scenario=f"6. health history of {scale}: {what}", engine=engine, server="none (in process)",
                     figure=f"{seconds:,.1f} s ({cpu_seconds:,.1f} s of this process's CPU; {rows_text})",
                     limit_text=limit, ratio_text=_ratio(seconds, read), target_text="none in issue 18",
                     commands=[command], value=seconds)

    def history_writer(self) -> None:
        """The write path with the history's marking on against the tree before it (--writer-base):
        bench/writer_ab.py, the writer's CPU per item, 3 alternating rounds."""
        base = self.args.writer_base
        if base is None:
            self.notes.append("6. the write path against the commit before the health history: not measured "
                              "(give --writer-base, a worktree of that commit)")
            return
        QUIET.wait()
        command = [sys.executable, str(BENCH / "writer_ab.py"), str(base), "--rounds", "3", "--seconds", "10"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            self.notes.append(f"6. writer A/B failed: {done.stderr[-400:]!r}")
            return
        for line in done.stdout.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) != 4 or cells[0] not in ("sqlite", "postgres"):
                continue
            ratio = float(cells[3])
            self.row(scenario="6. the write path (group commit alone, batches) with the health history on",
                     engine=cells[0], server="none (bench/writer_cpu.py)",
                     figure=f"{cells[2]} items per CPU-second of the writer (wall in brackets)",
                     limit_text=f"the commit before: {cells[1]}", ratio_text=f"{ratio:.3f}",
                     target_text="≥ 0.90 (within 10%)", met=ratio >= 0.90,
                     commands=[shlex.join(command)], value=ratio)

    # 7. the writer with ten enabled event playbooks ----------------------------------------

    def playbooks_writer(self, engine: str) -> None:
        """The write path's throughput with ten enabled event playbooks beside none (bench/playbook_writer.py)."""
        QUIET.wait()
        found = playbook_writer.measure(engine, self.batches_file)
        share = found["share"]
        self.row(scenario="7. the writer (group commit, in process) with ten enabled event playbooks",
                 engine=engine, server="none (in process)",
                 figure=f"{_n(found['ten'])} items/s of the writer's CPU (median of {len(found['rounds']['ten'])} "
                        f"rounds; {found['inbox_rows']:,} trigger inbox rows kept)",
                 limit_text=f"the same writer, no playbook: {_n(found['none'])} items/s",
                 ratio_text=f"{share:.0%} of it",
                 target_text=f"at least {playbook_writer.TARGET_SHARE:.0%} of it",
                 met=found["met"],
                 reason=None if found["met"] else "listening playbooks cost the writer more than a tenth",
                 commands=[found["command"]], value=found["ten"])

    def profiler(self, server: harness.Server, seconds: int, name: str):  # type: ignore[no-untyped-def]
        if not self.args.profile or not (harness.VENV_BIN / "py-spy").exists():
            return None
        from profiling import Profiler

        return Profiler(server.process.pid, seconds, self.args.out / "profiles" / f"{name}.md")

    def finish_profile(self, profiler, title: str) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
        if profiler is None:
            return None
        spy = profiler.finish(title)
        if not spy:
            self.notes.append(f"py-spy recorded nothing for {title}")
            return None
        path = spy["path"]
        spy["command"] = f"py-spy record --nonblocking --rate 100 (summary: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path})"
        return spy

    def memory_row(self, engine: str, scenario: str, memory: dict[str, float], commands: list[str]) -> None:
        peak = max(memory["rss_peak_mb"], memory["vmhwm_mb"])
        self.row(scenario=f"4. server memory during {scenario}", engine=engine, server=scenario.split("(")[-1].rstrip(")")
                 if "(" in scenario else "uvicorn",
                 figure=f"VmRSS peak {memory['rss_peak_mb']:.0f} MB during the scenario, {memory['rss_end_mb']:.0f} MB "
                        f"at its end; VmHWM {memory['vmhwm_mb']:.0f} MB (since start, start-up included)",
                 limit_text=f"target {RSS_TARGET_MB} MB", ratio_text=f"{peak / RSS_TARGET_MB:.2f}",
                 target_text=f"< {RSS_TARGET_MB} MB", met=peak < RSS_TARGET_MB,
                 commands=commands + ["/proc/PID/status VmRSS (sampled every 0.25 s) and VmHWM of the server "
                                      "process and its children"])
        self.chart["memory"].append({"label": f"{scenario.split(' ', 1)[1]} {ENGINE_NAMES[engine]}",
                                     "value": memory["rss_peak_mb"], "hwm": memory["vmhwm_mb"], "color": engine})

    # 3. reads -----------------------------------------------------------------------------

    def reads(self, engine: str, marker: dict[str, Any]) -> None:
        a = self.args
        project = marker["project"]
        authorization = basic(project["token"], project["secret"])
        paths = readdata.read_paths(CACHE)
        events = marker["counts"]["events"]
        warmed = readdata.warm(engine, events)
        self.notes.append(f"{ENGINE_NAMES[engine]}: the read database was read whole into memory before the read "
                          f"scenarios ({warmed:.0f} s; readdata.warm)")
        with harness.salesmachine_server(f"reads-{engine}", readdata.url_for(engine, events)) as server:
            for name, path_file in paths.items():
                first = path_file.read_text().split("\n", 1)[0]
                if name == "revenue report" and not _answers(server.url + first, authorization):
                    self.notes.append(f"{ENGINE_NAMES[engine]}: GET /v1/revenue did not answer 200 on this server: "
                                      "revenue reads skipped")
                    continue
                profile = name in ("contact profile", "latest 50 events")
                QUIET.wait()
                usage = ""
                if profile:
                    # Many small queries: wrk, 4 connections, after a warm-up.
                    wrk(server.url, "read.lua", [str(path_file), authorization], a.read_connections, a.read_warmup)
                    sampler = RssSampler(server.process.pid)
                    sampler.start()
                    result = wrk(server.url, "read.lua", [str(path_file), authorization], a.read_connections,
                                 a.read_seconds, timeout=30)
                    used = sampler.stop()
                    usage = "; " + cpu(used, result)
                    p50, p99, n, rate = (result.latency_ms("p50"), result.latency_ms("p99"), result.data["ok"],
                                         result.ok_per_second)
                    failures, command = result.failures, result.command
                else:
                    # Aggregates over the whole project taking about a second: one at a time (with
                    # several at once on 2 cores wrk would measure the queue, and requests it
                    # abandons at its end would keep the server busy into the next measurement).
                    timed = timed_client(server.url + first, authorization, a.read_seconds)
                    p50, p99, n, rate, failures = (timed["p50"], timed["p99"], timed["n"], timed["rate"],
                                                   timed["failures"])
                    command = (f"bench/run.py timed client: GET {first} one request at a time for "
                               f"{a.read_seconds} s (at least 5 requests) after one untimed request")
                met = (failures == 0 and p99 < PROFILE_TARGET_P99_MS) if profile else None
                self.row(scenario=f"3. reads: {name} (`{first}`)", engine=engine, server="uvicorn",
                         figure=f"p50 {p50:.1f} ms, p99 {p99:.1f} ms ({_n(rate, 1)} req/s, "
                                f"{n:,} answered, {failures} failed{usage})",
                         limit_text=f"target {PROFILE_TARGET_P99_MS} ms" if profile else "—",
                         ratio_text=f"{p99 / PROFILE_TARGET_P99_MS:.2f}" if profile else "—",
                         target_text=f"p99 < {PROFILE_TARGET_P99_MS} ms" if profile else "none in issue 5",
                         met=met, commands=[server.command, command],
                         reason=read_reason(used["server_cores"], rate, a.read_connections) if met is False else None)
                self.chart["latency"].append({"label": f"{name} {ENGINE_NAMES[engine]}", "p50": p50, "p99": p99,
                                              "color": engine})

    def dashboard_reads(self, engine: str, marker: dict[str, Any]) -> None:
        """The dashboard's home page and the health-filtered lists (API and pages), each under
        100 ms on the read database (issue 16, item 15): bench/list_reads.py's requests, best of
        three, whole request over loopback."""
        project = marker["project"]
        database = readdata.url_for(engine, marker["counts"]["events"])
        list_reads.dashboard_user(database, project["id"])
        wanted = [path for path in list_reads.PATHS if path in list_reads.TARGETS]
        pages = [page for page in list_reads.PAGES if page in list_reads.TARGETS]
        QUIET.wait()
        measured = list_reads.measure(database, (project["token"], project["secret"]), project["id"],
                                      list_reads.free_port(), None, wanted, pages)
        for path, (seconds, _, first) in measured.items():
            target = list_reads.TARGETS[path]
            ms, first_ms = seconds * 1000, first * 1000
            met = ms < target
            reason = None
            if not met:
                reason = (f"{ms:.0f} ms for one request alone (best of 3, over loopback): the page's queries and "
                          "its rendering, in one Python process; bench/list_reads.py times the same request beside "
                          "an older server's")
            self.row(scenario=f"3. reads: dashboard `{path}`", engine=engine, server="uvicorn",
                     figure=f"{ms:,.0f} ms best of 3 (first read {first_ms:,.0f} ms)",
                     limit_text=f"target {target} ms", ratio_text=f"{ms / target:.2f}",
                     target_text=f"< {target} ms (issue 16, item 15)", met=met,
                     commands=[f"bench/list_reads.py measure: salesmachine serve on the read database, GET {path} "
                               "three times, signed in for /p/ pages"], reason=reason)

    # 4. the Python client -----------------------------------------------------------------

    def client_memory(self) -> None:
        sdk = ROOT / "sdks" / "python"
        if not any(sdk.glob("**/salesmachine/__init__.py")):
            self.notes.append("Python client memory with a full queue: not measured, sdks/python holds no "
                              "`salesmachine` package in this tree")
            return
        command = [sys.executable, str(BENCH / "clientmem.py"), "token", "secret", "10000"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("{")), None)
        shown = "python bench/clientmem.py TOKEN SECRET 10000"
        if done.returncode != 0 or line is None:
            self.notes.append(f"Python client memory: `{shown}` failed: {(done.stderr or done.stdout)[-400:]!r}")
            return
        data = json.loads(line)
        state = subprocess.run(["git", "status", "--porcelain", "--", "sdks/python"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        if state:
            self.notes.append("The Python client was measured as found in the working tree (sdks/python had "
                              "uncommitted files)")
        self.row(scenario="4. Python client, full queue (10,000 events, server unreachable)", engine="none",
                 server="client", figure=f"RSS {data['rss_full_mb']:.0f} MB full vs {data['rss_baseline_mb']:.0f} MB "
                 f"empty: {data['per_item_bytes']:.0f} bytes per queued event; "
                 f"{data['enqueue_us_per_call']:.1f} µs per call; {data['calls']:,} calls: {data['queue_depth']} queued, "
                 f"{data['dropped']} dropped",
                 commands=[shown])

    # the whole run ------------------------------------------------------------------------

    def run(self, engines: list[str], read_markers: dict[str, dict[str, Any]], only: set[str]) -> None:
        self.prepare_bodies()
        if "limits" in only:
            log("limit: bare HTTP")
            self.bare_http()
            log("limit: the app without the store")
            self.app_without_store()
        for engine in engines:
            if "limits" in only:
                log(f"{engine}: limit: raw insert")
                self.raw_insert(engine)
            if "batch" in only:
                log(f"{engine}: 1. batch ingestion")
                self.batch_ingestion(engine)
            if "single" in only:
                log(f"{engine}: 2. single calls (uvicorn)")
                self.single_calls(engine, "uvicorn")
                if harness.granian_available():
                    log(f"{engine}: 2. single calls (granian)")
                    self.single_calls(engine, "granian")
            if "erasure" in only:
                log(f"{engine}: 5. ingestion during an erasure")
                self.ingestion_during_erasure(engine)
            if "health" in only:
                log(f"{engine}: 6. the health history of {health_history.ACCOUNTS:,} accounts and "
                    f"{health_history.CONTACTS:,} contacts")
                self.health_history(engine)
            if "playbooks" in only:
                log(f"{engine}: 7. the writer with ten enabled event playbooks")
                self.playbooks_writer(engine)
            if "reads" in only and engine in read_markers:
                log(f"{engine}: 3. reads")
                self.reads(engine, read_markers[engine])
                log(f"{engine}: 3. reads: the dashboard's home and health lists")
                self.dashboard_reads(engine, read_markers[engine])
        if "postgres" in engines:
            harness.drop_postgres(INGEST_DB)
        if "client" in only:
            log("4. Python client memory")
            self.client_memory()
        if "health" in only:
            log("6. the write path with the health history on, against the commit before")
            self.history_writer()


def timed_client(url: str, authorization: str, seconds: float) -> dict[str, Any]:
    """Latency of one request at a time: nearest-rank p50 and p99 (p99 is the slowest of fewer than
    100 requests)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": authorization})
    times, failures = [], 0
    _answers(url, authorization)
    started = time.perf_counter()
    while (time.perf_counter() - started < seconds or len(times) + failures < 5) and len(times) < 10_000:
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                answer.read()
                ok = answer.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        if ok:
            times.append((time.perf_counter() - t) * 1000)
        else:
            failures += 1
    elapsed = time.perf_counter() - started
    times.sort()

    def rank(p: float) -> float:
        return times[max(0, min(len(times) - 1, int(-(-len(times) * p // 100)) - 1))] if times else 0.0

    return {"p50": rank(50), "p99": rank(99), "n": len(times), "rate": len(times) / elapsed, "failures": failures}


def _answers(url: str, authorization: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": authorization}),
                                    timeout=60) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Usage:
    """CPU of this process (the raw insert runs in it), PostgreSQL, the kernel and the rest,
    from now until stop()."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._self = self._own()
        self._system = harness.system_cpu()
        self._machine = harness.machine_busy()

    @staticmethod
    def _own() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def stop(self) -> str:
        elapsed = time.monotonic() - self._t0
        cores = os.cpu_count() or 1
        busy, total, interrupts = harness.machine_busy()
        span = max(1, total - self._machine[1])
        own = self._own()
        # The raw insert has just closed its connection: let its backend exit and be reaped, or
        # a scan of /proc could read the postmaster before the reap and miss the backend after.
        time.sleep(0.5)
        system = harness.system_cpu()
        usage = {"server_cores": (own - self._self) / elapsed,
                 "postgres_cores": max(0.0, system["postgres"] - self._system["postgres"]) / elapsed,
                 "kernel_cores": max(0.0, system["kernel"] - self._system["kernel"]) / elapsed
                 + cores * (interrupts - self._machine[2]) / span,
                 "machine_cores": cores * (busy - self._machine[0]) / span}
        return cpu(usage, None, "Python and driver")


class Quiet:
    """Waits, before a measurement, for other processes on the machine (other people's tests,
    builds) to stop using the CPU: at most `budget` seconds over the whole run. What could not
    be waited out is reported in the row (`other` CPU) and marked as disturbed."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.waited = 0.0

    def wait(self, threshold: float = 0.3) -> float:
        """Returns when a second passes with others under `threshold` cores, or when the budget
        is spent: then the cores others were using (0 when quiet)."""
        while True:
            before = harness.machine_busy()
            time.sleep(1)
            after = harness.machine_busy()
            busy = (os.cpu_count() or 1) * (after[0] - before[0]) / max(1, after[1] - before[1])
            if busy < threshold:
                return 0.0
            self.waited += 1
            if self.waited >= self.budget:
                return busy


QUIET = Quiet(60)
DISTURBED = 0.25  # cores used by other processes above which a figure is marked


def group_commits(url: str) -> str:
    """The writer's own account of the run, from /metrics: how many requests and items each
    group commit took, and how long a commit took. Empty when the metrics are not there."""
    import re
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return ""

    def value(pattern: str) -> float | None:
        found = re.search(rf"^{pattern} ([0-9.e+]+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else None

    commits = value("salesmachine_commits_total")
    jobs = value("salesmachine_write_jobs_total")
    items = value('salesmachine_items_total\\{outcome="accepted"\\}')
    seconds = value("salesmachine_commit_seconds_sum")
    if not commits or jobs is None or items is None or seconds is None:
        return ""
    return (f"group commit: {commits:,.0f} commits of {jobs / commits:.1f} requests and {items / commits:,.0f} items "
            f"on average, {1000 * seconds / commits:.1f} ms each")


def why(memory: dict[str, float], result: WrkResult, spy: dict[str, Any] | None, groups: str = "",
        above_limit: str = "") -> str:
    """The measured reason a throughput target is not met: where the CPU went, and where the
    server's own time went (py-spy). `above_limit` says when the target itself is beyond a
    limit measured in the same run (no server could meet it here)."""
    parts = [above_limit] if above_limit else []
    if result.failures:
        parts.append(f"{result.failures} requests failed")
    server, postgres = memory["server_cores"], memory["postgres_cores"]
    other = max(0.0, memory["machine_cores"] - server - postgres - memory["kernel_cores"] - result.cores)
    if server >= 0.85:
        parts.append(f"the server process is CPU-bound ({server:.2f} cores: Python runs on one)")
    elif other > DISTURBED:
        parts.append(f"the server got {server:.2f} cores while other processes took {other:.2f}: this figure is "
                     "not the server's limit")
    elif postgres >= 0.01:
        parts.append(f"the server used {server:.2f} cores and PostgreSQL {postgres:.2f}, neither a full core: "
                     "the one writer's Python and PostgreSQL's work on its statements take turns (commits are serial)")
    else:
        parts.append(f"the server used {server:.2f} cores, less than a full one: it waits (on the disk, or for work)")
    if spy:
        thread, share = spy["threads"][0]
        top = ", ".join(f"{frame.split(' (')[0]} {frac:.0%}" for frame, frac in spy["own"][:3])
        parts.append(f"py-spy: thread {thread} {share:.0%} of samples; most own time in {top}")
    if groups:
        parts.append(groups)
    return "; ".join(parts)


def read_reason(server_cores: float, rate: float, connections: int) -> str:
    """Why a read's p99 is over its target, from what the run measured: the server's CPU per
    answer, and the queue that the other connections' requests make in front of each one."""
    per_request = 1000 * server_cores / rate if rate else float("nan")
    return (f"the server spent {server_cores:.2f} cores on {rate:,.0f} answers/s: {per_request:.1f} ms of CPU per "
            f"answer in one Python process, so with {connections} connections an answer waits behind up to "
            f"{connections - 1} others (about {connections * per_request:.0f} ms); the p99 is that queue plus the "
            "hand-overs of the interpreter lock between the request threads")


def _beyond_raw(target: float, raw: float | None) -> str:
    if raw is None or target <= raw:
        return ""
    return (f"the target ({target:,.0f} items/s) is above the raw insert limit measured here ({raw:,.0f} rows/s "
            "of events alone, straight through the driver): out of reach on this machine")


def cpu(memory: dict[str, float], result: WrkResult | None, who: str = "server") -> str:
    """Where the machine's CPU went: the server, PostgreSQL, wrk, the kernel (interrupts and
    kernel threads: loopback networking, disk writes), and anything else: another process's
    load disturbs a figure, and this says when."""
    load = result.cores if result is not None else 0.0
    other = max(0.0, memory["machine_cores"] - memory["server_cores"] - memory["postgres_cores"]
                - memory["kernel_cores"] - load)
    postgres = f"PostgreSQL {memory['postgres_cores']:.2f}, " if memory["postgres_cores"] >= 0.01 else ""
    wrk_part = f"wrk {load:.2f}, " if result is not None else ""
    mark = " — **disturbed** by other processes" if other > DISTURBED else ""
    return (f"CPU: {who} {memory['server_cores']:.2f}, {postgres}{wrk_part}kernel {memory['kernel_cores']:.2f}, "
            f"other {other:.2f} of {os.cpu_count()} cores{mark}")


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, limit: float | None) -> str:
    if value is None or not limit:
        return "—"
    ratio = value / limit
    return f"{ratio:.2f}" if ratio >= 0.1 else f"{ratio:.3f}"


def prepare_reads(engines: list[str], events: int) -> tuple[dict[str, dict[str, Any]], str]:
    """Cached read databases, generated (in parallel, one per engine) when missing."""
    markers: dict[str, dict[str, Any]] = {}
    todo = []
    for engine in engines:
        marker = readdata.cached(engine, events)
        if marker is None:
            todo.append(engine)
        else:
            markers[engine] = marker
    if todo:
        log(f"generating the read databases ({events:,} events) for {', '.join(todo)}; cached afterwards")
        failures: dict[str, BaseException] = {}

        def one(engine: str) -> None:
            try:
                markers[engine] = readdata.generate(engine, events, log=log)
            except BaseException as exc:  # reported below
                failures[engine] = exc

        threads = [threading.Thread(target=one, args=(e,)) for e in todo]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine, exc in failures.items():
            log(f"generating the {engine} read database failed: {exc!r}")
    parts = []
    for engine in engines:
        if engine in markers:
            m = markers[engine]
            state = "generated in this run" if engine in todo else "cached"
            parts.append(f"{ENGINE_NAMES[engine]} {state}: generated {m['generated_at'][:16]} in {m['seconds']:.0f} s "
                         f"({m['counts']['events']:,} events)")
    return markers, "; ".join(parts) or "not used"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--quick", action="store_true", help="5 s scenarios and 1,000,000 read events (a smoke run)")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--only", default="limits,batch,single,reads,client,erasure,health,playbooks,journal",
                        help="scenarios to run, of: limits,batch,single,reads,client,erasure,health,playbooks,journal "
                             "(journal: bench/write_path.py, issue 20's rows, into results/write-path.md)")
    parser.add_argument("--writer-base", type=Path,
                        help="scenario 6: a worktree of the commit before the health history, to compare "
                             "the write path with (bench/writer_ab.py)")
    parser.add_argument("--erasure-events", type=int, default=1_000_000,
                        help="events of the contact erased in scenario 5")
    parser.add_argument("--batch-seconds", type=int, default=30)
    parser.add_argument("--single-seconds", type=int, default=20)
    parser.add_argument("--bare-seconds", type=int, default=10)
    parser.add_argument("--raw-seconds", type=float, default=6)
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--read-warmup", type=int, default=2)
    parser.add_argument("--batch-connections", type=int, default=16)
    parser.add_argument("--single-connections", type=int, default=64)
    parser.add_argument("--read-connections", type=int, default=4)
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="do not attach py-spy to the server in scenarios 1 and 2 (summaries in results/profiles/)")
    parser.add_argument("--events", type=int, default=readdata.EVENTS, help="events in the read database")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where LATEST.* are written")
    parser.add_argument("--health-divisor", type=int, default=None,
                        help="scenario 6 at 1/N of the target scale (a quick check: 20 takes a minute or two; "
                             "--quick means 10)")
    args = parser.parse_args()
    if args.quick:
        args.batch_seconds = args.single_seconds = args.bare_seconds = args.read_seconds = 5
        args.raw_seconds, args.read_warmup, args.events = 3, 1, 1_000_000
        args.erasure_events = 100_000
        health_history.set_scale(10)
    if args.health_divisor is not None:
        health_history.set_scale(args.health_divisor)
    started = time.perf_counter()
    CACHE.mkdir(exist_ok=True)
    ensure_tools()
    engines = [e for e in args.engines.split(",") if e]
    notes = []
    if "postgres" in engines and not harness.postgres_available():
        engines.remove("postgres")
        notes.append(f"PostgreSQL could not be reached at {harness.POSTGRES_ADMIN}: its scenarios were skipped")
    machine = machine_info()
    only = set(args.only.split(","))
    if args.skip_reads:
        only.discard("reads")
    markers, reads_note = prepare_reads(engines, args.events) if "reads" in only else ({}, "not used")
    prepared = time.perf_counter()
    bench = Bench(args)
    bench.notes += notes
    bench.run(engines, markers, only)
    finished = time.perf_counter()
    durations = (f"batch ingestion {args.batch_seconds} s, single calls {args.single_seconds} s, bare HTTP "
                 f"{args.bare_seconds} s, raw insert {args.raw_seconds:g} s per size, reads {args.read_seconds} s "
                 f"each after {args.read_warmup} s warm-up; wrk -t1, {args.batch_connections} connections for batches, "
                 f"{args.single_connections} for single calls, {args.read_connections} for reads")
    bench.notes.append(f"Time: scenarios {finished - prepared:.0f} s; preparing the read databases "
                       f"{prepared - started:.0f} s (a cached database costs nothing)")
    bench.notes.append(f"Before each measurement the runner waited for the machine to be quiet (other processes "
                       f"under 0.3 cores for a second): {QUIET.waited:.0f} s of waiting in all (at most "
                       f"{QUIET.budget:.0f} s); a row whose `other` CPU is above {DISTURBED} cores is marked disturbed")
    if args.profile:
        bench.notes.append("py-spy (sampling at 100 Hz without pausing the server) was attached to the server during "
                           "scenarios 1 and 2 on uvicorn, for the reasons in the `met` column; it costs a few percent "
                           "of one core (`--no-profile` turns it off)")
    bench.notes.append("Latency percentiles are wrk's (closed loop: a connection sends its next request when the "
                       "previous one is answered), so they include queueing behind the other connections.")
    command = "make bench  (= .venv/bin/python bench/run.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:]
                                                                else "") + ")"
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "seconds": finished - started,
              "machine": machine, "command": command, "durations": durations, "reads_note": reads_note,
              "rows": bench.rows, "notes": bench.notes, "commands": bench.commands, "limits": bench.limits,
              "chart": bench.chart}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "LATEST.json").write_text(json.dumps(result, indent=1, default=str))
    (args.out / "LATEST.md").write_text(report.markdown(result))
    report.chart(result, args.out / "LATEST.png")
    log(f"wrote {args.out / 'LATEST.md'} and LATEST.png in {finished - started:.0f} s")
    print((args.out / "LATEST.md").read_text())
    if "journal" in only:
        # Issue 20's targets (the write path through the journal), their own report.
        subprocess.run([sys.executable, str(BENCH / "write_path.py"), "--engines", ",".join(engines),
                        *(["--quick"] if args.quick else [])], check=False)


if __name__ == "__main__":
    main()
