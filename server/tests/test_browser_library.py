"""The browser library in a real browser: the API document's snippets, pasted into a page of
another origin with only their host changed, against a real server on both engines.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright for Python; sdks/js/install-browser.sh
installs both. Without them these tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from salesmachine_server.ingest.client_ip import client_ip, trusted_networks
from tests.support import IN_CI, Project, ServerProcess, free_port

REPOSITORY = Path(__file__).resolve().parents[2]
BUILT = REPOSITORY / "server/src/salesmachine_server/web/static/salesmachine.min.js"

# The API document's two snippets, exactly as written there.
FULL_SNIPPET = """var salesmachine = salesmachine || [];
salesmachine.Settings = function(apiToken, options) {
var script = document.createElement('script');
script.type = 'text/javascript';
script.async = true;
script.src = ("https:" === document.location.protocol ? "https:" : "http:") + "//my.salesmachine.io/javascripts/salesmachine.min.js";
var firstScript = document.getElementsByTagName('script')[0];
firstScript.parentNode.insertBefore(script, firstScript);
var methodFactory = function (type) {
return function () {
salesmachine.push([type].concat(Array.prototype.slice.call(arguments, 0)));
};
};
var methods = ['init', 'salesmachine', 'pageview', 'account', 'contact', 'track'];
for (var i = 0; i < methods.length; i++) {
salesmachine[methods[i]] = methodFactory(methods[i]);
}
salesmachine.init(apiToken, options);
};
salesmachine.Settings("YOUR_API_TOKEN", {});"""

MINIFIED_SNIPPET = """var salesmachine=salesmachine||[];salesmachine.Settings=function(e,a){var n=document.createElement("script");n.type="text/javascript",n.async=!0,n.src="//my.salesmachine.io/javascripts/salesmachine.min.js";var t=document.getElementsByTagName("script")[0];t.parentNode.insertBefore(n,t);for(var s=function(e){return function(){salesmachine.push([e].concat(Array.prototype.slice.call(arguments,0)))}},c=["init","salesmachine","pageview","account","contact","track"],i=0;i<c.length;i++)salesmachine[c[i]]=s(c[i]);salesmachine.init(e,a)};
salesmachine.Settings("YOUR_API_TOKEN", {});"""

SNIPPETS = {"full": FULL_SNIPPET, "minified": MINIFIED_SNIPPET}

PENDING_JS = """() => Object.keys(localStorage).filter(k => k.startsWith("salesmachine:queue:"))
    .map(k => JSON.parse(localStorage.getItem(k)).items.length).reduce((a, b) => a + b, 0)"""

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 20.0, what: str = "the condition", page: Any = None) -> T:
    """Polls until `probe` is true. With a page, waits through it: Playwright delivers the page's
    events (requests, console) only while it is called."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s (last: {value!r})")
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)


def event_names(project: Project, uid: str) -> list[str]:
    contact = project.stored.contact(uid)
    return [e["name"] for e in contact["events"]] if contact else []


# ---- the browser, and a site of another origin that pastes the snippet ----------------------


class Site:
    """A customer's web site: pages served on a port of their own (an origin other than the API's)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                html = pages.get(self.path.split("?")[0])
                body = (html or "not found").encode()
                self.send_response(200 if html is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, head_script: str = "", body: str = "") -> str:
        self.pages[path] = (
            '<!doctype html><html><head><meta charset="utf-8"><title>shop</title>\n'
            f"<script>\n{head_script}\n</script>\n</head><body>{body}</body></html>"
        )
        return self.url(path)


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    served = Site()
    yield served
    served.httpd.shutdown()


def pasted(snippet: str, server: ServerProcess, token: str) -> str:
    """The snippet as a customer pastes it for a self-hosted server: only its host changed."""
    return snippet.replace("//my.salesmachine.io", f"//127.0.0.1:{server.port}").replace("YOUR_API_TOKEN", token)


@dataclass
class Tab:
    page: Any
    requests: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def batches(self) -> list[Any]:
        return [r for r in self.requests if "/v1/batch" in r.url]

    def wait_loaded(self) -> None:
        self.page.wait_for_function("() => window.salesmachine && window.salesmachine._loaded === true")


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    context = browser.new_context()
    page = context.new_page()
    opened = Tab(page)
    context.on("request", lambda request: opened.requests.append(request))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("console", lambda message: opened.console.append(f"{message.type}: {message.text}"))
    yield opened
    print("console of the page:", *opened.console, sep="\n  ")
    print("requests:", *(f"{r.method} {r.resource_type} {r.url}" for r in opened.requests), sep="\n  ")
    context.close()
    assert opened.errors == [], "the page raised errors"


def items_of(request: Any) -> list[dict[str, Any]]:
    return orjson.loads(request.post_data)


# ---- the snippets ----------------------------------------------------------------------------

BEFORE_LOAD = """
salesmachine.contact("ann", {email: "ann@acme.io", name: "Ann", account_uid: "acme"});
salesmachine.account("acme", {name: "Acme", mrr: 99});
salesmachine.track("ann", "signed_up", {plan: "pro"});
salesmachine.pageview("ann");
salesmachine.salesmachine("track", "ann", "generic_call", {via: "salesmachine()"});
window.calledBeforeLoad = !window.salesmachine._loaded;
"""

AFTER_LOAD = """() => {
    salesmachine.track("ann", "after_load", {n: 1});
    salesmachine.pageview("ann", {visit_url: "/custom", account_uid: "acme"});
}"""


@pytest.mark.parametrize("snippet", ["full", "minified"])
def test_snippet_replays_calls_made_before_it_loaded_then_sends_directly(
    snippet: str, project: Project, server: ServerProcess, site: Site, tab: Tab
) -> None:
    base = f"/{uuid.uuid4().hex}"
    page_url = site.add(f"{base}/app.html", pasted(SNIPPETS[snippet], server, project.token) + BEFORE_LOAD)
    start_url = site.add(f"{base}/start.html", body=f'<a id="go" href="{page_url}">app</a>')
    page = tab.page
    page.goto(start_url)
    page.click("#go")
    page.wait_for_url(page_url)
    tab.wait_loaded()
    assert page.evaluate("window.calledBeforeLoad") is True
    # Calls in separate requests are ordered by their times corrected for the client's clock,
    # which is exact only to the network's jitter: call again once the first batch is stored.
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the replayed calls to be sent", page=page)
    page.evaluate(AFTER_LOAD)

    eventually(lambda: len(event_names(project, "ann")) == 5, what="five events of ann", page=page)
    contact = project.stored.contact("ann")
    assert contact is not None
    assert contact["params"] == {"email": "ann@acme.io", "name": "Ann"} and contact["accounts"] == {"acme"}
    account = project.stored.account("acme")
    assert account is not None and account["params"] == {"name": "Acme", "mrr": 99} and account["contacts"] == {"ann"}
    events = contact["events"]
    assert [e["name"] for e in events] == ["signed_up", "pageview", "generic_call", "after_load", "pageview"]
    agent = page.evaluate("navigator.userAgent")
    assert events[0]["params"] == {"plan": "pro", "visit_ip": "127.0.0.1"}
    assert events[1]["kind"] == "pageview"
    assert events[1]["params"] == {
        "visit_url": page_url,
        "visit_agent": agent,
        "referrer": start_url,
        "visit_ip": "127.0.0.1",
    }
    assert events[2]["params"] == {"via": "salesmachine()", "visit_ip": "127.0.0.1"}
    assert events[4]["params"] == {
        "visit_url": "/custom",
        "account_uid": "acme",
        "visit_agent": agent,
        "referrer": start_url,
        "visit_ip": "127.0.0.1",
    }
    assert events[4]["account_uid"] == "acme"

    # Two requests: the replayed calls together, then the two made after loading together;
    # CORS-simple (text/plain, token in the query), so the browser sent no preflight.
    batches = tab.batches()
    assert [len(items_of(r)) for r in batches] == [5, 2]
    for request in batches:
        assert request.method == "POST" and request.resource_type == "fetch"
        assert request.headers["content-type"].startswith("text/plain")
        assert f"api_token={project.token}" in request.url and "authorization" not in request.headers
    first = items_of(batches[0])
    assert [i["method"] for i in first] == ["contact", "account", "event", "pageview", "event"]
    for item in first:
        uuid.UUID(item["messageId"])
        assert item["created_at"].endswith("Z") and item["sent_at"].endswith("Z")
    sent_ids = [i["messageId"] for r in batches for i in items_of(r)]
    assert len(set(sent_ids)) == 7
    assert {e["message_id"] for e in events} <= set(sent_ids)
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the stored queue to empty", page=page)


def test_a_server_that_is_down_gets_the_calls_later(
    project: Project, server: ServerProcess, site: Site, tab: Tab
) -> None:
    base = f"/{uuid.uuid4().hex}"
    snippet = pasted(MINIFIED_SNIPPET, server, project.token)
    next_url = site.add(f"{base}/next.html", snippet + '\nsalesmachine.pageview("bob", {visit_url: "/next"});')
    page_url = site.add(
        f"{base}/app.html", snippet + '\nsalesmachine.pageview("bob");', body=f'<a id="next" href="{next_url}">next</a>'
    )
    page = tab.page
    page.goto(page_url)
    tab.wait_loaded()
    eventually(lambda: event_names(project, "bob") == ["pageview"], what="the first pageview", page=page)
    failed: list[Any] = []
    page.context.on("requestfailed", lambda request: failed.append(request))

    # Down while the page makes calls: retried with backoff from the page itself.
    server.stop()
    try:
        page.evaluate('() => { salesmachine.track("bob", "while_down_1"); salesmachine.track("bob", "while_down_2"); }')
        eventually(lambda: failed, what="a failed send", page=page)
        assert page.evaluate(PENDING_JS) == 2
    finally:
        server.start()
    eventually(lambda: len(event_names(project, "bob")) == 3, timeout=30, what="the retry", page=page)

    # Down while the visitor goes to another page and makes more calls there: the next load of
    # the site, once the server is back, sends what both pages left in localStorage.
    server.stop()
    try:
        failed.clear()
        page.evaluate('() => { salesmachine.track("bob", "before_leaving"); document.getElementById("next").click(); }')
        page.wait_for_url(next_url)
        tab.wait_loaded()
        eventually(lambda: failed, what="a failed send from the next page", page=page)
        assert page.evaluate(PENDING_JS) >= 2
    finally:
        server.start()
    page.reload()
    expected = ["pageview", "while_down_1", "while_down_2", "before_leaving", "pageview", "pageview"]
    eventually(lambda: event_names(project, "bob") == expected, what="every call, once", page=page)
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the stored queue to empty", page=page)
    page.wait_for_timeout(500)
    events = project.stored.contact("bob")["events"]  # type: ignore[index]
    assert [e["name"] for e in events] == expected
    assert [e["params"].get("visit_url") for e in events if e["name"] == "pageview"] == [page_url, "/next", "/next"]
    assert len({e["message_id"] for e in events}) == len(expected)


# Records each sendBeacon call of the page in sessionStorage (it outlives the page, which
# Playwright's request events do not: a beacon leaves after the page is gone), then sends it.
RECORD_BEACONS = """
(function (send) {
  navigator.sendBeacon = function (url, data) {
    var sent = JSON.parse(sessionStorage.getItem("beacons") || "[]");
    var queued = send.call(navigator, url, data);
    sent.push({url: url, data: String(data), queued: queued});
    sessionStorage.setItem("beacons", JSON.stringify(sent));
    return queued;
  };
})(navigator.sendBeacon);
"""


def test_what_is_queued_when_the_page_is_left_goes_by_beacon(
    project: Project, server: ServerProcess, site: Site, tab: Tab
) -> None:
    base = f"/{uuid.uuid4().hex}"
    snippet = RECORD_BEACONS + pasted(FULL_SNIPPET, server, project.token)
    plain_url = site.add(f"{base}/plain.html", body="a page without the snippet")
    page_url = site.add(
        f"{base}/app.html", snippet + '\nsalesmachine.pageview("cy");', body=f'<a id="away" href="{plain_url}">away</a>'
    )
    page = tab.page
    page.goto(page_url)
    tab.wait_loaded()
    eventually(lambda: event_names(project, "cy") == ["pageview"], what="the pageview", page=page)

    # Leaving right after a call, before the library's short batching delay has run out.
    page.evaluate('() => { salesmachine.track("cy", "clicked_away"); document.getElementById("away").click(); }')
    page.wait_for_url(plain_url)
    eventually(lambda: event_names(project, "cy") == ["pageview", "clicked_away"], what="the beaconed event", page=page)
    beacons = page.evaluate('JSON.parse(sessionStorage.getItem("beacons") || "[]")')
    assert len(beacons) == 1 and beacons[0]["queued"] is True
    assert beacons[0]["url"] == f"{server.base_url}/v1/batch?api_token={project.token}"
    assert [i["event_uid"] for i in orjson.loads(beacons[0]["data"])] == ["clicked_away"]
    # A beacon's answer cannot be read, so the item stayed stored until a page confirms it.
    assert page.evaluate(PENDING_JS) == 1

    # The next page with the snippet sends it again: the server keeps it once.
    page.goto(page_url)
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the stored queue to empty", page=page)
    eventually(lambda: len(event_names(project, "cy")) == 3, what="the second pageview", page=page)
    assert event_names(project, "cy") == ["pageview", "clicked_away", "pageview"]


def test_without_fetch_and_sendbeacon_the_get_transport_is_used(
    project: Project, server: ServerProcess, site: Site, tab: Tab
) -> None:
    base = f"/{uuid.uuid4().hex}"
    old_browser = "delete window.fetch; delete navigator.sendBeacon; delete Navigator.prototype.sendBeacon;\n"
    snippet = old_browser + pasted(FULL_SNIPPET, server, project.token)
    page_url = site.add(
        f"{base}/app.html",
        snippet + '\nsalesmachine.contact("dee", {name: "Dee Ünïcode"}); salesmachine.pageview("dee");',
        body=f'<a id="again" href="{base}/app.html">again</a>',
    )
    page = tab.page
    page.goto(page_url)
    tab.wait_loaded()
    assert page.evaluate("[typeof window.fetch, typeof navigator.sendBeacon]") == ["undefined", "undefined"]
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the first calls to be sent", page=page)
    page.evaluate('() => salesmachine.track("dee", "after_load", {note: "&=?+/ ok"})')
    eventually(lambda: event_names(project, "dee") == ["pageview", "after_load"], what="the GET writes", page=page)
    contact = project.stored.contact("dee")
    assert contact is not None and contact["params"] == {"name": "Dee Ünïcode"}
    pageview, after = contact["events"]
    assert pageview["params"]["visit_url"] == page_url and pageview["params"]["visit_ip"] == "127.0.0.1"
    assert after["params"] == {"note": "&=?+/ ok", "visit_ip": "127.0.0.1"}
    batches = tab.batches()
    assert batches and all(r.method == "GET" and r.resource_type == "xhr" for r in batches)
    assert all("&data=" in r.url and "encode=base64" in r.url and "_method=post" in r.url for r in batches)

    # Leaving right after a call: without a beacon, what the page could not send goes on the next load.
    page.evaluate('() => { salesmachine.track("dee", "leaving"); document.getElementById("again").click(); }')
    eventually(lambda: len(event_names(project, "dee")) == 4, what="the next load's writes", page=page)
    eventually(lambda: page.evaluate(PENDING_JS) == 0, what="the stored queue to empty", page=page)
    page.wait_for_timeout(300)
    assert event_names(project, "dee") == ["pageview", "after_load", "leaving", "pageview"]


# ---- the server's side -----------------------------------------------------------------------


def test_the_library_is_served_with_a_content_etag(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        answer = http.get("/javascripts/salesmachine.min.js")
        assert answer.status_code == 200 and answer.content == BUILT.read_bytes()
        assert answer.headers["content-type"].startswith("text/javascript")
        assert answer.headers["cache-control"] == "public, max-age=3600"
        etag = answer.headers["etag"]
        assert etag.startswith('"') and len(etag) == 34
        for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            revalidated = http.get("/javascripts/salesmachine.min.js", headers={"If-None-Match": tag})
            assert revalidated.status_code == 304 and revalidated.content == b"" and revalidated.headers["etag"] == etag
        assert http.get("/javascripts/salesmachine.min.js", headers={"If-None-Match": '"old"'}).status_code == 200
        assert http.head("/javascripts/salesmachine.min.js").status_code == 200


def _from(address: str, server: ServerProcess, token: str) -> httpx.Client:
    """A browser-like client (token in the query) connecting from a given loopback address."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, transport=transport, params={"api_token": token}, timeout=30)


def test_visit_ip_is_the_connection_of_a_token_only_write(project: Project, server: ServerProcess) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    with _from("127.0.0.2", server, project.token) as browser_like:
        batch = [
            {"method": "pageview", "contact_uid": "ed", "params": {"visit_url": "/a"}},
            {"method": "event", "contact_uid": "ed", "event_uid": "own_ip", "params": {"visit_ip": "198.51.100.4"}},
            {"method": "contact", "contact_uid": "ed", "params": {"name": "Ed"}},
        ]
        assert browser_like.post("/v1/batch", json=batch, headers=spoofed).status_code == 201
    # Server-side clients (Basic credentials) write from their backend: nothing is added.
    assert project.http.post("/v1/track/event", json={"contact_uid": "ed", "event_uid": "backend"}).status_code == 201
    contact = project.stored.contact("ed")
    assert contact is not None and contact["params"] == {"name": "Ed"}
    assert [(e["name"], e["params"]) for e in contact["events"]] == [
        ("pageview", {"visit_url": "/a", "visit_ip": "127.0.0.2"}),  # X-Forwarded-For from no trusted proxy
        ("own_ip", {"visit_ip": "198.51.100.4"}),
        ("backend", {}),
    ]


def test_x_forwarded_for_is_honoured_from_trusted_proxies(
    project: Project, server: ServerProcess, tmp_path: Path
) -> None:
    behind_proxy = ServerProcess(
        server.database_url, tmp_path / "server.log", env={"SALESMACHINE_TRUSTED_PROXIES": "127.0.0.2, 10.0.0.0/8"}
    ).start()
    try:
        chain = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.1.2.3"}
        for address, uid in (("127.0.0.2", "via_proxy"), ("127.0.0.3", "direct")):
            with _from(address, behind_proxy, project.token) as http:
                assert http.post("/v1/track/pageview", json={"contact_uid": uid}, headers=chain).status_code == 201
    finally:
        behind_proxy.stop()
    visit_ip = {
        uid: project.stored.contact(uid)["events"][0]["params"]["visit_ip"]  # type: ignore[index]
        for uid in ("via_proxy", "direct")
    }
    assert visit_ip == {"via_proxy": "203.0.113.9", "direct": "127.0.0.3"}


def test_client_ip_walks_x_forwarded_for_only_through_trusted_proxies() -> None:
    trusted = trusted_networks("10.0.0.0/8, 192.0.2.1, fd00::/8, not-an-ip")
    assert client_ip("198.51.100.7", ["203.0.113.9"], trusted) == "198.51.100.7"
    assert client_ip("192.0.2.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("192.0.2.1", ["1.1.1.1, 203.0.113.9, 10.0.0.5"], trusted) == "203.0.113.9"
    assert client_ip("192.0.2.1", ["1.1.1.1", "203.0.113.9:5555"], trusted) == "203.0.113.9"
    assert client_ip("192.0.2.1", ["10.0.0.5, 10.0.0.6"], trusted) == "10.0.0.5"  # all trusted: the first
    assert client_ip("192.0.2.1", ["nonsense, 10.0.0.5"], trusted) == "10.0.0.5"
    assert client_ip("fd00::1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert client_ip("::ffff:192.0.2.1", ["203.0.113.9"], trusted) == "203.0.113.9"
    assert client_ip("192.0.2.1", [], trusted) == "192.0.2.1"
    assert client_ip(None, ["203.0.113.9"], trusted) is None


# ---- the build -------------------------------------------------------------------------------


def test_the_committed_library_is_the_build_of_the_source(tmp_path: Path) -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        if IN_CI:
            pytest.fail("node and npm are needed to build sdks/js")
        pytest.skip("node and npm are needed to build sdks/js")
    out = tmp_path / "salesmachine.min.js"
    subprocess.run(
        ["bash", str(REPOSITORY / "sdks/js/build.sh"), str(out)], check=True, capture_output=True, timeout=300
    )
    assert out.read_bytes() == BUILT.read_bytes(), "run sdks/js/build.sh and commit its output"
