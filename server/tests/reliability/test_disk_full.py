"""SQLite on a full disk: writes are answered 503 with Retry-After and a log line names the
cause; nothing acknowledged is lost, the file stays intact, and writes succeed again by
themselves once there is room.

Two ways to run out of room, because running as root makes file modes useless:
- `tmpfs`: the database on a 4 MB tmpfs, filled by a ballast file (the disk is really full:
  ENOSPC). Needs the right to mount; skipped where there is none.
- `file-size-limit`: RLIMIT_FSIZE lowered on the running server (prlimit), so that growing
  any file fails with EFBIG; needs no privilege, so it runs everywhere.
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from tests.reliability.conftest import StartServer
from tests.reliability.probes import sqlite_integrity, wait_for
from tests.reliability.traffic import Outcome, Sent, check_store
from tests.support import make_project

ROOM = 256 * 1024  # bytes left before the disk counts as full


class Disk(Protocol):
    directory: Path

    def fill(self, pid: int) -> None: ...

    def free(self, pid: int) -> None: ...


class Tmpfs:
    """A small tmpfs that a ballast file fills up to `ROOM` bytes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ballast = directory / "ballast"
        directory.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)], capture_output=True, text=True
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")

    def fill(self, pid: int) -> None:
        stat = os.statvfs(self.directory)
        with open(self.ballast, "wb") as ballast:
            ballast.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - ROOM))

    def free(self, pid: int) -> None:
        self.ballast.unlink()

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.directory)], check=False)


class FileSizeLimit:
    """The server may not grow any file past its current largest database file + `ROOM`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir()

    def fill(self, pid: int) -> None:
        largest = max(path.stat().st_size for path in self.directory.iterdir())
        for each in server_processes(pid):  # the request workers and the projector
            _, hard = resource.prlimit(each, resource.RLIMIT_FSIZE)
            resource.prlimit(each, resource.RLIMIT_FSIZE, (largest + ROOM, hard))

    def free(self, pid: int) -> None:
        for each in server_processes(pid):
            _, hard = resource.prlimit(each, resource.RLIMIT_FSIZE)
            resource.prlimit(each, resource.RLIMIT_FSIZE, (hard, hard))

    def close(self) -> None:
        pass


def server_processes(pid: int) -> list[int]:
    """`serve` and the processes it started (supervisor.py)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


@pytest.fixture(params=["tmpfs", "file-size-limit"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    made = Tmpfs(tmp_path / "disk") if request.param == "tmpfs" else FileSizeLimit(tmp_path / "disk")
    yield made
    made.close()


def test_a_full_disk_is_503_and_a_log_line_and_nothing_is_lost(disk: Disk, start_server: StartServer) -> None:
    url = f"sqlite:///{disk.directory}/salesmachine.db"
    project, _ = make_project(url)
    server = start_server(url)
    assert server.process is not None
    outcome = Outcome()
    with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
        _write(http, outcome, "before")
        assert outcome.statuses["201"] == 1
        disk.fill(server.process.pid)

        refused = None
        for n in range(200):  # each batch is ~160 KB: the room is gone after a few
            response = _write(http, outcome, f"full{n}")
            if response.status_code != 201:
                refused = response
                break
        assert refused is not None, "writes never failed on a full disk"
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "5"
        assert refused.json()["code"] == "service_unavailable"
        assert "disk" in refused.json()["message"], refused.text
        wait_for(lambda: _cause_logged(server.log()), 5, "no log line names the full disk")
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").status_code == 200  # reads still work

        disk.free(server.process.pid)
        wait_for(lambda: _write(http, outcome, "after").status_code == 201, 15, "writes did not recover by themselves")

    assert server.stop() == 0
    assert "Traceback" not in server.log()
    assert not [s for s in outcome.statuses if s not in ("201", "503")], outcome.statuses
    assert sqlite_integrity(url) == "ok"
    check_store(url, project.id, outcome).assert_exactly_once()


def _write(http: httpx.Client, outcome: Outcome, name: str) -> httpx.Response:
    """A batch of 10 events of 16 KB each; recorded in `outcome` by its answer."""
    unique = secrets.token_hex(4)
    sent = [Sent(f"{name}-{unique}-{i}", "event") for i in range(10)]
    items = [
        {
            "method": "event",
            "contact_uid": "filler",
            "event_uid": "big",
            "messageId": s.message_id,
            "params": {"blob": secrets.token_hex(8 * 1024)},
        }
        for s in sent
    ]
    response = http.post("/v1/batch", json=items)
    outcome.statuses[str(response.status_code)] += 1
    if response.status_code == 201:
        outcome.acknowledged += sent
    else:
        outcome.unanswered += sent
    return response


def _cause_logged(log: str) -> bool:
    # SQLite's words: ENOSPC is "database or disk is full", EFBIG a "disk I/O error".
    return any(cause in log for cause in ("database or disk is full", "disk I/O error"))
