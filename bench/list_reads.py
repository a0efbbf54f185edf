"""List reads (GET /v1/contacts, /v1/accounts: what the dashboard's lists show) and the
dashboard's home and health-filtered list pages on the read database of the benchmark
(bench/readdata.py: 100,000 contacts, 10,000 accounts, 10,000,000 events, SQLite or
PostgreSQL), best of three, optionally beside another version of the server's code.

    .venv/bin/python bench/list_reads.py [--engine sqlite|postgres] [--before path/to/older/server/src]

Writes bench/results/list-reads.md (list-reads-postgres.md). `--before` takes a source tree
(e.g. from `git archive <commit> server/src | tar -x -C /tmp/before`) and checks both answer the
same rows (for pages: the same rows, totals, health bands, accounts turned bad). Targets: the home page
and health-filtered lists under 100 ms (issue 16, item 15).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
import readdata  # noqa: E402

PATHS = ["/v1/contacts", "/v1/contacts?sort=-mrr", "/v1/contacts?plan=pro", "/v1/contacts?health=bad",
         "/v1/contacts?health=good", "/v1/accounts", "/v1/accounts?mrr>100", "/v1/accounts?health=bad",
         "/v1/accounts?health=average"]
# Dashboard pages ({p}: the project's id), read signed in: the home page (health bands, accounts
# that just turned bad) and list pages with their counts.
PAGES = ["/p/{p}/", "/p/{p}/contacts?health=bad", "/p/{p}/accounts?health=bad", "/p/{p}/accounts?health=good"]
TARGETS = {path: 100 for path in PATHS + PAGES if "health" in path or path == "/p/{p}/"}
USER, PASSWORD = "bench@example.com", "bench password, not secret"
RESULTS = {"sqlite": HERE / "results" / "list-reads.md", "postgres": HERE / "results" / "list-reads-postgres.md"}


def serve(database: str, port: int, source: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SALESMACHINE_SECRET_KEY": harness.SERVER_KEY, "SALESMACHINE_ENRICHMENT": "0"}
    if source:
        env["PYTHONPATH"] = source
    process = subprocess.Popen([sys.executable, "-m", "salesmachine_server", "serve", "--port", str(port),
                                "--database", database], env=env, stdout=subprocess.DEVNULL,
                               stderr=open(harness.CACHE / f"list-reads-{port}.log", "wb"))
    deadline = time.monotonic() + 180  # a loaded machine: a start takes seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode})")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not start")


def head_of(source: str) -> str:
    """The latest migration of a source tree (the one no other revises)."""
    package = Path(source) / "salesmachine_server"
    # store/db/migrations since issue 17's layout; store/migrations before it.
    files = [*package.glob("store/db/migrations/versions/*.py"), *package.glob("store/migrations/versions/*.py")]
    found = {re.search(r"^revision = '([^']+)'", f.read_text(), re.M).group(1):
             re.search(r"^down_revision = '([^']+)'", f.read_text(), re.M) for f in files}
    revised = {m.group(1) for m in found.values() if m}
    (head,) = set(found) - revised
    return head


@contextlib.contextmanager
def stamped(database: str, revision: str) -> Iterator[None]:
    """The database marked as at an older code's latest migration while that code serves it:
    it refuses a revision it does not know, and reads no column it does not know either."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    try:
        with engine.begin() as conn:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": current})
        engine.dispose()


def figures(html: str) -> dict[str, list[str]]:
    """What a page says that the data decides (its relative times aside, which move between two
    runs): the rows of a list and their total; the home page's health bands and accounts that
    need attention."""
    return {
        "rows": re.findall(r'<tr data-uid="([^"]+)"', html),
        "total": re.findall(r'id="total">([^<]+)<', html),
        "bands": re.findall(r'band-count">([^<]+)<', html),
        "needing attention": re.findall(r'id="needs-attention".*?</section>', html, re.S),
    }


def free_port() -> int:
    """A port nobody listens on (other checkouts may run this benchmark at the same time)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dashboard_user(database: str, project_id: int) -> None:
    """The dashboard user the pages are read as, created once per database."""
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.records.users import create_user
    engines = open_engines(database)
    try:
        create_user(engines.writer, USER, PASSWORD, (project_id,))
    except ValueError:
        pass  # created by an earlier run
    finally:
        engines.dispose()


def best_of_three(http: httpx.Client, path: str) -> tuple[float, httpx.Response, float]:
    """The best of three reads, the answer, and the first read's time (the home page's revenue
    is computed on it, then remembered: store/read/revenue.py)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        answer = http.get(path)
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    return min(times), answer, times[0]


def measure(database: str, auth: tuple[str, str], project_id: int, port: int, source: str | None,
            paths: list[str] = PATHS, pages: list[str] = PAGES) -> dict[str, tuple[float, object, float]]:
    """{path or page: (best of three in seconds, what it answered, first read in seconds)}."""
    process = serve(database, port, source)
    measured: dict[str, tuple[float, object, float]] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=auth, timeout=300) as http:
            for path in paths:
                seconds, answer, first = best_of_three(http, path)
                measured[path] = (seconds, answer.json()["data"], first)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as dash:
            csrf = re.search(r'name="csrf" value="([^"]+)"', dash.get("/signin").text).group(1)
            signed = dash.post("/signin", data={"csrf": csrf, "email": USER, "password": PASSWORD, "next": "/"})
            assert signed.status_code == 303, signed.text
            for page in pages:
                seconds, answer, first = best_of_three(dash, page.format(p=project_id))
                measured[page] = (seconds, figures(answer.text), first)
    finally:
        process.terminate()
        process.wait()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--before", help="another server/src to measure beside this one")
    args = parser.parse_args()
    engine = args.engine
    marker = readdata.cached(engine) or readdata.generate(engine)  # generated once: about 5 minutes
    readdata.warm(engine)  # the data in memory, as on a server answering for a while (readdata.warm)
    database, project = readdata.url_for(engine), marker["project"]
    auth = (project["token"], project["secret"])
    dashboard_user(database, project["id"])
    after = measure(database, auth, project["id"], free_port(), None)
    before = None
    if args.before:
        with stamped(database, head_of(args.before)):
            before = measure(database, auth, project["id"], free_port(), args.before)
    command = f".venv/bin/python bench/list_reads.py --engine {engine}" + (f" --before {args.before}" if before else "")
    lines = ["# List reads on 10,000,000 events", "",
             f"Command: `{command}`  ",
             f"Machine: {os.cpu_count()} cores (shared), CPython {platform.python_version()}, {engine}; "
             f"date {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; whole request over loopback, best of 3. "
             "Pages (/p/…) are the dashboard's, signed in.", ""]

    def target(path: str) -> str:
        if path not in TARGETS:
            return ""
        return f"< {TARGETS[path]} ms: {'met' if after[path][0] * 1000 < TARGETS[path] else 'MISSED'}"

    if before:
        lines += ["| request | before | now | now, first read | target | rows |", "|---|---|---|---|---|---|"]
        for path in PATHS + PAGES:
            same = "same" if before[path][1] == after[path][1] else "DIFFERENT"
            lines.append(f"| `{path}` | {before[path][0] * 1000:,.0f} ms | {after[path][0] * 1000:,.0f} ms "
                         f"| {after[path][2] * 1000:,.0f} ms | {target(path)} | {same} |")
    else:
        lines += ["| request | time | first read | target |", "|---|---|---|---|"]
        lines += [f"| `{path}` | {after[path][0] * 1000:,.0f} ms | {after[path][2] * 1000:,.0f} ms | {target(path)} |"
                  for path in PATHS + PAGES]
    lines += ["", "Time: best of 3; first read: the first of the three, right after the server started (the "
              "home page computes its revenue report then and remembers it until the revenue rows change: "
              "store/read/revenue.py)."]
    RESULTS[engine].write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
