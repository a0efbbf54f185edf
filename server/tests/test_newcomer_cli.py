"""The command line as a newcomer meets it (issue 16, items 13 and 14): the commands `make run`
prints run as printed from a new shell at the repository's root, the README shows the same
commands, and every command says what it did.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

from tests.dashboard_support import make_user
from tests.support import Project, ServerProcess, free_port, make_project

REPOSITORY = Path(__file__).resolve().parents[2]
# A new login shell's PATH: the repository's .venv/bin is not on it.
NEW_SHELL_PATH = "/usr/local/bin:/usr/bin:/bin"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesmachine_server", *args], capture_output=True, text=True, timeout=60
    )


def _new_shell_env(tmp_path: Path) -> dict[str, str]:
    """What a new terminal has: a plain PATH, plus the user's settings for this server (its own
    database and key file, so the test leaves the repository's ./data alone)."""
    return {
        "PATH": NEW_SHELL_PATH,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "SALESMACHINE_DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
        "SALESMACHINE_KEY_FILE": str(tmp_path / "server.key"),
    }


def test_the_commands_make_run_prints_run_as_printed_in_a_new_shell(tmp_path: Path) -> None:
    assert shutil.which("salesmachine", path=NEW_SHELL_PATH) is None, "a salesmachine on the plain PATH hides the test"
    env = _new_shell_env(tmp_path)
    port = free_port()
    run = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=REPOSITORY,
        start_new_session=True,
        env={**env, "SALESMACHINE_LISTEN_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("password:" in line for line in lines):
            assert run.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert run.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        secret = re.search(r"^\s+secret:\s+(\S+)$", output, re.MULTILINE).group(1)
        printed = re.findall(r"with: (.+)\)$", output, re.MULTILINE)
        assert len(printed) == 2, output  # print the secret again; change the password

        def in_new_shell(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", "-c", command], cwd=REPOSITORY, env=env, capture_output=True, text=True, timeout=60
            )

        again = in_new_shell(printed[0])
        assert again.returncode == 0, f"{printed[0]!r}: {again.stderr}"
        assert again.stdout.strip() == secret
        changed = in_new_shell(printed[1])
        assert changed.returncode == 0, f"{printed[1]!r}: {changed.stderr}"
        assert re.search(r"^password: \S{8,}$", changed.stdout, re.MULTILINE), changed.stdout

        # "Try it": the curl command, as printed (backslash continuations and all).
        try_it = re.search(r"^Try it:\n(.+?)\n\n", output, re.MULTILINE | re.DOTALL).group(1)
        tried = in_new_shell(try_it)
        assert tried.returncode == 0 and '"status":"success"' in tried.stdout, (try_it, tried.stdout, tried.stderr)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        reader.join(5)


def test_the_wrapper_says_what_to_do_when_the_venv_is_missing(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    copy.mkdir()
    shutil.copy2(REPOSITORY / "salesmachine", copy / "salesmachine")
    done = subprocess.run(
        ["bash", "-c", "./salesmachine projects list"],
        cwd=copy,
        env=_new_shell_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "make venv" in done.stderr, done.stderr


def test_the_readme_shows_the_commands_as_they_run_from_the_repository() -> None:
    """The README and the banner agree: `./salesmachine ...`, never a bare `salesmachine ...`
    (not on a new shell's PATH)."""
    readme = (REPOSITORY / "README.md").read_text()
    bare = re.findall(r"(?<![\w./-])salesmachine (?:serve|migrate|projects|users|import|enrich)\b.*", readme)
    assert bare == []
    assert "./salesmachine projects secret" in readme


def test_projects_configure_without_options_prints_the_effective_settings(server: ServerProcess) -> None:
    project, _secret = make_project(server.database_url)
    shown = _cli("projects", "configure", project.name, "--database", server.database_url)
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout) == {
        "timezone": "UTC",
        "identity_verification": False,
        "health": {"window_days": 14, "good_above": 4, "bad_at_most": 0},
        "currency": "USD",
    }
    changed = _cli("projects", "configure", project.name, "--health-good-above", "6", "--database", server.database_url)
    assert changed.returncode == 0, changed.stderr
    assert orjson.loads(changed.stdout)["health"] == {"window_days": 14, "good_above": 6, "bad_at_most": 0}
    display = ("--currency", "eur", "--renewal-attribute", "renewal_date")
    changed = _cli("projects", "configure", project.name, *display, "--database", server.database_url)
    assert changed.returncode == 0, changed.stderr
    stored = orjson.loads(changed.stdout)
    assert (stored["currency"], stored["renewal_attribute"]) == ("EUR", "renewal_date")
    refused = _cli("projects", "configure", project.name, "--currency", "euros", "--database", server.database_url)
    assert refused.returncode == 2 and "Invalid value for '--currency'" in refused.stderr
    assert "ISO 4217" in refused.stderr


def test_users_grant_says_what_the_user_now_sees(server: ServerProcess, project: Project) -> None:
    email = make_user(server.database_url, project.id)
    other, _secret = make_project(server.database_url)
    granted = _cli("users", "grant", email, "--project", other.name, "--database", server.database_url)
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.splitlines() == [
        f"user:     {email}",
        f"projects: {project.name}, {other.name}",  # every project the user sees, oldest first
    ]
    unknown = _cli("users", "grant", "nobody@example.com", "--project", other.name, "--database", server.database_url)
    assert unknown.returncode != 0 and "no user nobody@example.com" in unknown.stderr
