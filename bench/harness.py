"""What every scenario needs: databases, the `salesmachine` CLI, server processes with their
memory, and wrk.

Processes are started in their own session and stopped by their own id (SIGINT, as Ctrl-C
would: uvicorn and Granian then shut down gracefully).
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
VENV_BIN = Path(sys.executable).parent
SALESMACHINE = str(VENV_BIN / "salesmachine")
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A fixed server key: project secrets are derived from it, and no key file is written in ./data.
SERVER_KEY = "bench-server-key-not-secret"


def server_env(database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESMACHINE_")}
    env["SALESMACHINE_SECRET_KEY"] = SERVER_KEY
    if database_url:
        env["SALESMACHINE_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- databases ----------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def fresh_sqlite(name: str) -> str:
    path = CACHE / "run" / f"{name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    forget_journal(sqlite_url(path))
    return sqlite_url(path)


def forget_journal(database_url: str) -> None:
    """Delete the journal a server of this database would use (its cwd is CACHE): a fresh
    database beside an old journal would have the old journal's entries applied to it."""
    from salesmachine_server.ingest.journal import journal_path

    path = journal_path(database_url)
    path = path if path.is_absolute() else CACHE / path
    for name in (path.name, f"{path.name}-counters", f"{path.name}.lock"):
        for suffix in ("", "-wal", "-shm"):
            path.with_name(name + suffix).unlink(missing_ok=True)


def postgres_url(database: str) -> str:
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{database}"


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


def fresh_postgres(database: str) -> str:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    forget_journal(postgres_url(database))
    return postgres_url(database)


def drop_postgres(database: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def postgres_settings() -> dict[str, str]:
    import psycopg

    names = ("server_version", "shared_buffers", "synchronous_commit", "fsync", "wal_level", "max_connections")
    with psycopg.connect(POSTGRES_ADMIN) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


def cli(*args: str, database_url: str) -> str:
    done = subprocess.run([SALESMACHINE, *args, "--database", database_url], env=server_env(), cwd=CACHE,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"salesmachine {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def create_project(database_url: str, name: str = "bench") -> dict[str, Any]:
    """Migrates, then creates a project: {"id", "name", "token", "secret"}."""
    cli("migrate", database_url=database_url)
    return json.loads(cli("projects", "create", name, "--json", database_url=database_url))


def basic(user: str, password: str = "") -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- processes and their memory -----------------------------------------------------------


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children(current))
    return tree


def status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of processes (their threads included), from /proc/PID/stat."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    return [name, *text.rsplit(")", 1)[1].split()]


def system_cpu() -> dict[str, float]:
    """CPU seconds so far of PostgreSQL (live processes, plus backends that already exited,
    which the postmaster's cutime/cstime hold) and of kernel threads (children of kthreadd:
    I/O completion, writeback), scanned from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    postgres = kernel = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None:
            continue
        # fields: name, state, ppid, ... utime=12, stime=13, cutime=14, cstime=15
        if fields[0] == "postgres":
            postgres += int(fields[12]) + int(fields[13]) + int(fields[14]) + int(fields[15])
        elif fields[2] == "2" or entry == "2":
            kernel += int(fields[12]) + int(fields[13])
    return {"postgres": postgres / ticks, "kernel": kernel / ticks}


def machine_busy() -> tuple[float, float, float]:
    """(busy, total, interrupts) jiffies of all CPUs, from /proc/stat; interrupts (irq and
    softirq: loopback networking, disk completions) are in busy too."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values), values[5] + values[6]


def machine_steal() -> int:
    """Jiffies of all CPUs the hypervisor gave to other machines while ours wanted them (steal,
    /proc/stat): a virtual machine's figures fall with it, the server's work unchanged."""
    with open("/proc/stat") as handle:
        return int(handle.readline().split()[8])


class RssSampler(threading.Thread):
    """Samples the resident memory of a process and its children (Granian's workers) while a
    scenario runs; peak of the sum, and the kernel's high-water mark (VmHWM) of each. Also the
    CPU the server used (in cores) and how busy the whole machine was."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.last_kb = 0
        self.hwm_kb = 0
        self._halt = threading.Event()
        self._t0 = time.monotonic()
        self._cpu = cpu_seconds(process_tree(pid))
        self._machine = machine_busy()
        self._steal = machine_steal()
        self._system = system_cpu()

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def sample(self) -> None:
        pids = process_tree(self.pid)
        self.last_kb = sum(status_kb(p, "VmRSS") for p in pids)
        self.peak_kb = max(self.peak_kb, self.last_kb)
        self.hwm_kb = max(self.hwm_kb, sum(status_kb(p, "VmHWM") for p in pids))

    def stop(self) -> dict[str, float]:
        self.sample()
        self._halt.set()
        self.join()
        elapsed = time.monotonic() - self._t0
        busy, total, interrupts = machine_busy()
        system = system_cpu()
        cores = os.cpu_count() or 1
        span = max(1, total - self._machine[1])
        return {"postgres_cores": max(0.0, system["postgres"] - self._system["postgres"]) / elapsed,
                "kernel_cores": max(0.0, system["kernel"] - self._system["kernel"]) / elapsed
                + cores * (interrupts - self._machine[2]) / span,
                "rss_peak_mb": self.peak_kb / 1024, "rss_end_mb": self.last_kb / 1024, "vmhwm_mb": self.hwm_kb / 1024,
                "server_cores": (cpu_seconds(process_tree(self.pid)) - self._cpu) / elapsed,
                "machine_cores": cores * (busy - self._machine[0]) / span,
                "steal_cores": cores * (machine_steal() - self._steal) / span}


@dataclass
class Server:
    """A server process: the real one (`salesmachine serve` or Granian) or the bare app."""

    name: str
    argv: list[str]
    port: int
    env: dict[str, str]
    cwd: Path = CACHE
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    command: str = field(default="")

    def __post_init__(self) -> None:
        self.command = relative(" ".join(shlex.quote(a) for a in self.argv))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Server":
        logs = CACHE / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{self.name}.log"
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer /healthz in 120 s; see {self.log_path}")

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Our own process group (start_new_session): the server and the workers it started.
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def salesmachine_server(name: str, database_url: str) -> Server:
    port = free_port()
    return Server(name, [SALESMACHINE, "serve", "--host", "127.0.0.1", "--port", str(port), "--database", database_url],
                  port, server_env())


def granian_server(name: str, database_url: str, target: str = "granian_factory:create") -> Server:
    port = free_port()
    argv = [str(VENV_BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", os.environ.get("BENCH_GRANIAN_WORKERS", "1"), "--loop", "uvloop", "--no-ws", "--log-level", "warning", "--factory",
            "--working-dir", str(BENCH), target]
    return Server(name, argv, port, server_env(database_url))


def bare_server(name: str) -> Server:
    port = free_port()
    return Server(name, [sys.executable, str(BENCH / "bare_app.py"), "--port", str(port)], port, server_env())


def nostore_server(name: str, database_url: str) -> Server:
    port = free_port()
    return Server(name, [sys.executable, str(BENCH / "nostore_app.py"), "--port", str(port),
                         "--database", database_url], port, server_env())


def bare_granian(name: str) -> Server:
    return granian_server(name, "", target="bare_app:create")


def granian_available() -> bool:
    return (VENV_BIN / "granian").exists()


# -- wrk ----------------------------------------------------------------------------------


@dataclass
class WrkResult:
    command: str
    data: dict[str, Any]
    cpu_seconds: float = 0.0  # wrk's own user and system time

    @property
    def cores(self) -> float:
        return self.cpu_seconds / self.seconds

    @property
    def seconds(self) -> float:
        return self.data["duration_us"] / 1e6

    @property
    def ok_per_second(self) -> float:
        return self.data["ok"] / self.seconds

    @property
    def failures(self) -> int:
        errors = self.data["errors"]
        # `failed` holds every answer that was not the expected one; socket errors and
        # timeouts are requests never answered.
        return self.data["failed"] + errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]

    def latency_ms(self, key: str) -> float:
        return self.data["latency_us"][key] / 1000


def wrk(url: str, script: str, args: list[str], connections: int, seconds: int, threads: int = 1,
        timeout: int = 10) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s", "--latency",
            "-s", str(BENCH / "lua" / script), url, "--", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    shown = [a if not a.startswith("Basic ") else "'Basic …'" for a in argv]
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(relative(" ".join(shown)), json.loads(line.split(" ", 1)[1]), used)


def relative(command: str) -> str:
    """A command as typed from the repository's root."""
    return command.replace(f"sqlite:///{ROOT}/", "sqlite:///").replace(f"{ROOT}/", "")
