"""List reads (GET /v1/contacts, /v1/accounts: what the dashboard's lists show) on the read
database of the benchmark (bench/readdata.py: 100,000 contacts, 10,000 accounts, 10,000,000
events, SQLite), best of three, optionally beside another version of the server's code.

    .venv/bin/python bench/list_reads.py [--before path/to/older/server/src]

Writes bench/results/list-reads.md. `--before` takes a source tree (e.g. from
`git archive <commit> server/src | tar -x -C /tmp/before`) and checks both answer the same rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
import readdata  # noqa: E402

PATHS = ["/v1/contacts", "/v1/contacts?sort=-mrr", "/v1/contacts?plan=pro", "/v1/contacts?health=bad",
         "/v1/accounts", "/v1/accounts?mrr>100", "/v1/accounts?health=bad"]
RESULTS = HERE / "results" / "list-reads.md"


def serve(database: str, port: int, source: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SALESMACHINE_SECRET_KEY": harness.SERVER_KEY, "SALESMACHINE_ENRICHMENT": "0"}
    if source:
        env["PYTHONPATH"] = source
    process = subprocess.Popen([sys.executable, "-m", "salesmachine_server", "serve", "--port", str(port),
                                "--database", database], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def measure(database: str, auth: tuple[str, str], port: int, source: str | None) -> dict[str, tuple[float, list]]:
    process = serve(database, port, source)
    measured = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=300) as http:
            for path in PATHS:
                times = []
                for _ in range(3):
                    start = time.perf_counter()
                    answer = http.get(path)
                    times.append(time.perf_counter() - start)
                    assert answer.status_code == 200, answer.text
                measured[path] = (min(times), answer.json()["data"])
    finally:
        process.terminate()
        process.wait()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="another server/src to measure beside this one")
    args = parser.parse_args()
    marker = readdata.cached("sqlite") or readdata.generate("sqlite")  # generated once: about 5 minutes
    database, project = readdata.url_for("sqlite"), marker["project"]
    auth = (project["token"], project["secret"])
    after = measure(database, auth, 18772, None)
    before = measure(database, auth, 18771, args.before) if args.before else None
    lines = ["# List reads on 10,000,000 events", "",
             f"Command: `.venv/bin/python bench/list_reads.py{' --before ' + args.before if args.before else ''}`  ",
             f"Machine: {os.cpu_count()} cores, CPython {platform.python_version()}, SQLite; "
             f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; whole request over loopback, best of 3", ""]
    if before:
        lines += ["| request | before | now | rows |", "|---|---|---|---|"]
        for path in PATHS:
            same = "same" if before[path][1] == after[path][1] else "DIFFERENT"
            lines.append(f"| `{path}` | {before[path][0] * 1000:,.0f} ms | {after[path][0] * 1000:,.0f} ms | {same} |")
    else:
        lines += ["| request | time |", "|---|---|"]
        lines += [f"| `{path}` | {after[path][0] * 1000:,.0f} ms |" for path in PATHS]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
