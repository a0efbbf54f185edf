"""Where a write request's CPU goes, live: `salesmachine serve` under wrk, and the CPU each of
its processes (and each of their threads) spent per acknowledged request, from /proc. For A/B
runs while making the write path cheaper; on a machine whose speed drifts, interleave them.

    .venv/bin/python bench/request_cpu.py [--engine sqlite|postgres] [--seconds 10]
                                          [--batch] [--stop-projector]

--batch sends batches of 100 on 16 connections instead of single events on 64;
--stop-projector stops the projector (SIGSTOP) while wrk runs: what the workers alone can
acknowledge, the journal absorbing everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import workload  # noqa: E402
from write_path import CACHE, database  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> dict[str, tuple[str, float, float]]:
    """Each thread's (name, user seconds, system seconds)."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            continue
        found[tid] = (name, int(fields[11]) / TICKS, int(fields[12]) / TICKS)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--stop-projector", action="store_true")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.batch:
        bodies, path, expect, connections = CACHE / "bodies-batch.ndjson", "/v1/batch", '"accepted":100', 16
        if not bodies.exists():
            workload.write_batches(bodies, 1000)
    else:
        bodies, path, expect, connections = CACHE / "bodies-single.ndjson", "/v1/track/event", "", 64
        if not bodies.exists():
            workload.write_singles(bodies, 20_000)
    url = database(args.engine, "request-cpu")
    project = harness.create_project(url)
    with harness.salesmachine_server(f"request-cpu-{args.engine}", url) as server:
        time.sleep(1)
        assert server.process is not None
        pids = harness.children(server.process.pid)
        before = {pid: threads(pid) for pid in pids}
        projectors = [pid for pid in pids if any(n == "sm-projector" for n, _, _ in before[pid].values())]
        stopped = projectors if args.stop_projector else []
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            result = harness.wrk(f"{server.url}{path}", "write.lua", [str(bodies), harness.basic(project["token"]), expect],
                                 connections, args.seconds)
            after = {pid: threads(pid) for pid in pids}
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
    if args.engine == "postgres":
        harness.drop_postgres("salesmachine_bench_request-cpu")
    n = result.data["ok"]
    print(f"{result.ok_per_second:,.0f} req/s, p99 {result.latency_ms('p99'):.1f} ms, {result.failures} failed; "
          f"wrk {result.cores:.2f} cores" + ("; the projector stopped" if stopped else ""))
    total = 0.0
    for pid in pids:
        rows = []
        for tid, (name, user, system) in after[pid].items():
            _, user0, system0 = before[pid].get(tid, (name, 0.0, 0.0))
            used = (user - user0) + (system - system0)
            total += used
            if used > 0:
                rows.append(f"    thread {tid} {name}: {1e6 * used / n:.1f} µs per request "
                            f"({1e6 * (system - system0) / n:.1f} in the kernel)")
        print(f"  process {pid}:")
        print("\n".join(rows) or "    (no CPU)")
    print(f"the server's CPU: {1e6 * total / n:.1f} µs per request")


if __name__ == "__main__":
    main()
