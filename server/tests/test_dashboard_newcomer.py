"""The dashboard as a newcomer meets it (issue 16, item 14): an unknown address answers the
dashboard's own page, rows added live look like the others, the timeline's filters and *Older*
keep the timeline in view, attributes read as a person writes them, the accounts table holds
together on a phone, and revealing the secret ends on a page the browser can reload.

What a person sees is checked in Debian's Chromium (the `browser` fixture), the rest over
HTTP. Screenshots go to a temporary folder; with SALESMACHINE_UPDATE_SCREENSHOTS=1 (SQLite run)
they replace the ones in docs/screenshots/ that docs/dashboard.md shows.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_support import csrf_of, make_user, send_customers, signed_in
from tests.support import Project, ServerProcess, make_project

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def shots(server: ServerProcess, tmp_path: Path) -> Path:
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and server.database_url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def member(server: ServerProcess, project: Project) -> str:
    return make_user(server.database_url, project.id)


def _session_cookie(server: ServerProcess, email: str) -> str:
    with signed_in(server.base_url, email) as client:
        return client.cookies["sm_session"]


@pytest.fixture
def page_of(browser: Any, server: ServerProcess, member: str) -> Iterator[Any]:
    """A signed-in page in a viewport of the given size, failing the test on any script error."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_page(viewport: dict[str, int] = LAPTOP, **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, **options)
        context.add_cookies([{"name": "sm_session", "value": _session_cookie(server, member), "url": server.base_url}])
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: (problems.append(f"a dialog opened: {dialog.message}"), dialog.dismiss()))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == []


def _until(page: Any, condition: str, seconds: float = 15) -> None:
    """Wait for a condition in the page (Playwright's wait_for_function evaluates a string,
    which the dashboard's Content-Security-Policy refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(condition):
        assert time.monotonic() < deadline, f"still not true after {seconds}s: {condition}"
        time.sleep(0.1)


# ---- an unknown address ------------------------------------------------------------------------


def test_an_unknown_dashboard_address_answers_the_dashboards_not_found_page(
    server: ServerProcess, project: Project, member: str
) -> None:
    base = f"/p/{project.id}"
    with signed_in(server.base_url, member) as client:
        for path in (
            f"{base}/no-such-page",
            f"{base}/accounts/acme/../../revenu",
            f"{base}/segments",
            f"{base}/settings/secret",
        ):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/html"), (path, answer.text[:200])
            assert "<h1>Not found</h1>" in answer.text, path
            # In a project the user sees: with its sidebar, to go on from there.
            assert 'class="sidebar"' in answer.text and f'href="{base}/accounts"' in answer.text, path
        other, _secret = make_project(server.database_url)
        for path in (f"/p/{other.id}/anything", "/p/not-a-number/x", "/p/"):
            answer = client.get(path)
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"), path
            assert 'class="sidebar"' not in answer.text, path  # ids reveal nothing
        bare = client.get(base, follow_redirects=False)
        assert bare.status_code in (303, 307) and bare.headers["location"].endswith(f"{base}/")
        assert client.get("/v1/no-such-endpoint").json()["code"] == "not_found"  # the API's answers stay JSON
    with httpx.Client(base_url=server.base_url) as stranger:
        signed_out = stranger.get(f"{base}/no-such-page")
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/signin?next=")


def test_the_not_found_page_keeps_the_dashboard_around_it(
    server: ServerProcess, project: Project, page_of: Any, shots: Path
) -> None:
    page = page_of()
    answer = page.goto(f"{server.base_url}/p/{project.id}/acounts")
    assert answer.status == 404 and page.inner_text("h1") == "Not found"
    page.click("nav.sidebar >> text=Accounts")
    assert page.url == f"{server.base_url}/p/{project.id}/accounts"
    page.go_back()
    page.screenshot(path=str(shots / "not-found.png"))


# ---- the live view -----------------------------------------------------------------------------

# Each cell of a row as what a person sees: its elements' tags and classes, links and text.
CELLS = """row => Array.from(row.cells).map(cell => {
  const walk = node => node.nodeType === Node.TEXT_NODE
    ? node.textContent.replace(/\\s+/g, " ")
    : "<" + node.tagName.toLowerCase() + (node.className ? "." + node.className.split(/\\s+/).sort().join(".") : "")
      + (node.getAttribute("href") ? " " + node.getAttribute("href") : "") + ">"
      + Array.from(node.childNodes).map(walk).join("") + "</>";
  return Array.from(cell.childNodes).map(walk).join("").trim();
})"""


def test_rows_added_live_look_like_the_rows_the_page_rendered(
    server: ServerProcess, project: Project, page_of: Any, shots: Path
) -> None:
    page = page_of()
    base = f"{server.base_url}/p/{project.id}"
    page.goto(f"{base}/live")
    assert (
        project.http.post(
            "/v1/track/event",
            json={
                "contact_uid": "erin",
                "event_uid": "invited_teammate",
                "params": {"account_uid": "acme", "seats": 3},
            },
        ).status_code
        == 201
    )
    refused = project.http.post(
        "/v1/batch",
        json=[
            {"method": "event", "contact_uid": "erin", "event_uid": "ok"},
            {"method": "event", "event_uid": "orphan"},
            {"method": "contact", "contact_uid": "erin", "created_at": "yesterday"},
        ],
    )
    assert refused.status_code == 201 and len(refused.json()["rejected"]) == 2
    page.wait_for_selector("#event-rows tr.fresh >> text=invited_teammate", timeout=15_000)
    _until(page, "document.querySelectorAll('#rejected-rows tr.fresh').length === 2")
    live_rows = {
        body: [(row.get_attribute("data-id"), row.evaluate(CELLS)) for row in page.query_selector_all(f"#{body} tr")]
        for body in ("event-rows", "rejected-rows")
    }
    page.screenshot(path=str(shots / "live-added-rows.png"), full_page=True)
    page.reload()
    for body, rows in live_rows.items():
        for row_id, cells in rows:
            rendered = page.query_selector(f"#{body} tr[data-id='{row_id}']").evaluate(CELLS)
            assert cells == rendered, body


# ---- the timeline ------------------------------------------------------------------------------


def test_timeline_filters_and_older_keep_the_timeline_in_view(
    server: ServerProcess, project: Project, page_of: Any, shots: Path
) -> None:
    send_customers(project)
    items = [
        {
            "method": "event" if n % 3 else "pageview",
            "contact_uid": "alice",
            "event_uid": f"step {n}",
            "params": {"account_uid": "acme", "n": n},
        }
        for n in range(80)
    ]
    assert project.http.post("/v1/batch", json=items).status_code == 201
    page = page_of()
    page.goto(f"{server.base_url}/p/{project.id}/contacts/alice")
    assert page.evaluate("document.documentElement.scrollHeight") > 3 * LAPTOP["height"]

    def timeline_in_view() -> None:
        _until(page, "window.scrollY > 0")  # scrolling to an anchor follows the load
        top = page.evaluate("document.getElementById('timeline').getBoundingClientRect().top")
        assert 0 <= top < LAPTOP["height"] / 2, f"the timeline starts {top}px from the top of the window"
        assert page.evaluate("window.scrollY") > LAPTOP["height"]

    page.locator(".timeline-filter").scroll_into_view_if_needed()
    with page.expect_navigation():
        page.click(".timeline-filter >> text=Events")
    timeline_in_view()
    assert page.locator("#timeline li.tl-pageview").count() == 0
    first = page.locator("#timeline .tl-name").first.inner_text()
    with page.expect_navigation():
        page.click("#timeline >> text=Older")
    timeline_in_view()
    assert page.locator("#timeline .tl-name").first.inner_text() != first
    assert page.locator("#timeline li.tl-pageview").count() == 0  # still events only
    page.screenshot(path=str(shots / "timeline-older.png"))  # the window, as the person sees it
    with page.expect_navigation():
        page.click(".timeline-filter >> text=All")
    timeline_in_view()


# ---- attributes --------------------------------------------------------------------------------


def test_attributes_read_as_a_person_writes_them_with_the_raw_value_in_a_title(
    server: ServerProcess, project: Project, page_of: Any, shots: Path
) -> None:
    send_customers(project)
    assert (
        project.http.post(
            "/v1/account",
            json={
                "account_uid": "acme",
                "params": {
                    "mrr": 2700.0,
                    "seats": 12000,
                    "ratio": 0.25,
                    "renewal_at": "2026-03-01T09:30:00.000Z",
                    "trial_ended_at": "2025-11-02T23:15:00+01:00",
                    "signed_on": "2025-12-24",
                    "plan": "pro",
                    "beta": True,
                    "tags": ["a", "b"],
                    "user_id": 1234567,
                    "version": "2026-03-01 beta",
                },
            },
        ).status_code
        == 201
    )
    page = page_of()
    page.goto(f"{server.base_url}/p/{project.id}/accounts/acme")

    def shown(key: str) -> tuple[str, str | None]:
        cell = page.locator(f"#attributes tr:has(th:text-is('{key}')) td")
        return cell.inner_text(), cell.get_attribute("title")

    assert shown("mrr") == ("2,700", "2700.0")
    assert shown("seats") == ("12,000", "12000")
    assert shown("ratio") == ("0.25", None)
    assert shown("renewal_at") == ("1 Mar 2026, 09:30", "2026-03-01T09:30:00.000Z")
    assert shown("trial_ended_at") == ("2 Nov 2025, 22:15", "2025-11-02T23:15:00+01:00")  # UTC, the project's zone
    assert shown("signed_on") == ("24 Dec 2025", "2025-12-24")
    assert shown("plan") == ("pro", None)
    assert shown("beta") == ("true", None)
    assert shown("tags") == ('["a","b"]', None)
    assert shown("user_id") == ("1234567", None)  # an identifier, not a quantity
    assert shown("version") == ("2026-03-01 beta", None)  # not a time: as sent
    page.locator("#attributes").screenshot(path=str(shots / "attributes.png"))


# ---- on a phone --------------------------------------------------------------------------------


def test_the_accounts_table_keeps_its_columns_aligned_on_a_phone(
    server: ServerProcess, project: Project, page_of: Any, shots: Path
) -> None:
    send_customers(project)
    page = page_of(PHONE, is_mobile=True, has_touch=True)
    page.goto(f"{server.base_url}/p/{project.id}/accounts")
    assert page.locator("#list tbody tr").count() == 3
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the accounts page is {width}px wide on a {PHONE['width']}px phone"
    # Every visible cell fills its row and lines up with its column's heading, on one line (a
    # cell squeezed into a column of words, or one that is not a table cell, breaks the grid).
    table = page.evaluate("""() => {
      const lines = cell => {
        const tops = [], walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        for (let text = walker.nextNode(); text; text = walker.nextNode()) {
          if (!text.textContent.trim()) { continue; }
          const range = document.createRange();
          range.selectNodeContents(text);
          for (const r of range.getClientRects()) {
            if (!tops.some(top => Math.abs(top - r.top) < 8)) { tops.push(r.top); }
          }
        }
        return tops.length;
      };
      const shape = row => Array.from(row.cells).filter(c => c.offsetParent !== null).map(c => {
        const r = c.getBoundingClientRect(), whole = row.getBoundingClientRect();
        return { text: c.innerText.trim(), left: Math.round(r.left), right: Math.round(r.right),
                 fills: Math.abs(r.top - whole.top) < 1 && Math.abs(r.bottom - whole.bottom) < 1, lines: lines(c) };
      });
      return { head: shape(document.querySelector('#list thead tr')),
               rows: Array.from(document.querySelectorAll('#list tbody tr')).map(shape) };
    }""")
    edges = [(cell["left"], cell["right"]) for cell in table["head"]]
    for row in [table["head"], *table["rows"]]:
        assert [(cell["left"], cell["right"]) for cell in row] == edges, row
        assert all(cell["fills"] for cell in row), row
        assert all(cell["lines"] <= 1 for cell in row), row
    # Nothing of the table is out of reach: what does not fit scrolls sideways inside its frame.
    frame = page.evaluate("""() => { const wrap = document.querySelector('#list').closest('.table-wrap');
      const r = wrap.getBoundingClientRect(); return [r.left, r.right, getComputedStyle(wrap).overflowX]; }""")
    assert frame[0] >= 0 and frame[1] <= PHONE["width"] and frame[2] in ("auto", "scroll")
    page.screenshot(path=str(shots / "accounts-phone.png"), full_page=True)


# ---- the secret --------------------------------------------------------------------------------


def test_revealing_the_secret_redirects_to_a_page_that_shows_it_once(
    server: ServerProcess, project: Project, member: str
) -> None:
    settings = f"/p/{project.id}/settings"
    with signed_in(server.base_url, member) as client:
        csrf = csrf_of(client.get(settings).text)
        posted = client.post(f"{settings}/secret", data={"csrf": csrf})
        assert posted.status_code == 303
        assert project.secret not in posted.headers["location"] and project.secret not in posted.text
        assert posted.headers["location"].startswith(settings)
        shown = client.get(posted.headers["location"])
        assert shown.status_code == 200 and project.secret in shown.text
        assert shown.headers["cache-control"] == "no-store"
        assert project.secret not in client.get(settings).text  # once: a reload hides it again
        # The request to show it belongs to this session: carried to another's, it shows nothing.
        client.post(f"{settings}/secret", data={"csrf": csrf})
        carried = "; ".join(f"{name}={value}" for name, value in client.cookies.items() if name != "sm_session")
        assert carried, "the reveal leaves nothing for the next page to see"
        other = _session_cookie(server, make_user(server.database_url, project.id))
        elsewhere = httpx.get(f"{server.base_url}{settings}", headers={"Cookie": f"sm_session={other}; {carried}"})
        assert elsewhere.status_code == 200 and project.secret not in elsewhere.text
        assert client.post(f"{settings}/secret", data={"csrf": "forged"}).status_code == 403


def test_the_revealed_secret_is_on_a_get_the_browser_can_reload(
    server: ServerProcess, project: Project, page_of: Any
) -> None:
    page = page_of()
    page.goto(f"{server.base_url}/p/{project.id}/settings")
    with page.expect_navigation() as navigation:
        page.click("#reveal-secret")
    assert navigation.value.request.method == "GET"
    assert page.inner_text("#secret") == project.secret
    assert not re.search(project.secret, page.url)
    page.reload()  # no "confirm form resubmission"; the secret is hidden again
    assert page.locator("#secret").count() == 0 and page.locator("#reveal-secret").count() == 1
