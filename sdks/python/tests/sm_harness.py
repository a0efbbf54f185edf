"""The real things the client's tests run against: the server process, its SQLite file, and a
small HTTP proxy that can fail on purpose.

Nothing here imports the server's Python package: the server is reached the way users reach
it, through its command line and over HTTP, and what it stored is read from its database
with the standard library's sqlite3.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

REPO = Path(__file__).resolve().parents[3]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command() -> list[str]:
    """`salesmachine`, the server's console script: $SALESMACHINE_SERVER_BIN, else beside
    this interpreter, else in the repository's .venv."""
    candidates = [
        os.environ.get("SALESMACHINE_SERVER_BIN", ""),
        str(Path(sys.executable).parent / "salesmachine"),
        str(REPO / ".venv" / "bin" / "salesmachine"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return [candidate]
    pytest.fail("the server's `salesmachine` command was not found; install ./server (make venv)")


# The last journal entry the server's projector applied (ingest/journal.py: the counters file).
PROJECTED = (
    "SELECT coalesce((SELECT seq FROM c.projected"
    " WHERE journal_id = (SELECT value FROM meta WHERE key = 'journal_id')), 0)"
)

class ErrorLog(list):  # type: ignore[type-arg]
    """An on_error callback that keeps what it was told: [(exception, messages), ...]."""

    def __call__(self, error: Exception, messages: list[dict[str, Any]]) -> None:
        self.append((error, messages))


@dataclass
class Project:
    id: int
    name: str
    token: str
    secret: str


class Server:
    """`salesmachine serve` as a subprocess on a free port, with its own SQLite file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.database_url = f"sqlite:///{workdir / 'salesmachine.db'}"
        self.db_path = workdir / "salesmachine.db"
        self.log_path = workdir / "server.log"
        self.port = free_port()
        self.process: Optional[subprocess.Popen[bytes]] = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESMACHINE_")}
        # The server reads SALESMACHINE_HOST as the address to listen on; the client reads it
        # as where to send. Tests set it for the client, so keep it from the server.
        env["SALESMACHINE_KEY_FILE"] = str(workdir / "server.key")
        self.env = env
        self._projects = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def create_project(self) -> Project:
        self._projects += 1
        name = f"client-test-{self._projects}-{os.getpid()}"
        out = subprocess.run(
            [*server_command(), "projects", "create", name, "--json", "--database", self.database_url],
            env=self.env, capture_output=True, check=True, timeout=60,
        ).stdout
        created = json.loads(out)
        return Project(created["id"], created["name"], created["token"], created["secret"])

    def start(self, timeout: float = 30.0) -> "Server":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*server_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--database", self.database_url],
            stdout=log, stderr=subprocess.STDOUT, env=self.env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Stored:
    """What the server stored for one project, read straight from its SQLite file."""

    def __init__(self, db_path: Path, project_id: int) -> None:
        self.db_path = db_path
        self.project_id = project_id

    def settled(self, timeout: float = 30.0) -> None:
        """Wait until the server's projector has applied what its journal acknowledged (the
        journal beside the database: `x.db` -> `x.journal.sqlite`), as the server's own reads do."""
        journal = self.db_path.with_name(f"{self.db_path.stem}.journal.sqlite")
        if not journal.exists():
            return
        conn = sqlite3.connect(journal, timeout=10)
        try:
            # What the projector applied is in the counters file beside the journal, by journal id.
            conn.execute("ATTACH DATABASE ? AS c", (f"{journal}-counters",))
            target = conn.execute("SELECT seq FROM tally WHERE name = 'appended'").fetchone()[0]
            deadline = time.monotonic() + timeout
            while conn.execute(PROJECTED).fetchone()[0] < target:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the projector did not apply {journal} within {timeout} s")
                time.sleep(0.005)
        finally:
            conn.close()

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        self.settled()
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute(sql, (self.project_id, *args)).fetchall()

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT count(*) FROM {table} WHERE project_id = ?")[0][0])

    def contact(self, uid: str) -> Optional[dict[str, Any]]:
        found = self.rows(
            "SELECT c.* FROM contact_uids u JOIN contacts c ON c.id = u.contact_id "
            "WHERE u.project_id = ? AND u.uid = ?", uid,
        )
        if not found:
            return None
        row = found[0]
        return {
            "id": row["id"],
            "params": json.loads(row["params"]),
            "uids": {r[0] for r in self.rows("SELECT uid FROM contact_uids WHERE project_id = ? AND contact_id = ?", row["id"])},
            "accounts": {
                r[0] for r in self.rows(
                    "SELECT a.account_uid FROM memberships m JOIN accounts a ON a.id = m.account_id "
                    "WHERE m.project_id = ? AND m.contact_id = ?", row["id"],
                )
            },
        }

    def account(self, uid: str) -> Optional[dict[str, Any]]:
        found = self.rows("SELECT * FROM accounts WHERE project_id = ? AND account_uid = ?", uid)
        if not found:
            return None
        row = found[0]
        return {
            "params": json.loads(row["params"]),
            "contacts": {
                r[0] for r in self.rows(
                    "SELECT u.uid FROM memberships m JOIN contact_uids u ON u.contact_id = m.contact_id "
                    "WHERE m.project_id = ? AND m.account_id = ?", row["id"],
                )
            },
        }

    def events(self, contact_uid: Optional[str] = None) -> list[dict[str, Any]]:
        """Events in the order stored: all of the project's, or those of one contact."""
        sql = (
            "SELECT e.name, e.kind, e.params, e.occurred_at, e.message_id, c.contact_uid, a.account_uid "
            "FROM events e JOIN contacts c ON c.id = e.contact_id LEFT JOIN accounts a ON a.id = e.account_id "
            "WHERE e.project_id = ?"
        )
        if contact_uid is None:
            rows = self.rows(sql + " ORDER BY e.id")
        else:
            rows = self.rows(
                sql + " AND e.contact_id = (SELECT contact_id FROM contact_uids WHERE project_id = ? AND uid = ?)"
                " ORDER BY e.id", self.project_id, contact_uid,
            )
        return [
            {
                "name": r["name"], "kind": r["kind"], "params": json.loads(r["params"]),
                "occurred_at": datetime.fromisoformat(r["occurred_at"]), "message_id": r["message_id"],
                "contact_uid": r["contact_uid"], "account_uid": r["account_uid"],
            }
            for r in rows
        ]

    def message_ids(self, among: Optional[list[str]] = None) -> list[str]:
        """Message ids the server recorded (each once at most: it is the table's key)."""
        ids = [r[0] for r in self.rows("SELECT message_id FROM message_ids WHERE project_id = ?")]
        return ids if among is None else [i for i in ids if i in set(among)]


@dataclass
class Seen:
    """One request the proxy received, and what it answered."""

    at: float
    path: str
    body: bytes
    status: int = 0

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(json.loads(self.body))


@dataclass
class Fault:
    status: int
    retry_after: Optional[str] = None
    forward: bool = False  # pass the request on first, then lose the server's answer


@dataclass
class FaultProxy:
    """An HTTP proxy to the real server that answers the next requests with chosen errors,
    or holds them while `gate` is closed. It records every request it saw."""

    upstream_port: int
    seen: list[Seen] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Seen(time.monotonic(), self.path, body)
                with proxy._lock:
                    proxy.seen.append(seen)
                proxy.gate.wait(30)
                with proxy._lock:
                    fault = proxy.faults.popleft() if proxy.faults else None
                if fault is None or fault.forward:
                    status, headers, answer = proxy._forward(self.command, self.path, dict(self.headers), body)
                if fault is not None:
                    status, answer = fault.status, json.dumps(
                        {"error": "injected", "code": "injected", "message": f"injected {fault.status}"}
                    ).encode()
                    headers = {"Content-Type": "application/json"}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                seen.status = status
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() in ("content-type", "retry-after", "www-authenticate"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fail_next(self, count: int, status: int, retry_after: Optional[str] = None, forward: bool = False) -> None:
        with self._lock:
            self.faults.extend(Fault(status, retry_after, forward) for _ in range(count))

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            wanted = {k: v for k, v in headers.items() if k.lower() in ("content-type", "authorization", "user-agent")}
            conn.request(method, path, body=body, headers=wanted)
            answer = conn.getresponse()
            return answer.status, dict(answer.getheaders()), answer.read()
        finally:
            conn.close()

    def close(self) -> None:
        self.gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
