"""The queue's bound, flush(), join(), shutdown() and the exit hook: each one bounded in time,
each loss said out loud."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import Callable

import pytest

from salesmachine.client import Client
from salesmachine.errors import ClientClosed, NetworkError, QueueFull
from sm_harness import ErrorLog, FaultProxy, Project, Server, Stored, free_port, wait_until

Uids = Callable[[str], str]


def test_a_full_queue_drops_with_a_clear_warning(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, errors: ErrorLog,
    caplog: pytest.LogCaptureFixture, uid: Uids,
) -> None:
    proxy.gate.clear()  # the server "hangs": the first request waits at the proxy
    client = make_client(host=proxy.url, on_error=errors, max_queue_size=3, upload_size=1)
    client.track_event(uid("123456"), "in_flight")
    wait_until(lambda: proxy.seen, what="the first request to be in flight")
    kept = [client.track_event(uid("123456"), "queued", {"i": i}) for i in range(3)]
    dropped = client.track_event(uid("123456"), "dropped")

    assert client.dropped == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("queue is full (3 messages" in w and "dropping" in w for w in warnings)
    ((error, messages),) = errors
    assert isinstance(error, QueueFull) and messages == [dropped]

    proxy.gate.set()
    assert client.flush(timeout=10)
    events = stored.events(uid("123456"))
    assert [e["name"] for e in events] == ["in_flight", "queued", "queued", "queued"]
    assert [e["message_id"] for e in events[1:]] == [m["messageId"] for m in kept]


def test_block_when_full_waits_for_room(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Uids
) -> None:
    proxy.gate.clear()
    client = make_client(host=proxy.url, max_queue_size=2, upload_size=1, block_when_full=True)
    client.track_event(uid("123456"), "in_flight")
    wait_until(lambda: proxy.seen, what="the first request to be in flight")
    for i in range(2):
        client.track_event(uid("123456"), "queued", {"i": i})
    blocked = threading.Thread(target=client.track_event, args=(uid("123456"), "waited"))
    blocked.start()
    blocked.join(0.2)
    assert blocked.is_alive()  # no room: the call waits instead of dropping

    proxy.gate.set()
    blocked.join(10)
    assert not blocked.is_alive()
    assert client.flush(timeout=10) and client.dropped == 0
    assert [e["name"] for e in stored.events(uid("123456"))] == ["in_flight", "queued", "queued", "waited"]


def test_flush_with_a_timeout_returns_when_the_server_is_unreachable(make_client: Callable[..., Client]) -> None:
    client = make_client(host=f"http://127.0.0.1:{free_port()}", max_retries=10_000)
    client.set_contact("123456")
    started = time.monotonic()
    assert client.flush(timeout=0.3) is False
    assert time.monotonic() - started < 2
    assert client.queued == 1


def test_shutdown_is_bounded_and_says_what_it_lost(
    make_client: Callable[..., Client], errors: ErrorLog, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(host=f"http://127.0.0.1:{free_port()}", max_retries=10_000, on_error=errors)
    for i in range(5):
        client.track_event("123456", "lost", {"i": i})
    started = time.monotonic()
    assert client.shutdown(timeout=0.3) is False
    assert time.monotonic() - started < 2
    assert any("5 message(s) were not sent" in r.getMessage() for r in caplog.records)
    # The sending thread stops retrying and hands the batch it held to on_error.
    wait_until(lambda: errors, what="the abandoned batch to be reported")
    ((error, messages),) = errors
    assert isinstance(error, NetworkError) and [m["params"]["i"] for m in messages] == list(range(5))

    late = client.track_event("123456", "after_shutdown")
    error, messages = errors[-1]
    assert isinstance(error, ClientClosed) and messages == [late]


def test_join_sends_everything_then_the_client_can_go_on(
    make_client: Callable[..., Client], stored: Stored, uid: Uids
) -> None:
    client = make_client(upload_interval=30)  # only join() or flush() would send soon
    client.track_event(uid("123456"), "before_join")
    assert client.join(timeout=10)
    assert [e["name"] for e in stored.events(uid("123456"))] == ["before_join"]
    client.track_event(uid("123456"), "after_join")
    assert client.flush(timeout=10)
    assert [e["name"] for e in stored.events(uid("123456"))] == ["before_join", "after_join"]


def run_script(body: str, host: str, project: Project, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(f"""
        from salesmachine.client import Client
        smclient = Client({project.token!r}, {project.secret!r}, host={host!r}, backoff_base=0.02,
                          backoff_max=0.1, max_retries=10_000, shutdown_timeout=1)
    """) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)


def test_messages_queued_at_exit_are_sent(server: Server, project: Project, stored: Stored, uid: Uids) -> None:
    # No flush(): the script ends with messages still queued, as scripts do.
    finished = run_script(f"""
        for i in range(20):
            smclient.track_event({uid("123456")!r}, "from_a_script", {{"i": i}})
    """, server.url, project)
    assert finished.returncode == 0, finished.stderr
    assert [e["params"]["i"] for e in stored.events(uid("123456"))] == list(range(20))


def test_exit_is_not_held_up_by_an_unreachable_server(project: Project) -> None:
    started = time.monotonic()
    finished = run_script("""
        smclient.track_event("123456", "never_sent")
    """, f"http://127.0.0.1:{free_port()}", project)
    assert finished.returncode == 0
    assert time.monotonic() - started < 10  # shutdown_timeout=1, plus the interpreter
    assert "1 message(s) were not sent" in finished.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+ warns about fork with threads
def test_a_forked_child_sends_its_own_messages_once(
    make_client: Callable[..., Client], stored: Stored, uid: Uids
) -> None:
    client = make_client(upload_interval=30)  # the parent's message waits in its queue
    client.track_event(uid("123456"), "in_parent")
    pid = os.fork()
    if pid == 0:  # the child: a fresh queue and thread, without the parent's message
        client.track_event(uid("123456"), "in_child")
        os._exit(0 if client.flush(timeout=10) and client.queued == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.flush(timeout=10)
    assert sorted(e["name"] for e in stored.events(uid("123456"))) == ["in_child", "in_parent"]
