"""The read API on a small history built through the write API, checked field by field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support import Project, ServerProcess, StoredData, health_settled, make_project, wait_for


def reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30)


def at_local(tz: str, days_ago: int, hour: int, minute: int = 0) -> str:
    """An ISO UTC time for a local wall-clock time `days_ago` days before today in `tz`."""
    zone = ZoneInfo(tz)
    day = datetime.now(zone).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC).isoformat()


def send(project: Project, items: list[dict]) -> None:
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201, response.text
    assert "rejected" not in response.json()


def events_on(uid: str, days_ago: list[int], tz: str = "UTC", name: str = "used", hour: int = 12) -> list[dict]:
    return [
        {"method": "event", "contact_uid": uid, "event_uid": name, "created_at": at_local(tz, d, hour)}
        for d in days_ago
    ]


@pytest.fixture
def tokyo(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url, timezone="Asia/Tokyo")
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, auth=(created.token, ""), timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


def test_reading_needs_token_and_secret(project: Project) -> None:
    for path in ("/v1/contacts", "/v1/contacts/x", "/v1/accounts", "/v1/events"):
        response = project.http.get(path)  # token alone
        assert response.status_code == 401, path
        assert response.json()["rule"] == "token_and_secret"
        assert response.headers["www-authenticate"].startswith("Basic")
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, "wrong")) as wrong:
        assert wrong.get("/v1/contacts").status_code == 401


def test_contact_profile_by_any_uid(project: Project) -> None:
    send(
        project,
        [
            {
                "method": "contact",
                "contact_uid": "anon-7",
                "created_at": "2024-01-01T10:00:00Z",
                "params": {"browser": "firefox"},
            },
            {
                "method": "contact",
                "contact_uid": "u1",
                "created_at": "2024-02-01T10:00:00Z",
                "params": {"email": "ann@acme.io", "name": "Ann", "mrr": 30, "account_uid": ["acme", "beta"]},
            },
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme"}},
            {"method": "alias", "contact_uid": "u1", "alias": "anon-7"},
            *events_on("u1", [0, 1, 1, 3]),
        ],
    )
    # The band's `since` comes from the health history, which the server's health task builds
    # after the write: read once it is built, or the two reads can straddle it.
    wait_for(lambda: health_settled(project))
    with reader(project) as http:
        by_alias = http.get("/v1/contacts/anon-7").json()
        assert by_alias == http.get("/v1/contacts/u1").json()
    assert by_alias["contact_uid"] == "anon-7"  # the first uid it was known by
    assert by_alias["aliases"] == ["u1"]
    assert by_alias["params"] == {"browser": "firefox", "email": "ann@acme.io", "name": "Ann", "mrr": 30}
    assert by_alias["accounts"] == [{"account_uid": "acme", "name": "Acme"}, {"account_uid": "beta", "name": None}]
    assert by_alias["mrr"] == 30
    assert by_alias["mrr_history"] == [{"mrr": 30, "effective_at": "2024-02-01T10:00:00Z"}]
    assert by_alias["first_seen_at"] == "2024-01-01T10:00:00Z"
    assert by_alias["last_seen_at"].startswith(datetime.now(UTC).date().isoformat())
    assert (by_alias["active_days_14"], by_alias["active_days_30"]) == (3, 3)
    assert by_alias["health"]["band"] == "average"
    assert by_alias["health"]["reason"] == "3 active days of 14 (good needs at least 5)"
    three_days_ago = datetime.now(UTC).date() - timedelta(days=3)  # its first active day
    assert by_alias["health"]["since"] == three_days_ago.isoformat()
    assert (by_alias["status"], by_alias["stage"], by_alias["pulse"]) == ("paying", None, None)


def test_unknown_contact_and_account_are_404(project: Project) -> None:
    with reader(project) as http:
        for path in ("/v1/contacts/nobody", "/v1/accounts/nothing", "/v1/contacts/nobody/events"):
            response = http.get(path)
            assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_health_bands_at_their_thresholds(project: Project) -> None:
    days = {"five": [0, 2, 4, 6, 13], "four": [0, 1, 2, 3], "one": [13], "outside": [14, 20], "never": []}
    items = [{"method": "contact", "contact_uid": uid} for uid in days]
    for uid, ago in days.items():
        items += events_on(uid, ago)
    send(project, items)
    expected = {
        "five": (5, "good"),
        "four": (4, "average"),
        "one": (1, "average"),
        "outside": (0, "bad"),
        "never": (0, None),  # never active: not started, in no band (docs/health.md)
    }
    with reader(project) as http:
        for uid, (active, health) in expected.items():
            profile = http.get(f"/v1/contacts/{uid}").json()
            assert (profile["active_days_14"], profile["health"]["band"]) == (active, health), uid
        wait_for(lambda: health_settled(project))
        assert http.get("/v1/contacts/outside").json()["active_days_30"] == 2
        listed = http.get("/v1/contacts", params={"health": "good"}).json()["data"]
        assert [c["contact_uid"] for c in listed] == ["five"]
        bad = http.get("/v1/contacts?health=bad&sort=contact_uid").json()["data"]
        assert [c["contact_uid"] for c in bad] == ["outside"]


def test_health_thresholds_are_project_settings(server: ServerProcess) -> None:
    created, secret = make_project(server.database_url, health={"window_days": 7, "good_above": 1, "bad_at_most": 0})
    with httpx.Client(base_url=server.base_url, auth=(created.token, secret)) as http:
        assert http.post("/v1/batch", json=events_on("c", [0, 3]) + events_on("d", [8])).status_code == 201
        assert http.get("/v1/contacts/c").json()["health"]["band"] == "good"  # 2 days > 1
        d = http.get("/v1/contacts/d").json()
        assert d["health"]["band"] == "bad" and d["active_days_14"] == 1  # day 8 is outside the 7-day window
        assert d["health"]["reason"] == "0 active days of 7"


def test_active_days_are_calendar_days_in_the_project_time_zone(tokyo: Project) -> None:
    tz = "Asia/Tokyo"
    send(
        tokyo,
        [
            # 00:30 local on the 14th day back is inside the window; in UTC it is the 15th day back.
            {"method": "event", "contact_uid": "t", "event_uid": "e", "created_at": at_local(tz, 13, 0, 30)},
            # 23:30 local on the 15th day back is outside, though in UTC it is inside the window's first day.
            {"method": "event", "contact_uid": "t", "event_uid": "e", "created_at": at_local(tz, 14, 23, 30)},
            # two events at 08:00 and 10:00 local on one local day are one active day (UTC: two days).
            {"method": "event", "contact_uid": "t", "event_uid": "e", "created_at": at_local(tz, 5, 8, 0)},
            {"method": "event", "contact_uid": "t", "event_uid": "e", "created_at": at_local(tz, 5, 10, 0)},
        ],
    )
    with reader(tokyo) as http:
        profile = http.get("/v1/contacts/t").json()
    assert profile["active_days_14"] == 2
    assert profile["active_days_30"] == 3


def test_account_profile_active_days_share_and_mrr_history(project: Project) -> None:
    send(
        project,
        [
            {
                "method": "account",
                "account_uid": "acme",
                "created_at": "2024-01-05T00:00:00Z",
                "params": {"name": "Acme", "mrr": 100},
            },
            {"method": "account", "account_uid": "acme", "created_at": "2024-03-05T00:00:00Z", "params": {"mrr": 150}},
            {"method": "contact", "contact_uid": "a", "params": {"name": "A", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "b", "params": {"name": "B", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "c", "params": {"name": "C", "account_uid": "acme"}},
            *events_on("a", [0, 1, 2]),
            *events_on("b", [2, 3, 20]),  # day 2 overlaps with a
        ],
    )
    with reader(project) as http:
        acme = http.get("/v1/accounts/acme").json()
    assert acme["account_uid"] == "acme" and acme["params"] == {"name": "Acme", "mrr": 150}
    assert acme["mrr"] == 150
    assert acme["mrr_history"] == [
        {"mrr": 100, "effective_at": "2024-01-05T00:00:00Z"},
        {"mrr": 150, "effective_at": "2024-03-05T00:00:00Z"},
    ]
    assert acme["contacts_count"] == 3
    assert [c["contact_uid"] for c in acme["contacts"]] == ["a", "b", "c"]  # most recently seen first
    assert (acme["active_days_14"], acme["active_days_30"]) == (4, 5)  # days 0,1,2,3 (+20)
    assert acme["health"]["band"] == "average"  # 4 active days: not more than 4
    assert acme["active_contacts_share_14"] == round(2 / 3, 4)


def test_lists_filter_search_and_sort(project: Project) -> None:
    send(
        project,
        [
            {
                "method": "contact",
                "contact_uid": "1",
                "params": {"name": "Ann Lee", "email": "ann@acme.io", "plan": "pro", "mrr": 150, "seats": 10},
            },
            {
                "method": "contact",
                "contact_uid": "2",
                "params": {"name": "Bob", "email": "bob@beta.io", "plan": "free", "mrr": 0, "seats": "n/a"},
            },
            {
                "method": "contact",
                "contact_uid": "3",
                "params": {"name": "Cy", "email": "cy@acme.io", "plan": "pro", "mrr": 90, "trial": True},
            },
            {"method": "contact", "contact_uid": "4", "params": {"name": "100% Dee"}},
            *events_on("1", [0]),
            *events_on("2", [3]),
            *events_on("3", [9]),
        ],
    )

    def uids(**query: str) -> list[str]:
        with reader(project) as http:
            response = http.get("/v1/contacts", params=query)
            assert response.status_code == 200, response.text
            return [c["contact_uid"] for c in response.json()["data"]]

    def uids_raw(raw: str) -> list[str]:
        with reader(project) as http:
            response = http.get(f"/v1/contacts?{raw}")
            assert response.status_code == 200, response.text
            return [c["contact_uid"] for c in response.json()["data"]]

    assert uids() == ["1", "2", "3", "4"]  # last seen first, never seen last
    assert uids(**{"params.plan": "pro"}) == ["1", "3"]
    assert uids(plan="pro", sort="contact_uid") == ["1", "3"]
    assert uids_raw("mrr>100") == ["1"]
    assert uids_raw("mrr>=90&sort=mrr") == ["3", "1"]
    assert uids_raw("params.seats>5") == ["1"]  # "n/a" is not a number: not compared
    assert uids_raw("params.plan!=pro") == ["2", "4"]
    assert uids_raw("params.trial=true") == ["3"]
    assert uids_raw("params.email=") == ["4"]  # missing
    assert uids(q="ACME") == ["1", "3"]
    assert uids(q="bob") == ["2"]
    assert uids(q="100%") == ["4"]  # % is searched literally
    assert uids_raw("last_seen_at>=" + (datetime.now(UTC) - timedelta(days=5)).date().isoformat()) == ["1", "2"]
    assert uids_raw("active_days_14>0&sort=-mrr") == ["1", "3", "2"]
    assert uids(sort="-mrr") == ["1", "3", "2", "4"]
    # A script that sends its token in every query still reads with token:secret, unfiltered.
    assert uids(api_token=project.token, plan="pro") == ["1", "3"]


def test_lists_page_with_cursors(project: Project) -> None:
    send(project, [{"method": "contact", "contact_uid": f"c{i:02}", "params": {"mrr": i % 4}} for i in range(25)])
    seen: list[str] = []
    cursor = None
    with reader(project) as http:
        for _ in range(10):
            params = {"limit": "7", "sort": "-mrr"} | ({"cursor": cursor} if cursor else {})
            page = http.get("/v1/contacts", params=params).json()
            seen += [c["contact_uid"] for c in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == 25 and len(set(seen)) == 25
    mrrs = [int(uid[1:]) % 4 for uid in seen]
    assert mrrs == sorted(mrrs, reverse=True)


def test_account_lists(project: Project) -> None:
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme", "mrr": 500}},
            {"method": "account", "account_uid": "beta", "params": {"name": "Beta", "mrr": 50}},
            {"method": "account", "account_uid": "gone", "params": {"name": "Gone"}},
            {"method": "contact", "contact_uid": "a", "params": {"account_uid": "acme"}},
            {"method": "contact", "contact_uid": "b", "params": {"account_uid": "acme"}},
            *events_on("a", [0, 1, 2]),
            *events_on("b", [3, 4, 5]),
        ],
    )
    with reader(project) as http:
        wait_for(lambda: health_settled(project))  # lists read the health history
        good = http.get("/v1/accounts", params={"health": "good"}).json()["data"]
        assert [(a["account_uid"], a["active_days_14"], a["contacts_count"]) for a in good] == [("acme", 6, 2)]
        by_mrr = http.get("/v1/accounts?mrr<100").json()["data"]
        assert [a["account_uid"] for a in by_mrr] == ["beta"]
        assert [a["account_uid"] for a in http.get("/v1/accounts", params={"q": "bet"}).json()["data"]] == ["beta"]


@pytest.mark.parametrize(
    "query,field",
    [
        ("sort=name", "sort"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("health=great", "health"),
        ("mrr>lots", "mrr"),
        ("last_seen_at>=yesterday", "last_seen_at"),
        ("cursor=abc", "cursor"),
        ("mrr>", "mrr"),
    ],
)
def test_bad_list_queries_are_400_naming_the_field(project: Project, query: str, field: str) -> None:
    with reader(project) as http:
        response = http.get(f"/v1/contacts?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


def test_timelines_newest_first_with_filters_and_cursor(project: Project) -> None:
    send(
        project,
        [
            {"method": "contact", "contact_uid": "u", "params": {"account_uid": "acme"}},
            {"method": "event", "contact_uid": "u", "event_uid": "signup", "created_at": "2024-01-01T00:00:00Z"},
            {
                "method": "pageview",
                "contact_uid": "u",
                "params": {"visit_url": "/a"},
                "created_at": "2024-01-02T00:00:00Z",
            },
            {
                "method": "event",
                "contact_uid": "u",
                "event_uid": "paid",
                "created_at": "2024-01-03T00:00:00Z",
                "params": {"amount": 10},
            },
            {
                "method": "pageview",
                "contact_uid": "u",
                "params": {"visit_url": "/b"},
                "created_at": "2024-01-04T00:00:00Z",
            },
            {"method": "event", "contact_uid": "other", "event_uid": "signup", "created_at": "2024-01-05T00:00:00Z"},
        ],
    )
    with reader(project) as http:
        timeline = http.get("/v1/contacts/u/events").json()
        assert [e["event_uid"] for e in timeline["data"]] == ["pageview", "paid", "pageview", "signup"]
        paid = timeline["data"][1]
        assert paid == paid | {
            "kind": "event",
            "contact_uid": "u",
            "account_uid": "acme",
            "params": {"amount": 10},
            "created_at": "2024-01-03T00:00:00Z",
        }
        assert [e["params"]["visit_url"] for e in http.get("/v1/contacts/u/events?kind=pageview").json()["data"]] == [
            "/b",
            "/a",
        ]
        assert [e["event_uid"] for e in http.get("/v1/events?event=signup").json()["data"]] == ["signup", "signup"]
        ranged = http.get("/v1/events", params={"from": "2024-01-02", "to": "2024-01-04"}).json()["data"]
        assert [e["created_at"] for e in ranged] == ["2024-01-03T00:00:00Z", "2024-01-02T00:00:00Z"]
        assert len(http.get("/v1/accounts/acme/events").json()["data"]) == 4
        first = http.get("/v1/events", params={"limit": "2"}).json()
        second = http.get("/v1/events", params={"limit": "2", "cursor": first["next_cursor"]}).json()
        third = http.get("/v1/events", params={"limit": "2", "cursor": second["next_cursor"]}).json()
        assert [e["created_at"][:10] for e in first["data"] + second["data"] + third["data"]] == [
            "2024-01-05",
            "2024-01-04",
            "2024-01-03",
            "2024-01-02",
            "2024-01-01",
        ]
        assert third["next_cursor"] is None
        assert http.get("/v1/events?kind=click").status_code == 400
        assert http.get("/v1/events?from=soon").json()["field"] == "from"
