"""The dashboard's own inputs (a segment id, the live feed's ids, the settings form, a segment's
name) are checked like the read API's: a Unicode digit, an id past 64 bits or a NUL is a 400
naming what is wrong, never a 500. And when a 500 does happen (a real fault of the store), the
client's next request on the same connection still gets its answer."""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.support import Project, ServerProcess, make_project, postgres_database

TOO_BIG = str(2**63)  # one past the largest id either database stores


def test_unicode_digits_and_ids_past_64_bits_are_a_400_page(server: ServerProcess, project: Project) -> None:
    email = make_user(server.database_url, project.id)
    base = f"/p/{project.id}"
    with signed_in(server.base_url, email) as browser:
        for address in (
            f"{base}/accounts?segment=²",
            f"{base}/contacts?segment=²",
            f"{base}/accounts?segment={TOO_BIG}",
            f"{base}/contacts?segment={'9' * 5000}",
        ):
            answer = browser.get(address)
            assert answer.status_code == 400, (address, answer.status_code, answer.text[:300])
            assert "segment" in answer.text and "whole number" in answer.text, answer.text
            # The same connection serves the next request.
            assert browser.get("/healthz").status_code == 200
        csrf = csrf_of(browser.get(f"{base}/accounts").text)
        answer = browser.post(f"{base}/segments/{TOO_BIG}/delete", data={"csrf": csrf})
        assert answer.status_code == 400, answer.text[:300]
        assert "whole number" in answer.text
        # A segment that could exist but does not is still "not found".
        assert browser.post(f"{base}/segments/999999999/delete", data={"csrf": csrf}).status_code == 404


@pytest.mark.parametrize("name", ["event", "rejected"])
@pytest.mark.parametrize("value", ["²", "³", TOO_BIG, "-1", "1e3", "9" * 5000])
def test_the_live_feed_refuses_ids_that_are_not_64_bit_whole_numbers(
    server: ServerProcess, project: Project, name: str, value: str
) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        answer = browser.get(f"/p/{project.id}/live/feed", params={name: value})
        assert answer.status_code == 400, answer.text[:300]
        body = answer.json()
        assert body["field"] == name and body["rule"] == "whole_number", body
        # Leading zeros are still the number (and are not what int()'s digit limit counts).
        assert browser.get(f"/p/{project.id}/live/feed", params={name: "0" * 5000}).status_code == 200


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1", "366"])
def test_the_settings_form_answers_a_bad_number_with_its_error(
    server: ServerProcess, project: Project, value: str
) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        csrf = csrf_of(browser.get(f"/p/{project.id}/settings").text)
        answer = browser.post(
            f"/p/{project.id}/settings",
            data={"csrf": csrf, "window_days": value, "good_above": "3", "bad_at_most": "0", "timezone": "UTC"},
        )
        assert answer.status_code == 400, answer.text[:300]
        assert "window days must be a whole number from 1 to 365" in answer.text
        assert browser.get("/healthz").status_code == 200


@pytest.mark.parametrize("field", ["name", "query"])
def test_a_segment_with_a_nul_is_refused_with_a_400_page(server: ServerProcess, project: Project, field: str) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        csrf = csrf_of(browser.get(f"/p/{project.id}/accounts").text)
        form = {"csrf": csrf, "kind": "accounts", "name": "good ones", "query": "plan=pro"}
        form[field] = form[field][:2] + "\x00" + form[field][2:]
        answer = browser.post(f"/p/{project.id}/segments", data=form)
        assert answer.status_code == 400, answer.text[:300]
        assert "Segment not saved" in answer.text
        assert browser.get("/healthz").status_code == 200
    assert project.stored.rows("SELECT id FROM segments WHERE project_id = :project") == []


# ---- a real fault: the answer must not poison the connection ------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def throwaway_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test alone: it is damaged on purpose."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/faults.db"
        return
    with postgres_database() as url:
        yield url


def _damage(url: str, fault: str, project_id: int) -> None:
    """A store that no longer reads as the code expects: a table gone, or a stored health rule
    that is not a number (written by hand, past every check of the settings form)."""
    from salesmachine_server.store.db.engine import open_engines

    engines = open_engines(url)
    try:
        with engines.writer.begin() as conn:
            if fault == "dropped table":
                conn.execute(text("DROP TABLE segments"))
            else:
                settings = '{"health": {"window_days": "fourteen"}}'
                conn.execute(
                    text("UPDATE projects SET settings = :settings WHERE id = :id"),
                    {"settings": settings, "id": project_id},
                )
    finally:
        engines.dispose()


@contextlib.contextmanager
def _connection(server: ServerProcess) -> Iterator[http.client.HTTPConnection]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


@pytest.mark.parametrize("fault", ["dropped table", "unreadable settings"])
def test_after_a_server_fault_the_next_request_on_the_connection_is_answered(
    throwaway_url: str, tmp_path: Path, fault: str
) -> None:
    project, _ = make_project(throwaway_url)
    email = make_user(throwaway_url, project.id)
    server = ServerProcess(throwaway_url, tmp_path / "server.log").start()
    try:
        with signed_in(server.base_url, email) as browser:
            cookie = browser.cookies["sm_session"]
        _damage(throwaway_url, fault, project.id)
        with _connection(server) as connection:
            for _ in range(5):
                connection.request("GET", f"/p/{project.id}/", headers={"Cookie": f"sm_session={cookie}"})
                failed = connection.getresponse()
                body = failed.read()
                assert failed.status in (500, 503), (failed.status, body[:300])
                assert b"Traceback" not in body
                # Either the connection stays open, or the answer said it closes it.
                closing = (failed.getheader("connection") or "").lower() == "close"
                connection.request("GET", "/healthz")  # on the same connection unless told to close
                after = connection.getresponse()
                assert after.status == 200, after.read()[:300]
                after.read()
                assert closing or connection.sock is not None
    finally:
        server.stop()
    log = server.log()
    assert "server fault" in log or "store unavailable" in log  # told to the operator, not the client
