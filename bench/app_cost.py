"""The application's own CPU per request, without HTTP: the ASGI app called directly, in
process, for A/B runs while tuning (bench/results/tuning.md).

    .venv/bin/python bench/app_cost.py write     # single events, the group commit answering at once
    .venv/bin/python bench/app_cost.py profile   # contact profiles on the cached 10M-event SQLite database

`write` uses a fresh SQLite database and scenario 2's bodies (bench/.cache/bodies-single.ndjson,
made by `make bench`); `profile` needs the read database `make bench` generates, and gives
steady figures only once that file is in the page cache (run it twice, or readdata.warm).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import nostore_app

from salesmachine_server.app import create_app
from salesmachine_server.settings import Settings
CACHE = Path(__file__).resolve().parent / ".cache"


def scope(method: str, path: str, authorization: bytes, body: bytes = b"") -> dict[str, Any]:
    headers = [(b"host", b"bench"), (b"authorization", authorization)]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {}}


async def call(app: Any, request: dict[str, Any], body: bytes, status: int) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(request, receive, send)
    assert sent[0]["status"] == status, sent


async def measure(app: Any, requests: list[tuple[dict[str, Any], bytes]], status: int) -> None:
    startup: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        started.append(message)

    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                       startup.get, send))
    while not started:
        await asyncio.sleep(0.01)
    for request, body in requests[:200]:  # warm-up: caches, first compilations
        await call(app, request, body, status)
    wall, cpu = time.perf_counter(), time.process_time()
    for request, body in requests:
        await call(app, request, body, status)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{len(requests):,} requests: {1e6 * wall / len(requests):,.0f} µs wall, "
          f"{1e6 * cpu / len(requests):,.0f} µs CPU each")
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["write", "profile"])
    args = parser.parse_args()
    os.environ["SALESMACHINE_SECRET_KEY"] = harness.SERVER_KEY
    if args.what == "write":
        url = harness.sqlite_url(Path(tempfile.mkdtemp()) / "app-cost.db")
        project = harness.create_project(url)
        authorization = harness.basic(project["token"]).encode()
        bodies = (CACHE / "bodies-single.ndjson").read_bytes().splitlines()[:2000]
        requests = [(scope("POST", "/v1/track/event", authorization, b), b) for b in bodies] * 10
        asyncio.run(measure(nostore_app.create(url), requests, 201))  # the group commit answers at once
    else:
        meta = json.loads((CACHE / "reads-sqlite.json").read_text())["project"]
        authorization = harness.basic(meta["token"], meta["secret"]).encode()
        paths = (CACHE / "reads-contact-profile.txt").read_text().split()[:300]
        url = harness.sqlite_url(CACHE / "reads.sqlite")
        requests = [(scope("GET", path, authorization), b"") for path in paths]
        asyncio.run(measure(create_app(Settings.from_env(database_url=url)), requests, 200))


if __name__ == "__main__":
    main()
