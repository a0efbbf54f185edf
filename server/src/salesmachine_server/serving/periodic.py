"""Periodic work inside `salesmachine serve`: no cron, no second service (docs/design.md).

A `PeriodicTask` is a name, how often it runs, and a blocking function. Every `check_seconds`
each server process claims or renews the lease of every task (store/records/leases.py): with
several servers on one PostgreSQL exactly one holds a task's lease and runs it, the others only
look; the holder keeps it while it lives, gives it up on a graceful stop, and loses it
`3 × check_seconds` after it stopped renewing (a crash), when another process takes over.

The holder runs a task when it is due: `every_seconds` after it last completed, as the lease
row remembers, so a server restarted every hour still runs daily work daily. A task runs on a
worker thread while the loop goes on renewing; it is handed a `threading.Event` that is set when
the lease is lost or the server stops, and returns soon after it is (its steps must each be
complete: store/write/retention.py deletes in batches). A task stopped half way is not marked
as run: the next holder does the rest at its next look.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import leases

log = logging.getLogger("salesmachine.periodic")

RUNS = Counter(
    "salesmachine_periodic_runs_total", "Periodic task runs by this process, by how they ended", ["task", "outcome"]
)  # completed, stopped (lease lost or server stopping), failed
# Under `serve`, several request workers each run the periodic work (supervisor.py): the server
# holds a lease when one of its live workers does (the largest of their values, no pid label).
# Set by `serve`'s supervisor for the processes it forks (supervisor.py): its own pid.
SERVER_PID = "SALESMACHINE_SERVER_PID"

HELD = Gauge(
    "salesmachine_periodic_lease_held",
    "1 while this server holds the task's lease",
    ["task"],
    multiprocess_mode="livemax",
)

# A lease lasts this many checks: one late renewal does not hand the task to another process.
LEASE_CHECKS = 3


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    every_seconds: float
    # Blocking, on a worker thread; returns soon after the event is set. What it returns is
    # logged, unless empty (nothing done).
    run: Callable[[threading.Event], object]


@dataclass(eq=False)
class _Running:
    stop: threading.Event
    done: asyncio.Task[None]


class Periodic:
    """The tasks of one server process, started and stopped by the app's lifespan (app.py)."""

    def __init__(self, engine: Engine, tasks: Sequence[PeriodicTask], check_seconds: float) -> None:
        if not check_seconds > 0:
            raise ValueError(f"SALESMACHINE_PERIODIC_CHECK_SECONDS must be above 0, got {check_seconds!r}")
        self.engine = engine
        self.tasks = list(tasks)
        self.check_seconds = check_seconds
        # host:pid:random, the pid being the server's (`serve`'s, whose request workers each run
        # this: supervisor.py), so that an operator finds the process to look at.
        server_pid = os.environ.get(SERVER_PID, str(os.getpid()))
        self.holder = f"{socket.gethostname()}:{server_pid}:{secrets.token_hex(4)}"[:255]
        self._held: set[str] = set()
        self._running: dict[str, _Running] = {}
        self._stopping = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._look_every_check(), name="periodic")

    async def stop(self) -> None:
        """Stop the running tasks (each after its current step), then give the leases up."""
        self._stopping.set()
        for running in self._running.values():
            running.stop.set()
        if self._loop is not None:
            await self._loop
            self._loop = None
        await asyncio.gather(*(running.done for running in list(self._running.values())))
        for name in list(self._held):
            try:
                await on_thread(leases.release, self.engine, name, self.holder)
            except DBAPIError as exc:  # it expires by itself
                log.warning("could not release the lease of %s: %s", name, _first_line(exc))
            self._let_go(name)

    async def _look_every_check(self) -> None:
        while not self._stopping.is_set():
            for task in self.tasks:
                try:
                    await self._look(task)
                except Exception:  # a fault of ours: logged, and the loop goes on for the other tasks
                    log.exception("periodic: looking at %s failed", task.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.check_seconds)

    async def _look(self, task: PeriodicTask) -> None:
        """Claim or renew the task's lease; start the task if this process holds it and it is due."""
        try:
            lease = await on_thread(
                leases.claim, self.engine, task.name, self.holder, LEASE_CHECKS * self.check_seconds
            )
        except Exception as exc:  # the database unreachable, most likely: as if another held it
            log.warning("could not renew the lease of %s: %s", task.name, _first_line(exc))
            lease = None
        if lease is None:
            if task.name in self._held:
                log.warning("lost the lease of %s: stopping it here", task.name)
            self._let_go(task.name)
            return
        if task.name not in self._held:
            log.info("this process (%s) now runs %s", self.holder, task.name)
            self._held.add(task.name)
            HELD.labels(task.name).set(1)
        if task.name not in self._running and lease.due(task.every_seconds) and not self._stopping.is_set():
            stop = threading.Event()
            self._running[task.name] = _Running(stop, asyncio.create_task(self._run(task, stop)))

    def _let_go(self, name: str) -> None:
        self._held.discard(name)
        HELD.labels(name).set(0)
        running = self._running.get(name)
        if running is not None:
            running.stop.set()

    async def _run(self, task: PeriodicTask, stop: threading.Event) -> None:
        try:
            result = await on_thread(task.run, stop)
        except DBAPIError as exc:
            # The database unreachable or out of service (a cut connection, a refused one, a
            # full disk): a fact of the outage, one line like the lease's, as app.py answers
            # such an error 503; any other database error is a fault of ours, with its traceback.
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                log.warning(
                    "%s stopped: the database is unavailable (%s); it is tried again at the next check",
                    task.name,
                    _first_line(exc),
                )
            else:
                log.exception("%s failed; it is tried again at the next check", task.name)
            RUNS.labels(task.name, "failed").inc()
            return
        except Exception:
            log.exception("%s failed; it is tried again at the next check", task.name)
            RUNS.labels(task.name, "failed").inc()
            return
        finally:
            self._running.pop(task.name, None)
        if stop.is_set():
            log.info("%s stopped before it was done (%s); the rest at its next run", task.name, result)
            RUNS.labels(task.name, "stopped").inc()
            return
        try:
            await on_thread(leases.mark_ran, self.engine, task.name, self.holder)
        except DBAPIError as exc:  # it runs again, finding less to do
            log.warning("could not note that %s ran: %s", task.name, _first_line(exc))
        if result:  # a task that runs every second and found nothing to do says nothing
            log.info("%s done: %s", task.name, result)
        RUNS.labels(task.name, "completed").inc()


def _first_line(exc: Exception) -> str:
    # The driver's first line: SQLAlchemy's full text carries the statement's parameters.
    if isinstance(exc, DBAPIError):
        return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return repr(exc)
