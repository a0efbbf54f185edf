"""The processes of `salesmachine serve`: request workers sharing one listening socket, and
the projector; each restarted when it dies.

The supervisor (the process `serve` started as) binds the socket, then starts:
- `workers` request workers (default: one per core), each uvicorn serving the application on
  the inherited socket (the kernel hands each new connection to one of them); they validate
  writes, append them to the journal, and serve reads;
- one projector (project/projector.py), applying the journal to the store on a core of its own.

Each is forked from the supervisor, which imported everything first (a child starts in
milliseconds, sharing the parent's pages) and holds no connection or thread when it forks.
Prometheus counters of all workers add up in one directory (`PROMETHEUS_MULTIPROC_DIR`:
serving/metrics.py `share_between_processes`), whichever worker a scrape reaches.

Every child asks the kernel to kill it when the supervisor dies (PR_SET_PDEATHSIG), so a
SIGKILL of `serve` stops the whole server as a crash would, leaving no orphan on the port.
SIGTERM (or Ctrl-C) is a graceful stop: the workers stop taking connections, answer what is
in flight and append what they hold (up to 30 s); then the projector applies what the journal
holds (unless the store is unreachable: it stays in the journal for the next start); then
`serve` exits 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable

from salesmachine_server.serving.metrics import share_between_processes
from salesmachine_server.serving.periodic import SERVER_PID
from salesmachine_server.settings import Settings

log = logging.getLogger("salesmachine.supervisor")

_PR_SET_NAME = 15
_PR_SET_PDEATHSIG = 1
# The children's names (`ps -o comm`, /proc/<pid>/comm): what each one is, at a glance.
WORKER_NAME = b"sm-worker"
PROJECTOR_NAME = b"sm-projector"
GRACEFUL_SECONDS = 30
PROJECTOR_DRAIN_SECONDS = 60.0
RESTART_PAUSE_SECONDS = 0.5


def worker_count(settings: Settings) -> int:
    return settings.workers if settings.workers > 0 else max(os.cpu_count() or 1, 1)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


# A server process's cyclic garbage collector runs once this many container objects were made
# and not yet freed, not Python's 700: the request workers and the projector make and free
# hundreds of thousands a second, nearly none of them in a cycle, and with 700 the collector
# walked the young ones hundreds of times a second (the projector: 4 % fewer instructions per
# item with this, callgrind, bench/projector_cpu.py sqlite). Cycles are still collected.
COLLECT_AFTER_OBJECTS = 100_000


def collect_less() -> None:
    """This process's collector: its first generation at COLLECT_AFTER_OBJECTS, the others as
    Python has them."""
    gc.set_threshold(COLLECT_AFTER_OBJECTS, *gc.get_threshold()[1:])


class Supervisor:
    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.workers: set[int] = set()
        self.projector: int | None = None
        self.stopping = False
        self.started_at: dict[int, float] = {}
        self.metrics_dir = tempfile.mkdtemp(prefix="salesmachine-metrics-")
        share_between_processes(self.metrics_dir)
        os.environ[SERVER_PID] = str(os.getpid())  # the children name the server by it (leases)
        # Imported here, before any fork, so that every child has them already.
        from salesmachine_server.app import create_app
        from salesmachine_server.project.projector import main as projector_main

        self._create_app = create_app
        self._projector_main = projector_main

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            self.projector = self._fork(self._run_projector, PROJECTOR_NAME)
            for _ in range(worker_count(self.settings)):
                self.workers.add(self._fork(self._run_worker, WORKER_NAME))
            while self.workers or self.projector is not None:
                try:
                    pid, status = os.waitpid(-1, 0)
                except ChildProcessError:
                    break
                self._reap(pid, status)
        finally:
            self.sock.close()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return 0

    def _reap(self, pid: int, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        quick = time.monotonic() - self.started_at.pop(pid, 0.0) < 1.0
        if pid in self.workers:
            self.workers.discard(pid)
            _forget_metrics_of(pid, self.metrics_dir)
            if not self.stopping:
                log.error("a request worker (pid %d) ended with %d; starting another", pid, code)
                time.sleep(RESTART_PAUSE_SECONDS if quick else 0)
                self.workers.add(self._fork(self._run_worker, WORKER_NAME))
            elif not self.workers:
                self._stop_projector()
        elif pid == self.projector:
            self.projector = None
            if not self.stopping:
                log.error("the projector (pid %d) ended with %d; starting another", pid, code)
                time.sleep(RESTART_PAUSE_SECONDS if quick else 0)
                self.projector = self._fork(self._run_projector, PROJECTOR_NAME)

    def _stop(self, _signum: int, _frame: object) -> None:
        if self.stopping:
            return
        self.stopping = True
        for pid in self.workers:
            _signal(pid, signal.SIGTERM)
        # Connections are refused as soon as the workers have closed their copies of the socket.
        self.sock.close()
        if not self.workers:
            self._stop_projector()

    def _stop_projector(self) -> None:
        """After the workers: the projector applies what the journal holds, then exits."""
        if self.projector is None:
            return
        _signal(self.projector, signal.SIGTERM)
        deadline = time.monotonic() + PROJECTOR_DRAIN_SECONDS
        while time.monotonic() < deadline:
            pid, _status = os.waitpid(self.projector, os.WNOHANG)
            if pid:
                self.projector = None
                return
            time.sleep(0.02)
        log.error("the projector did not stop within %.0f s; killing it", PROJECTOR_DRAIN_SECONDS)
        _signal(self.projector, signal.SIGKILL)

    def _fork(self, main: Callable[[], int], name: bytes) -> int:
        parent = os.getpid()
        # What the supervisor imported is kept out of the children's garbage collections: a full
        # collection then walks only what a child made itself, and shared pages stay shared.
        gc.freeze()
        pid = os.fork()
        if pid:
            self.started_at[pid] = time.monotonic()
            return pid
        collect_less()
        code = 1
        try:
            # Die with the supervisor (the kernel sends SIGKILL when it ends), and now if it has.
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)
            libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name))
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 0
        except BaseException:
            log.exception("a server process failed")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def _run_projector(self) -> int:
        self.sock.close()  # its copy of the listening socket would keep taking connections after a stop
        # When the cores are all busy, acknowledging comes first: the journal absorbs the burst
        # and the projector catches up on what the workers leave (when they leave nothing for
        # long, the journal's budget answers 503). Only under contention: a projector alone on a
        # core, or beside workers that wait on their clients, runs at full speed whatever its
        # niceness. The default, 10 (was 3), measured on 2 cores (bench/request_cpu.py --batch
        # --engine postgres, two interleaved pairs): batches 81,300 / 96,700 -> 104,400 / 103,200
        # items/s. It costs lag under a steady load the cores can barely carry: PostgreSQL
        # sustained at 30,000 items/s, 150 s, two interleaved pairs (bench/write_path.py, the
        # default edited): lag p99 12.43 / 5.59 s at 10, 8.51 / 5.09 s at 3; with the cheaper
        # projector of c233933, 60 s each: 4.20 / 4.20 s at 10, 2.03 / 2.06 at 3, while batches on
        # PostgreSQL fell from 116,084 / 126,673 to 96,385 / 97,852 at 3. The niceness counts
        # against every process of the machine: beside other busy work the lag grows (the test
        # suite, which keeps both cores busy for its whole run, runs its servers at 3:
        # tests/conftest.py).
        os.nice(self.settings.projector_niceness)  # 0-19, settings.py refuses others
        return self._projector_main(self.settings)

    def _run_worker(self) -> int:
        """A request worker: uvicorn serving the application on the supervisor's socket."""
        import uvicorn

        from salesmachine_server.serving.http_protocol import protocol_for

        settings = self.settings
        config = uvicorn.Config(
            self._create_app(settings),
            access_log=settings.access_log,
            http=protocol_for(settings.http, settings.max_head_bytes, settings.head_timeout_seconds),
            h11_max_incomplete_event_size=settings.max_head_bytes,
            log_level="info",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            # X-Forwarded-For is honoured only from SALESMACHINE_TRUSTED_PROXIES (ingest/client_ip.py);
            # uvicorn's own handling would trust 127.0.0.1 and rewrite the client address first.
            proxy_headers=False,
        )
        # uvicorn re-raises SIGTERM once it has stopped gracefully (in-flight requests answered,
        # the journal's queue appended): that stop is a success.
        signal.signal(signal.SIGTERM, _exit_0)
        uvicorn.Server(config).run(sockets=[self.sock])
        return 0


def _exit_0(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _forget_metrics_of(pid: int, directory: str) -> None:
    """A dead worker's live gauges no longer count (its counters do)."""
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
