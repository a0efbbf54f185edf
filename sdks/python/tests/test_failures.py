"""When the server is down, slow to answer or refuses: retried what can be, reported what
cannot, and nothing lost or stored twice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

from salesmachine.client import Client
from salesmachine.errors import APIError, NetworkError, RejectedItems
from sm_harness import ErrorLog, FaultProxy, Server, Stored, free_port, wait_until

Uids = Callable[[str], str]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server of this test's own, which it may stop and start again."""
    running = Server(tmp_path).start()
    yield running
    running.stop()


def test_a_server_that_is_down_is_retried_until_it_is_back(
    own_server: Server, errors: ErrorLog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="salesmachine")
    project = own_server.create_project()
    stored = Stored(own_server.db_path, project.id)
    client = Client(project.token, project.secret, host=own_server.url, on_error=errors,
                    backoff_base=0.05, backoff_max=0.25, max_retries=1000)
    client.set_contact("123456", {"name": "Elon Musk"})
    assert client.flush(timeout=10)

    own_server.stop()
    for i in range(50):
        client.track_event("123456", "while_down", {"i": i})
    client.flush(timeout=0)  # send now rather than in half a second
    wait_until(lambda: any("retry" in r.getMessage() for r in caplog.records), what="a failed attempt")
    own_server.start()

    assert client.flush(timeout=20)
    assert not errors
    assert [e["params"]["i"] for e in stored.events()] == list(range(50))
    assert stored.count("message_ids") == len(set(stored.message_ids())) == 51
    client.shutdown()


def test_an_answer_lost_after_storing_is_not_stored_twice(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, errors: ErrorLog, uid: Uids
) -> None:
    # The server stores the batch, but the client hears 500 twice and sends it again.
    proxy.fail_next(2, 500, forward=True)
    client = make_client(host=proxy.url, on_error=errors)
    sent = [client.track_event(uid("123456"), "paid", {"i": i}) for i in range(10)]
    assert client.flush(timeout=10)

    assert [r.status for r in proxy.seen] == [500, 500, 201]
    attempts = [[item["messageId"] for item in request.items] for request in proxy.seen]
    assert attempts[0] == attempts[1] == attempts[2] == [m["messageId"] for m in sent]
    assert not errors
    assert [e["params"]["i"] for e in stored.events(uid("123456"))] == list(range(10))
    ids = [m["messageId"] for m in sent]
    assert sorted(stored.message_ids(among=ids)) == sorted(ids)


@pytest.mark.parametrize("status", [503, 429])
def test_retry_after_is_honoured(
    status: int, make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, errors: ErrorLog, uid: Uids
) -> None:
    proxy.fail_next(1, status, retry_after="1")
    client = make_client(host=proxy.url, on_error=errors)  # its own backoff is 0.02 s
    client.set_contact(uid("123456"), {"name": "Elon Musk"})
    assert client.flush(timeout=10)

    first, second = proxy.seen
    assert (first.status, second.status) == (status, 201)
    assert second.at - first.at >= 1.0
    # The same item again, re-stamped with the time of the new attempt.
    assert {**first.items[0], "sent_at": None} == {**second.items[0], "sent_at": None}
    assert first.items[0]["sent_at"] < second.items[0]["sent_at"]
    assert not errors and stored.contact(uid("123456")) is not None


def test_a_refused_batch_goes_to_on_error_with_the_servers_reason(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, errors: ErrorLog, uid: Uids
) -> None:
    client = make_client(host=proxy.url, on_error=errors)
    message = client.set_contact(uid("123456"), {"mrr": "a lot"})  # the server wants a number
    assert client.flush(timeout=10)

    assert len(proxy.seen) == 1  # a 400 is not retried
    ((error, messages),) = errors
    assert isinstance(error, APIError)
    assert (error.status, error.code) == (400, "bad_request")
    assert "params.mrr must be a number" in error.message
    assert messages == [message]
    assert stored.contact(uid("123456")) is None


@pytest.mark.parametrize("status", [400, 404, 413])
def test_other_client_errors_are_not_retried(
    status: int, make_client: Callable[..., Client], proxy: FaultProxy, errors: ErrorLog
) -> None:
    proxy.fail_next(1, status)
    client = make_client(host=proxy.url, on_error=errors)
    client.track_event("123456", "user_registration")
    assert client.flush(timeout=10)
    assert len(proxy.seen) == 1
    ((error, _),) = errors
    assert isinstance(error, APIError) and error.status == status and not error.retryable


def test_wrong_credentials_are_reported_not_retried(make_client: Callable[..., Client], errors: ErrorLog) -> None:
    client = make_client(secret="not-the-secret", on_error=errors)
    client.track_event("123456", "user_registration")
    assert client.flush(timeout=10)
    ((error, _),) = errors
    assert isinstance(error, APIError) and (error.status, error.code) == (401, "unauthorized")


def test_items_refused_inside_a_stored_batch_are_reported_alone(
    make_client: Callable[..., Client], stored: Stored, errors: ErrorLog, uid: Uids
) -> None:
    client = make_client(on_error=errors)
    client.set_contact(uid("123456"), {"name": "Elon Musk"})
    refused = client.set_account(uid("78910"), {"mrr": "a lot"})
    client.track_event(uid("123456"), "user_registration")
    assert client.flush(timeout=10)

    ((error, messages),) = errors
    assert isinstance(error, RejectedItems) and messages == [refused]
    assert error.rejected[0]["index"] == 1 and "mrr" in error.rejected[0]["message"]
    assert stored.contact(uid("123456")) is not None and len(stored.events(uid("123456"))) == 1


def test_retries_run_out_and_are_reported(make_client: Callable[..., Client], errors: ErrorLog) -> None:
    client = make_client(host=f"http://127.0.0.1:{free_port()}", on_error=errors, max_retries=3)
    message = client.set_contact("123456")
    assert client.flush(timeout=10)  # finished: given up on, and said so
    ((error, messages),) = errors
    assert isinstance(error, NetworkError) and messages == [message]


def test_sync_mode_stores_before_returning(make_client: Callable[..., Client], stored: Stored, uid: Uids) -> None:
    client = make_client(sync_mode=True)
    client.set_contact(uid("123456"), {"name": "Elon Musk"})
    assert stored.contact(uid("123456")) is not None  # no flush needed
    with pytest.raises(APIError, match="params.mrr must be a number"):
        client.set_account("78910", {"mrr": "a lot"})


def test_sync_mode_retries_too(make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Uids) -> None:
    proxy.fail_next(2, 502)
    client = make_client(host=proxy.url, sync_mode=True)
    client.track_pageview(uid("123456"), {"visit_url": "/home"})
    assert [r.status for r in proxy.seen] == [502, 502, 201]
    assert [e["kind"] for e in stored.events(uid("123456"))] == ["pageview"]


def test_on_error_that_raises_does_not_stop_sending(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Uids
) -> None:
    def broken(error: Exception, messages: list) -> None:  # type: ignore[type-arg]
        raise RuntimeError("bug in the application's callback")

    proxy.fail_next(1, 400)
    client = make_client(host=proxy.url, on_error=broken)
    client.track_event(uid("123456"), "lost")
    assert client.flush(timeout=10)
    client.track_event(uid("123456"), "kept")
    assert client.flush(timeout=10)
    assert [e["name"] for e in stored.events(uid("123456"))] == ["kept"]
