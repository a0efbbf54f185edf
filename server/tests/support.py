"""Test support: a real server process, real databases, and a reader for what was stored."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, select, text

from salesmachine_server.store.db.schema import accounts, contacts, events, mrr_changes

POSTGRES_ADMIN_URL = os.environ.get("SALESMACHINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def path_part(uid: str) -> str:
    """A uid as one segment of a URL path, as clients (and the dashboard's links) write it:
    percent-encoded whole, "/" included; "." and ".." spelled %2E, or HTTP clients and browsers
    would resolve them as directories."""
    part = quote(uid, safe="")
    return part.replace(".", "%2E") if part in (".", "..") else part


# Each pytest-xdist worker takes its ports from a block of its own, below the kernel's ephemeral
# range (32768 and up here), in turn: a port the kernel picked for "any free port" was free only
# until released, and another worker's server, or any client socket, could take it before this
# one's server bound it (and answer this test's health probe, while this server failed to start).
_PORT_BLOCK = 2500
_FIRST_PORT = 20000
_next_port = itertools.count()


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    first = _FIRST_PORT + (int(worker[2:]) if worker[2:].isdigit() else 0) * _PORT_BLOCK
    for _ in range(_PORT_BLOCK):
        port = first + next(_next_port) % _PORT_BLOCK
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use: a server of this worker still stopping, another program
                continue
            return port
    raise RuntimeError(f"no free port among {first}-{first + _PORT_BLOCK - 1}")


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards. Without a reachable
    PostgreSQL the tests that need it are skipped locally and fail in CI."""
    admin_url = POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"sm_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        # The journals of the servers that ran on it (ingest/journal.py: ./data/journal-<host>-<port>-<db>.sqlite).
        for journal in Path("data").glob(f"journal-*-{name}.sqlite*"):
            journal.unlink(missing_ok=True)


@dataclass
class ServerProcess:
    """`salesmachine serve` in a subprocess, on a free port of 127.0.0.1."""

    database_url: str
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.port = self.port or free_port()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed once it started
        command = [
            sys.executable,
            "-m",
            "salesmachine_server",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database",
            self.database_url,
            *self.extra_args,
        ]
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def wait_for_projection(database_url: str, timeout: float = 30.0) -> None:
    """Wait until the server's projector has applied everything its journal acknowledged so
    far (ingest/journal.py): a test reading the database behind the server's back reads its
    writes as the server's own reads do (serving/read_your_writes.py)."""
    from salesmachine_server.ingest.journal import Journal, journal_path
    from salesmachine_server.ingest.wake import Wake

    path = journal_path(database_url)
    if not path.exists():
        return
    journal = Journal(path)
    wake = Wake(path)
    try:
        target = journal.acknowledged()
        deadline = time.monotonic() + timeout
        while journal.projected() < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the projector did not apply the journal {path} within {timeout} s")
            wake.hurry()  # as a read of the server's own does: no small group waits for more
            time.sleep(0.002)
    finally:
        wake.close()
        journal.close()


def read_when_applied(http: httpx.Client, path: str, seconds: float = 15.0, **options: Any) -> httpx.Response:
    """GET `path` again until its answer no longer says it is stale (a server with a short
    read wait, whose projector is catching up), at most `seconds`; fails if it still is."""
    deadline = time.monotonic() + seconds
    while True:
        read = http.get(path, **options)
        if "salesmachine-read-stale" not in read.headers:
            return read
        assert time.monotonic() < deadline, read.headers["salesmachine-read-stale"]


def server_children(server: ServerProcess, name: str) -> list[int]:
    """Pids of the processes `serve` started (supervisor.py) named `name`: "sm-worker" or
    "sm-projector"."""
    assert server.process is not None
    pid = server.process.pid
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == name:
                found.append(int(child))
        except FileNotFoundError:
            continue
    return found


# uvicorn closes a connection idle for 5 s, and httpx keeps one for 5 s too: a request sent
# at that moment may meet the close (under load the server's loop runs the due timer before it
# reads the request, so the moment is as long as the loop is late) and fail with "Server
# disconnected without sending a response". A client that waits between its requests (for the
# projector, say) lets its connections go first.
CLIENT_LIMITS = httpx.Limits(keepalive_expiry=2.0)


class StoredData:
    """Reads what the server stored, straight from its database (the proof of 'stored'), once
    the projector applied what the server acknowledged (wait_for_projection)."""

    def __init__(self, database_url: str, project_id: int) -> None:
        from salesmachine_server.store.db.engine import open_engines

        self.database_url = database_url
        self._engines = open_engines(database_url)
        self.project_id = project_id

    @property
    def engines(self) -> Any:
        """The database's engines, once what the server acknowledged is applied (a test that
        queries them itself reads its writes too)."""
        wait_for_projection(self.database_url)
        return self._engines

    def _connect(self) -> Any:
        return self.engines.reader.connect()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self._connect() as conn:
            return conn.execute(text(sql), {"project": self.project_id, **params}).all()

    def contact_id(self, uid: str) -> int | None:
        found = self.rows("SELECT contact_id FROM contact_uids WHERE project_id = :project AND uid = :uid", uid=uid)
        return found[0][0] if found else None

    def contact(self, uid: str) -> dict[str, Any] | None:
        contact_id = self.contact_id(uid)
        if contact_id is None:
            return None
        with self._connect() as conn:
            row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
        uids = {r[0] for r in self.rows("SELECT uid FROM contact_uids WHERE contact_id = :id", id=contact_id)}
        accounts = {
            r[0]
            for r in self.rows(
                "SELECT a.account_uid FROM memberships m JOIN accounts a ON a.id = m.account_id "
                "WHERE m.contact_id = :id",
                id=contact_id,
            )
        }
        return {
            "id": contact_id,
            "contact_uid": row.contact_uid,
            "uids": uids,
            "params": _json(row.params),
            "accounts": accounts,
            "first_seen_at": row.first_seen_at,
            "last_seen_at": row.last_seen_at,
            "events": self.events(contact_id),
            "mrr": [mrr for mrr, _ in self.mrr_history(mrr_changes.c.contact_id == contact_id)],
        }

    def mrr_history(self, condition: Any) -> list[tuple[float | None, datetime]]:
        """(mrr, effective_at) rows matching a condition on mrr_changes, oldest first."""
        query = (
            select(mrr_changes.c.mrr, mrr_changes.c.effective_at)
            .where(condition)
            .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
        )
        with self._connect() as conn:
            return [(row.mrr, row.effective_at) for row in conn.execute(query)]

    def events(self, contact_id: int) -> list[dict[str, Any]]:
        query = (
            select(
                events.c.name,
                events.c.kind,
                events.c.params,
                events.c.occurred_at,
                events.c.message_id,
                accounts.c.account_uid,
            )
            .select_from(events.outerjoin(accounts, accounts.c.id == events.c.account_id))
            .where(events.c.contact_id == contact_id)
            .order_by(events.c.occurred_at, events.c.id)
        )
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "name": r.name,
                "kind": r.kind,
                "params": _json(r.params),
                "occurred_at": r.occurred_at,
                "message_id": r.message_id,
                "account_uid": r.account_uid,
            }
            for r in rows
        ]

    def account(self, uid: str) -> dict[str, Any] | None:
        found = self.rows("SELECT * FROM accounts WHERE project_id = :project AND account_uid = :uid", uid=uid)
        if not found:
            return None
        row = found[0]
        contacts = {
            r[0]
            for r in self.rows(
                "SELECT c.contact_uid FROM memberships m JOIN contacts c ON c.id = m.contact_id "
                "WHERE m.account_id = :id",
                id=row.id,
            )
        }
        return {
            "params": _json(row.params),
            "contacts": contacts,
            "mrr": [mrr for mrr, _ in self.mrr_history(mrr_changes.c.account_id == row.id)],
            "mrr_history": self.mrr_history(mrr_changes.c.account_id == row.id),
            "event_count": self.rows("SELECT count(*) FROM events WHERE account_id = :id", id=row.id)[0][0],
        }

    def count(self, table: str) -> int:
        return self.rows(f"SELECT count(*) FROM {table} WHERE project_id = :project")[0][0]

    def rejected(self) -> list[Any]:
        return self.rows(
            "SELECT path, item_index, raw, code, field, reason FROM rejected_items "
            "WHERE project_id = :project ORDER BY id"
        )

    def close(self) -> None:
        self._engines.dispose()


def _json(value: Any) -> Any:
    import orjson

    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def make_project(database_url: str, name: str | None = None, **settings: Any) -> tuple[Any, str]:
    """Create a project directly in the database, as `salesmachine projects create` does."""
    from salesmachine_server.keys import load_server_key
    from salesmachine_server.settings import Settings
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.db.migrate import migrate
    from salesmachine_server.store.records.projects import create_project, update_settings

    engines = open_engines(database_url)
    try:
        migrate(engines)
        project, secret = create_project(
            engines.writer, name or f"test-{secrets.token_hex(4)}", load_server_key(Settings.from_env())
        )
        if settings:
            project = update_settings(engines.writer, project.name, settings)
    finally:
        engines.dispose()
    return project, secret


@dataclass
class Project:
    """A project on a running server, with an HTTP client holding its token."""

    id: int
    name: str
    token: str
    secret: str
    http: httpx.Client
    stored: StoredData


class TcpProxy:
    """A TCP relay on 127.0.0.1 that a test can cut and restore: a database that goes away
    and comes back, as a network or a restart makes it, without touching the real server."""

    def __init__(self, target_host: str, target_port: int) -> None:
        import threading

        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> TcpProxy:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and break every open one."""
        with self._lock:
            if self._listener is not None:
                # shutdown wakes the thread blocked in accept(); close alone would not.
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._sockets.clear()

    restore = start

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """The first truthy answer of `check`, polled; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{check} did not hold in {timeout} s"
        time.sleep(0.3)


def health_settled(project: Any) -> bool:
    """Nothing left for the server's health task (project/health_history.py): no customer
    marked for it, and the history built with the model in force, in the project's zone.
    `project`: anything with the project's `id` and its `stored` data."""
    from salesmachine_server.domain.project_settings import from_stored
    from salesmachine_server.store.read.health_models import in_force

    marked = "health_dirty_from IS NOT NULL"
    count = sum(
        project.stored.rows(f"SELECT count(*) FROM {table} WHERE project_id = :project AND {marked}")[0][0]
        for table in ("contacts", "accounts")
    )
    with project.stored.engines.reader.connect() as conn:
        key = in_force(conn, project.id).key
    settings = project.stored.rows("SELECT settings FROM projects WHERE id = :project")[0][0]
    zone = from_stored(settings if isinstance(settings, dict) else orjson.loads(settings)).timezone
    cursor = project.stored.rows("SELECT model_key, zone FROM health_cursors WHERE project_id = :project")
    return count == 0 and bool(cursor) and tuple(cursor[0]) == (key, zone)
