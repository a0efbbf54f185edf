"""Calls are gathered into batches: at most 100 items or about 500 KB per request, and no
message waits more than half a second for its batch to fill."""

from __future__ import annotations

import threading
import time
from typing import Callable

from salesmachine.client import Client
from sm_harness import FaultProxy, Stored, wait_until


def test_many_calls_go_out_in_a_few_requests(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Callable[[str], str]
) -> None:
    client = make_client(host=proxy.url)
    contact = uid("123456")
    client.set_contact(contact, {"name": "Elon Musk"})
    for i in range(249):
        client.track_event(contact, "clicked", {"i": i})
    assert client.flush(timeout=10)

    sizes = [len(request.items) for request in proxy.seen]
    assert sum(sizes) == 250
    assert max(sizes) <= 100 and len(sizes) <= 5
    # One sending thread: the server receives the calls in the order they were made.
    assert [e["params"]["i"] for e in stored.events(contact)] == list(range(249))
    assert all(request.status == 201 for request in proxy.seen)


def test_a_batch_stays_under_500_kb(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Callable[[str], str]
) -> None:
    client = make_client(host=proxy.url)
    notes = "n" * 40_000
    for i in range(30):
        client.track_event(uid("123456"), "wrote_notes", {"i": i, "notes": notes})
    assert client.flush(timeout=10)

    assert all(len(request.body) <= 500_000 for request in proxy.seen)
    assert len(proxy.seen) >= 3
    assert sum(len(request.items) for request in proxy.seen) == 30
    assert len(stored.events(uid("123456"))) == 30


def test_a_lone_message_leaves_after_half_a_second(make_client: Callable[..., Client], proxy: FaultProxy) -> None:
    client = make_client(host=proxy.url)
    called = time.monotonic()
    client.track_pageview("123456", {"visit_url": "/home"})
    wait_until(lambda: proxy.seen, timeout=5, what="the batch to be sent without flush()")
    assert proxy.seen[0].at - called >= 0.5  # it waited for company...
    assert client.flush(timeout=5)  # ...and was stored without anyone asking


def test_flush_sends_at_once(make_client: Callable[..., Client], proxy: FaultProxy) -> None:
    client = make_client(host=proxy.url, upload_interval=30)
    called = time.monotonic()
    client.set_account("78910", {"name": "Tesla Motors"})
    assert client.flush(timeout=10)
    assert time.monotonic() - called < 10 and len(proxy.seen) == 1


def test_ten_thousand_events_from_eight_threads_arrive_exactly_once(
    make_client: Callable[..., Client], proxy: FaultProxy, stored: Stored, uid: Callable[[str], str]
) -> None:
    # Shared by eight threads, with two batches stored by the server but answered 500 on the
    # way back (so sent again): every event is stored, none twice.
    client = make_client(host=proxy.url, max_queue_size=20_000)
    proxy.fail_next(2, 500, forward=True)
    contact = uid("123456")

    def send(thread: int) -> None:
        for i in range(1250):
            client.track_event(contact, "clicked", {"thread": thread, "i": i})

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(timeout=60)

    events = stored.events(contact)
    assert len(events) == 10_000
    assert sorted((e["params"]["thread"], e["params"]["i"]) for e in events) == [
        (t, i) for t in range(8) for i in range(1250)]
    assert [r.status for r in proxy.seen].count(500) == 2
    assert len({e["message_id"] for e in events}) == 10_000
