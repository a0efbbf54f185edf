"""Enrichment (docs/enrichment.md): where each event came from, with what, which company an
account is; what is kept of addresses; the backfill of data stored before. Over HTTP against
real servers, on SQLite and PostgreSQL.

The countries expected are those of the Regional Internet Registries' allocations that iptocc
ships, for addresses whose holder is famous and long-standing: Google's public DNS (US), the
RIPE NCC's own web server (NL), NIC.br's (BR), the WIDE project's M-root server (JP), Hetzner's
first IPv6 block (DE).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_support import make_user, signed_in
from tests.support import Project, ServerProcess, StoredData, make_project, postgres_database

PUBLIC = {
    "8.8.8.8": "US",
    "193.0.6.139": "NL",
    "200.160.0.8": "BR",
    "202.12.27.33": "JP",
    "2001:4860:4860::8888": "US",
    "2a01:4f8::1": "DE",
    "::ffff:8.8.8.8": "US",  # IPv4-mapped IPv6 is the IPv4 address
}
NOT_LOCATED = {
    "10.1.2.3": "private",
    "192.168.1.10": "private",
    "172.16.5.4": "private",
    "100.64.0.1": "private",  # carrier-grade NAT
    "fd12:3456::1": "private",  # IPv6 unique local
    "127.0.0.1": "loopback",
    "::1": "loopback",
    "fe80::1": "link_local",
    "169.254.10.1": "link_local",
    "224.0.0.251": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "0.1.2.3": "reserved",  # "this network"
    "198.18.0.1": "reserved",  # benchmarking
    "fec0::1": "reserved",  # deprecated site-local
    "203.0.113.7": "reserved",  # documentation (TEST-NET-3)
    "2001:db8::1": "reserved",  # documentation
    "240.0.0.1": "reserved",  # future use
    "XX.XX.XX.XX": "invalid",  # the API document's placeholder, as some clients send it
}

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1.2 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAMSUNG_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
AGENTS = {
    CHROME_WINDOWS: {
        "browser": "Chrome",
        "browser_version": "120.0.0.0",
        "os": "Windows",
        "os_version": "10",
        "device": "desktop",
    },
    SAFARI_IPHONE: {
        "browser": "Mobile Safari",
        "browser_version": "17.1.2",
        "os": "iOS",
        "os_version": "17.1.2",
        "device": "mobile",
    },
    FIREFOX_LINUX: {
        "browser": "Firefox",
        "browser_version": "121.0",
        "os": "Linux",
        "os_version": None,
        "device": "desktop",
    },
    SAMSUNG_TABLET: {
        "browser": "Samsung Internet",
        "browser_version": "23.0",
        "os": "Android",
        "os_version": "13",
        "device": "tablet",
    },
    GOOGLEBOT: {"browser": "Googlebot", "browser_version": "2.1", "os": None, "os_version": None, "device": "bot"},
}


def reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30)


def send(project: Project, items: list[dict[str, Any]]) -> None:
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201, response.text
    assert "rejected" not in response.json(), response.text


def pageviews(project: Project) -> list[dict[str, Any]]:
    with reader(project) as http:
        answer = http.get("/v1/events", params={"kind": "pageview", "limit": 1000})
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


@contextlib.contextmanager
def project_on(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url)
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


@pytest.fixture
def start_server(database_url: str, tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Servers of their own (other settings) on the run's database; stopped after the test."""
    started: list[ServerProcess] = []

    def start(url: str | None = None, **env: str) -> ServerProcess:
        process = ServerProcess(url or database_url, tmp_path / f"server-{len(started)}.log", env=env).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the run's engine, for a test that works on a whole database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    with postgres_database() as url:
        yield url


# -- where ---------------------------------------------------------------------------------


def test_public_addresses_are_located_in_their_country(project: Project) -> None:
    send(
        project,
        [{"method": "pageview", "contact_uid": f"v{n}", "params": {"visit_ip": ip}} for n, ip in enumerate(PUBLIC)],
    )
    geo = {event["params"]["visit_ip"]: event["geo"] for event in pageviews(project)}
    assert geo == {
        ip: {"scope": "public", "country": country, "region": None, "city": None, "latitude": None, "longitude": None}
        for ip, country in PUBLIC.items()
    }


def test_private_loopback_and_reserved_addresses_are_marked_not_guessed(project: Project) -> None:
    send(
        project,
        [
            {"method": "pageview", "contact_uid": f"v{n}", "params": {"visit_ip": ip}}
            for n, ip in enumerate(NOT_LOCATED)
        ],
    )
    events = pageviews(project)
    assert {e["params"]["visit_ip"]: e["geo"]["scope"] for e in events} == NOT_LOCATED
    assert all(e["geo"]["country"] is None and e["geo"]["city"] is None for e in events)
    with reader(project) as http:
        profile = http.get("/v1/contacts/v0").json()
    assert profile["location"] is None and profile["visits_by_country"] == []


def test_an_event_without_address_or_agent_has_neither(project: Project) -> None:
    send(project, [{"method": "event", "contact_uid": "srv", "event_uid": "invoice_paid", "params": {"amount": 3}}])
    with reader(project) as http:
        event = http.get("/v1/contacts/srv/events").json()["data"][0]
    assert event["geo"] is None and event["agent"] is None


def test_absent_values_are_stored_as_null_and_events_in_the_order_sent(project: Project) -> None:
    """An event without an account, a messageId, an address or an agent has NULL there, not a
    stand-in (on SQLite the insert binds '' for some and names only the enrichment columns an
    event has, store/write/event_insert.py); events of every kind mixed keep the batch's order."""
    send(project, [{"method": "account", "account_uid": "acme", "params": {"name": "Acme"}}])
    kinds = [
        {},  # nothing: no account, no messageId, enriched with nothing found
        {"account_uid": "acme"},
        {"visit_ip": "8.8.8.8", "visit_agent": FIREFOX_LINUX},
        {"messageId": True},
        {"visit_agent": GOOGLEBOT, "account_uid": "acme"},
        {},
    ]
    items = []
    for n, kind in enumerate(kinds * 2):
        params = {"n": n} | {k: v for k, v in kind.items() if k != "messageId"}
        contact = "member" if "account_uid" in kind else "loner"  # a member's events all name its account
        item = {"method": "event", "contact_uid": contact, "event_uid": "e", "params": params}
        if "messageId" in kind:
            item["messageId"] = f"m-{n}"
        items.append(item)
    send(project, items)
    rows = project.stored.rows(
        "SELECT id, account_id, message_id, ip_scope, country, os_version, browser, enrichment, params "
        "FROM events WHERE project_id = :project ORDER BY id"
    )
    params = [row.params if isinstance(row.params, dict) else json.loads(row.params) for row in rows]
    assert [p["n"] for p in params] == list(range(len(items)))
    acme = project.stored.rows("SELECT id FROM accounts WHERE project_id = :project")[0].id
    for row, item in zip(rows, items):
        sent = item["params"]
        assert row.account_id == (acme if "account_uid" in sent else None), item
        assert row.message_id == item.get("messageId"), item
        assert row.enrichment == 1, item
        located = "visit_ip" in sent
        assert (row.ip_scope, row.country) == (("public", "US") if located else (None, None)), item
        assert row.browser == {FIREFOX_LINUX: "Firefox", GOOGLEBOT: "Googlebot", None: None}[sent.get("visit_agent")]
        assert row.os_version is None, item  # neither agent names one


def test_latest_known_location_and_visits_by_country(project: Project) -> None:
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme", "domain": "acme.com"}},
            {"method": "contact", "contact_uid": "ann", "params": {"email": "ann@acme.com", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "bob", "params": {"email": "bob@acme.com", "account_uid": "acme"}},
            *[
                {
                    "method": "pageview",
                    "contact_uid": "ann",
                    "created_at": f"2024-03-0{day}T10:00:00Z",
                    "params": {"visit_ip": ip, "visit_agent": agent},
                }
                for day, ip, agent in (
                    (1, "8.8.8.8", CHROME_WINDOWS),
                    (2, "193.0.6.139", CHROME_WINDOWS),
                    (3, "193.0.6.139", SAFARI_IPHONE),
                )
            ],
            # Later, from an office network: not a location, so the latest known one stays.
            {
                "method": "pageview",
                "contact_uid": "ann",
                "created_at": "2024-03-04T10:00:00Z",
                "params": {"visit_ip": "10.0.0.8"},
            },
            {
                "method": "pageview",
                "contact_uid": "bob",
                "created_at": "2024-02-01T10:00:00Z",
                "params": {"visit_ip": "200.160.0.8", "visit_agent": FIREFOX_LINUX},
            },
            # An event is located too, but only pageviews are visits.
            {
                "method": "event",
                "contact_uid": "bob",
                "event_uid": "exported",
                "created_at": "2024-03-05T10:00:00Z",
                "params": {"visit_ip": "202.12.27.33"},
            },
        ],
    )
    with reader(project) as http:
        ann = http.get("/v1/contacts/ann").json()
        bob = http.get("/v1/contacts/bob").json()
        acme = http.get("/v1/accounts/acme").json()
    assert ann["location"] == {
        "country": "NL",
        "region": None,
        "city": None,
        "latitude": None,
        "longitude": None,
        "seen_at": "2024-03-03T10:00:00Z",
    }
    assert ann["agent"] == AGENTS[SAFARI_IPHONE] | {"seen_at": "2024-03-03T10:00:00Z"}
    assert ann["visits_by_country"] == [{"country": "NL", "visits": 2}, {"country": "US", "visits": 1}]
    assert bob["location"]["country"] == "JP" and bob["location"]["seen_at"] == "2024-03-05T10:00:00Z"
    assert bob["agent"] == AGENTS[FIREFOX_LINUX] | {"seen_at": "2024-02-01T10:00:00Z"}
    assert bob["visits_by_country"] == [{"country": "BR", "visits": 1}]
    assert acme["domain"] == "acme.com"
    assert acme["location"]["country"] == "JP"
    assert acme["visits_by_country"] == [
        {"country": "NL", "visits": 2},
        {"country": "BR", "visits": 1},
        {"country": "US", "visits": 1},
    ]


def test_a_city_from_an_mmdb_file(start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
            "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
            "city": {"names": {"en": "London", "fr": "Londres"}},
            "location": {"latitude": 51.5142, "longitude": -0.0931},
        },
    )
    # A city without a country: the country is iptocc's.
    writer.insert_network(
        IPSet(["2a01:4f8::/32"]),
        {"city": {"names": {"en": "Falkenstein"}}, "location": {"latitude": 50.4779, "longitude": 12.3713}},
    )
    path = tmp_path / "cities.mmdb"
    writer.to_db_file(str(path))
    server = start_server(SALESMACHINE_GEOIP_DB=str(path))
    with project_on(server) as project:
        send(
            project,
            [
                {"method": "pageview", "contact_uid": "london", "params": {"visit_ip": "81.2.69.142"}},
                {"method": "pageview", "contact_uid": "saxony", "params": {"visit_ip": "2a01:4f8:1:2::3"}},
                {"method": "pageview", "contact_uid": "mountain", "params": {"visit_ip": "8.8.8.8"}},
            ],
        )
        geo = {e["contact_uid"]: e["geo"] for e in pageviews(project)}
        with reader(project) as http:
            london = http.get("/v1/contacts/london").json()["location"]
    assert geo["london"] == {
        "scope": "public",
        "country": "GB",
        "region": "England",
        "city": "London",
        "latitude": 51.5142,
        "longitude": -0.0931,
    }
    assert geo["saxony"] == {
        "scope": "public",
        "country": "DE",
        "region": None,
        "city": "Falkenstein",
        "latitude": 50.4779,
        "longitude": 12.3713,
    }
    assert geo["mountain"] == {
        "scope": "public",
        "country": "US",
        "region": None,
        "city": None,
        "latitude": None,
        "longitude": None,
    }  # not in the file: iptocc alone
    assert london["city"] == "London" and london["country"] == "GB"


def test_a_missing_mmdb_file_stops_the_start(database_url: str, tmp_path: Path) -> None:
    server = ServerProcess(database_url, tmp_path / "server.log", env={"SALESMACHINE_GEOIP_DB": "/nonexistent.mmdb"})
    with pytest.raises(RuntimeError, match="server exited"):
        server.start(timeout=30)
    assert "nonexistent.mmdb" in server.log()


# -- with what -----------------------------------------------------------------------------


def test_user_agents_field_by_field(project: Project) -> None:
    send(
        project,
        [
            {"method": "pageview", "contact_uid": f"ua{n}", "params": {"visit_agent": agent}}
            for n, agent in enumerate(AGENTS)
        ],
    )
    found = {e["params"]["visit_agent"]: e["agent"] for e in pageviews(project)}
    for agent, expected in AGENTS.items():
        assert found[agent] == expected, agent
    with reader(project) as http:
        profile = http.get("/v1/contacts/ua1").json()
    assert profile["agent"]["device"] == "mobile" and profile["agent"]["os"] == "iOS"


def test_an_agent_nothing_can_be_read_from_is_none(project: Project) -> None:
    send(
        project,
        [
            {"method": "pageview", "contact_uid": "x", "params": {"visit_agent": "???"}},
            {"method": "pageview", "contact_uid": "y", "params": {"visit_agent": "curl/8.4.0"}},
        ],
    )
    found = {e["contact_uid"]: e["agent"] for e in pageviews(project)}
    assert found["x"] is None
    assert found["y"] == {"browser": "curl", "browser_version": "8.4.0", "os": None, "os_version": None, "device": None}


def test_a_browser_write_is_located_by_its_connection_and_read_by_its_user_agent(project: Project) -> None:
    """The browser library's transports (token in the query): visit_ip is the connection's
    address (here loopback), and an event without visit_agent gets the browser's User-Agent."""
    with httpx.Client(base_url=project.http.base_url, timeout=30) as browser:
        answer = browser.post(
            f"/v1/batch?api_token={project.token}",
            headers={"User-Agent": SAMSUNG_TABLET},
            content=b'[{"method":"event","contact_uid":"tab","event_uid":"clicked"},'
            b'{"method":"pageview","contact_uid":"tab","params":{"visit_agent":"' + GOOGLEBOT.encode() + b'"}}]',
        )
    assert answer.status_code == 201, answer.text
    with reader(project) as http:
        events = {e["event_uid"]: e for e in http.get("/v1/contacts/tab/events").json()["data"]}
    assert events["clicked"]["params"] == {"visit_ip": "127.0.0.1"}  # the header is not stored
    assert events["clicked"]["geo"]["scope"] == "loopback"
    assert events["clicked"]["agent"] == AGENTS[SAMSUNG_TABLET]
    assert events["pageview"]["agent"] == AGENTS[GOOGLEBOT]  # what the page said wins
    # A server-side client's User-Agent is its library's, not a visitor's: not read.
    send(project, [{"method": "event", "contact_uid": "srv", "event_uid": "e"}])
    with reader(project) as http:
        event = http.get("/v1/contacts/srv/events").json()["data"][0]
    assert event["agent"] is None and event["geo"] is None


# -- which company -------------------------------------------------------------------------


def test_account_domains(project: Project) -> None:
    send(
        project,
        [
            {
                "method": "account",
                "account_uid": "named",
                "params": {"domain": "Acme.com", "website_url": "https://other.io"},
            },
            {"method": "account", "account_uid": "site", "params": {"website_url": "http://www.teslamotors.com/about"}},
            {"method": "account", "account_uid": "mails", "params": {"name": "Initech"}},
            {
                "method": "contact",
                "contact_uid": "m1",
                "params": {"email": "peter@initech.com", "account_uid": "mails"},
            },
            {"method": "contact", "contact_uid": "m2", "params": {"email": "Bill@Initech.com", "account_uid": "mails"}},
            {"method": "contact", "contact_uid": "m3", "params": {"email": "milton@gmail.com", "account_uid": "mails"}},
            {"method": "account", "account_uid": "freemail", "params": {}},
            {"method": "contact", "contact_uid": "f1", "params": {"email": "a@gmail.com", "account_uid": "freemail"}},
            {"method": "contact", "contact_uid": "f2", "params": {"email": "b@outlook.com", "account_uid": "freemail"}},
            {"method": "account", "account_uid": "split", "params": {}},
            {"method": "contact", "contact_uid": "s1", "params": {"email": "a@globex.com", "account_uid": "split"}},
            {"method": "contact", "contact_uid": "s2", "params": {"email": "b@initrode.com", "account_uid": "split"}},
            {"method": "account", "account_uid": "junk", "params": {"website_url": "not a url", "domain": ""}},
        ],
    )
    expected = {
        "named": "acme.com",
        "site": "teslamotors.com",
        "mails": "initech.com",
        "freemail": None,
        "split": None,
        "junk": None,
    }
    with reader(project) as http:
        for uid, domain in expected.items():
            assert http.get(f"/v1/accounts/{uid}").json()["domain"] == domain, uid
        listed = {a["account_uid"]: a["domain"] for a in http.get("/v1/accounts", params={"limit": 100}).json()["data"]}
    assert listed == expected


# -- what is kept of addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kept"),
    [
        (
            "truncated",
            {
                "193.0.6.139": "193.0.6.0",
                "2a01:4f8:1:2::3": "2a01:4f8:1::",
                "10.9.8.7": "10.9.8.0",
                "XX.XX.XX.XX": None,
            },
        ),
        ("off", {"193.0.6.139": None, "2a01:4f8:1:2::3": None, "10.9.8.7": None, "XX.XX.XX.XX": None}),
    ],
)
def test_ip_storage_keeps_less_after_locating(
    start_server: Callable[..., ServerProcess], mode: str, kept: dict[str, str | None]
) -> None:
    server = start_server(SALESMACHINE_IP_STORAGE=mode)
    sent = list(kept)
    with project_on(server) as project:
        send(
            project,
            [
                {"method": "pageview", "contact_uid": f"p{n}", "params": {"visit_ip": ip, "visit_url": "/"}}
                for n, ip in enumerate(sent)
            ],
        )
        found = {e["contact_uid"]: e for e in pageviews(project)}
        stored = {
            row.params_text
            for row in project.stored.rows(
                "SELECT CAST(params AS TEXT) AS params_text FROM events WHERE project_id = :project"
            )
        }
    for n, ip in enumerate(sent):
        event = found[f"p{n}"]
        assert event["params"].get("visit_ip") == kept[ip], ip
        assert event["params"]["visit_url"] == "/"
    # Located before: the country and scope stay.
    assert found["p0"]["geo"]["country"] == "NL" and found["p1"]["geo"]["country"] == "DE"
    assert found["p2"]["geo"]["scope"] == "private" and found["p3"]["geo"]["scope"] == "invalid"
    assert not any("193.0.6.139" in text or "2a01:4f8:1:2::3" in text for text in stored)


def test_a_bad_ip_storage_mode_stops_the_start(database_url: str, tmp_path: Path) -> None:
    server = ServerProcess(database_url, tmp_path / "server.log", env={"SALESMACHINE_IP_STORAGE": "partial"})
    with pytest.raises(RuntimeError, match="server exited"):
        server.start(timeout=30)
    assert "SALESMACHINE_IP_STORAGE must be one of full, truncated, off" in server.log()


# -- data stored before ----------------------------------------------------------------------


def enrich(database_url: str, *args: str, **env: str) -> str:
    import os

    done = subprocess.run(
        [sys.executable, "-m", "salesmachine_server", "enrich", *args, "--database", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_backfill_enriches_what_was_stored_before_once(
    start_server: Callable[..., ServerProcess], fresh_database: str
) -> None:
    server = start_server(fresh_database, SALESMACHINE_ENRICHMENT="off")
    with project_on(server) as project:
        send(
            project,
            [
                {"method": "account", "account_uid": "acme", "params": {"name": "Acme"}},
                {
                    "method": "pageview",
                    "contact_uid": "ann",
                    "created_at": "2024-01-01T00:00:00Z",
                    "params": {"visit_ip": "193.0.6.139", "visit_agent": SAFARI_IPHONE, "account_uid": "acme"},
                },
                {
                    "method": "pageview",
                    "contact_uid": "ann",
                    "created_at": "2024-01-02T00:00:00Z",
                    "params": {"visit_ip": "8.8.8.8", "account_uid": "acme"},
                },
                {"method": "event", "contact_uid": "ann", "event_uid": "paid", "params": {"amount": 1}},
            ]
            + [
                {"method": "event", "contact_uid": f"c{n}", "event_uid": "e", "params": {"visit_ip": "200.160.0.8"}}
                for n in range(7)
            ],
        )
        assert all(e["geo"] is None and e["agent"] is None for e in pageviews(project))
        assert "10 events not enriched yet" in enrich(fresh_database)

        first = enrich(fresh_database, "--backfill", "--batch-size", "3", SALESMACHINE_IP_STORAGE="truncated")
        assert "enriched 10 events (9 with an address, 1 with a user agent, 9 addresses truncated or removed)" in first
        second = enrich(fresh_database, "--backfill", SALESMACHINE_IP_STORAGE="truncated")
        assert "enriched 0 events" in second
        assert "0 events not enriched yet" in enrich(fresh_database)

        with reader(project) as http:
            ann = http.get("/v1/contacts/ann").json()
            events = http.get("/v1/contacts/ann/events").json()["data"]
            acme = http.get("/v1/accounts/acme").json()
            c0 = http.get("/v1/contacts/c0/events").json()["data"][0]
    assert ann["location"]["country"] == "US" and ann["agent"]["device"] == "mobile"
    assert acme["visits_by_country"] == [{"country": "NL", "visits": 1}, {"country": "US", "visits": 1}]
    by_name = {(e["event_uid"], e["created_at"][:10]): e for e in events}
    first_visit = by_name[("pageview", "2024-01-01")]
    assert first_visit["params"]["visit_ip"] == "193.0.6.0"  # truncated by the backfill, after locating
    assert first_visit["geo"]["country"] == "NL" and first_visit["agent"] == AGENTS[SAFARI_IPHONE]
    assert c0["geo"]["country"] == "BR" and c0["params"] == {"visit_ip": "200.160.0.0"}
    paid = next(e for e in events if e["event_uid"] == "paid")
    assert paid["geo"] is None and paid["params"] == {"amount": 1}


# -- the dashboard -------------------------------------------------------------------------


def test_profile_pages_show_location_browser_and_countries(server: ServerProcess, project: Project) -> None:
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme Corp"}},
            {
                "method": "contact",
                "contact_uid": "ann",
                "params": {"name": "Ann", "email": "ann@acme.io", "account_uid": "acme"},
            },
            {
                "method": "pageview",
                "contact_uid": "ann",
                "created_at": "2024-03-01T10:00:00Z",
                "params": {"visit_ip": "193.0.6.139", "visit_agent": CHROME_WINDOWS},
            },
            {
                "method": "pageview",
                "contact_uid": "ann",
                "created_at": "2024-03-02T10:00:00Z",
                "params": {"visit_ip": "193.0.6.139", "visit_agent": CHROME_WINDOWS},
            },
            {
                "method": "pageview",
                "contact_uid": "ann",
                "created_at": "2024-03-03T10:00:00Z",
                "params": {"visit_ip": "192.168.0.4", "visit_agent": CHROME_WINDOWS},
            },
        ],
    )
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        contact = browser.get(f"/p/{project.id}/contacts/ann").text
        account = browser.get(f"/p/{project.id}/accounts/acme").text
    assert '<div class="muted" id="whereabouts">NL · Chrome 120 on Windows 10 (desktop)</div>' in contact
    assert 'private network <span class="muted">(192.168.0.4)</span>' in contact
    assert "Chrome on Windows (desktop)" in contact  # the visits table: no versions
    assert '<span id="domain">acme.io</span>' in account  # from its contact's company address
    assert '<div class="muted" id="whereabouts">NL</div>' in account
    assert '<tr><td>NL</td><td class="num">2</td></tr>' in account
