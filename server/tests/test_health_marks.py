"""Health marks (store/write/health_marks.py): the write path keeps, per contact and account, the days
from which health is read without counting active days. Lists filtered on health, their counts
and the home page read the health history (project/health_history.py), which must say exactly
what the profile evaluates, through late events, memberships made after the events, alias
merges, and changes of the thresholds, the window and the time zone."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from salesmachine_server.serving.credentials import ProjectDirectory
from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.support import Project, ServerProcess, health_settled, wait_for
from tests.test_read_api import events_on, reader, send

LEVELS = ("good", "average", "bad")
# When save_settings last saved each project's settings (time.monotonic()).
_SETTINGS_SAVED_AT: dict[int, float] = {}


def listed(http: httpx.Client, kind: str, query: str = "") -> list[str]:
    """Every uid of a list, through its pages."""
    uid = "contact_uid" if kind == "contacts" else "account_uid"
    found, cursor = [], None
    while True:
        page = f"limit=100&cursor={cursor}" if cursor else "limit=100"
        answer = http.get(f"/v1/{kind}?{query}&{page}" if query else f"/v1/{kind}?{page}")
        assert answer.status_code == 200, answer.text
        found += [row[uid] for row in answer.json()["data"]]
        cursor = answer.json().get("next_cursor")
        if not cursor:
            return found


def counted_health(http: httpx.Client, kind: str) -> dict[str, str | None]:
    """Each row's health band as its profile evaluates it when read (None: not started)."""
    return {uid: http.get(f"/v1/{kind}/{uid}").json()["health"]["band"] for uid in listed(http, kind)}


def assert_lists_agree_with_profiles(project: Project, email: str) -> dict[str, dict[str, str]]:
    """Lists on health=X and health!=X, their dashboard counts and the home page's bands hold
    exactly the rows whose counted health (their profile's) is (not) X. The API and the
    dashboard are each checked against their own profiles: each of the server's workers keeps a
    project's settings for a second (ProjectDirectory.TTL_SECONDS, serving/credentials.py), the
    dashboard reads them on each page."""
    found = {}
    wait_for(lambda: health_settled(project))  # lists, counts and home read the health history
    # A worker that read the project just before save_settings profiles it with the old
    # settings for up to a second, while the lists read the history the new ones built.
    time.sleep(max(0.0, _SETTINGS_SAVED_AT.get(project.id, 0.0) + ProjectDirectory.TTL_SECONDS - time.monotonic()))
    with reader(project) as http, signed_in(project.http.base_url, email) as dash:
        for kind in ("contacts", "accounts"):
            health = counted_health(http, kind)
            for level in LEVELS:
                expected = sorted(uid for uid, h in health.items() if h == level)
                assert sorted(listed(http, kind, f"health={level}")) == expected, (kind, level, health)
                others = sorted(uid for uid, h in health.items() if h != level)
                assert sorted(listed(http, kind, f"health!={level}")) == others, (kind, level, health)
            found[kind] = health = {uid: _badge(dash.get(f"/p/{project.id}/{kind}/{uid}").text) for uid in health}
            for level in LEVELS:
                page = dash.get(f"/p/{project.id}/{kind}?health={level}").text
                expected = sorted(uid for uid, h in health.items() if h == level)
                assert sorted(re.findall(r'<tr data-uid="([^"]+)"', page)) == expected, (kind, level, health)
                assert _shown_count(page) == len(expected), (kind, level)
        home = dash.get(f"/p/{project.id}/").text
        bands = {
            level: int(re.search(rf'band-{level}.*?band-count">([\d,]+)<', home, re.S).group(1)) for level in LEVELS
        }
        assert bands == {level: list(found["accounts"].values()).count(level) for level in LEVELS}
    return found


def _badge(html: str) -> str | None:
    found = re.search(r'id="kpi-health".*?class="badge health-(good|average|bad|none)"', html, re.S)
    assert found, "the profile page shows no health"
    return None if found.group(1) == "none" else found.group(1)


def _shown_count(html: str) -> int:
    found = re.search(r'id="total">([\d,]+) ', html)
    assert found, "the list page shows no count"
    return int(found.group(1).replace(",", ""))


def marks(project: Project, table: str, uid_column: str) -> dict[str, tuple[date | None, date | None]]:
    rows = project.stored.rows(f"SELECT {uid_column}, good_day, not_bad_day FROM {table} WHERE project_id = :project")
    return {uid: tuple(_day(v) for v in days) for uid, *days in rows}


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite gives text


def save_settings(project: Project, email: str, **health: object) -> None:
    with signed_in(project.http.base_url, email) as dash:
        page = dash.get(f"/p/{project.id}/settings").text
        form = {
            "csrf": csrf_of(page),
            "window_days": 14,
            "good_above": 4,
            "bad_at_most": 0,
            "timezone": "UTC",
            **health,
        }
        answer = dash.post(f"/p/{project.id}/settings", data=form)
        assert answer.status_code == 303, answer.text
    _SETTINGS_SAVED_AT[project.id] = time.monotonic()


def customers(project: Project) -> None:
    """Contacts across the thresholds (window 14, good above 4, bad at most 0), and accounts."""
    send(
        project,
        [
            {"method": "contact", "contact_uid": "four", "params": {"account_uid": "acme"}},
            {"method": "contact", "contact_uid": "one", "params": {"account_uid": "acme"}},
            {"method": "contact", "contact_uid": "outside", "params": {"account_uid": "gamma"}},
            {"method": "contact", "contact_uid": "never"},
            {"method": "contact", "contact_uid": "m2", "params": {"account_uid": "delta"}},
            *events_on("five", [0, 2, 4, 6, 13]),
            *events_on("four", [0, 1, 2, 3]),
            *events_on("one", [13]),
            *events_on("outside", [14, 20]),
            *events_on("late", [0, 1, 2, 3]),
            *events_on("m1", [0, 1]),
            *events_on("m2", [2, 3, 4, 4]),
        ],
    )
    # Later requests: an older day arriving late (late's fifth day in the window), a membership
    # made after its contact's events (beta gets five's days), two contacts merged (m1's days
    # are now m2's, the uid known first, and delta's).
    send(project, events_on("late", [20, 5, 1]))
    send(project, [{"method": "contact", "contact_uid": "five", "params": {"account_uid": "beta"}}])
    send(project, [{"method": "alias", "contact_uid": "m1", "alias": "m2"}])


def test_the_write_path_keeps_each_contacts_and_accounts_health_marks(project: Project) -> None:
    customers(project)
    today = datetime.now(ZoneInfo("UTC")).date()

    def day(n: int) -> date:
        return today - timedelta(days=n)

    # good_day: the 5th most recent active day (good above 4); not_bad_day: the most recent.
    assert marks(project, "contacts", "contact_uid") == {
        "five": (day(13), day(0)),
        "four": (None, day(0)),
        "one": (None, day(13)),
        "outside": (None, day(14)),
        "never": (None, None),
        "late": (day(5), day(0)),
        "m2": (day(4), day(0)),
    }
    assert marks(project, "accounts", "account_uid") == {
        "acme": (day(13), day(0)),
        "beta": (day(13), day(0)),
        "gamma": (None, day(14)),
        "delta": (day(4), day(0)),
    }
    assert project.stored.rows("SELECT good_above, bad_at_most FROM health_marks WHERE project_id = :project") == [
        (4, 0)
    ]


def test_health_lists_counts_and_home_agree_with_counted_health(server: ServerProcess, project: Project) -> None:
    customers(project)
    email = make_user(server.database_url, project.id)
    found = assert_lists_agree_with_profiles(project, email)
    assert found["contacts"] == {
        "five": "good",
        "four": "average",
        "one": "average",
        "outside": "bad",
        "never": None,  # never active: not started, in no band
        "late": "good",
        "m2": "good",
    }
    assert found["accounts"] == {"acme": "good", "beta": "good", "gamma": "bad", "delta": "good"}

    # New thresholds: the marks are recomputed with them.
    save_settings(project, email, good_above=2, bad_at_most=1)
    assert project.stored.rows("SELECT good_above, bad_at_most FROM health_marks WHERE project_id = :project") == [
        (2, 1)
    ]
    found = assert_lists_agree_with_profiles(project, email)
    assert found["contacts"]["one"] == "bad" and found["contacts"]["four"] == "good"

    # Another window: the same marks answer for it.
    save_settings(project, email, window_days=3, good_above=2, bad_at_most=1)
    found = assert_lists_agree_with_profiles(project, email)
    assert (found["contacts"]["five"], found["contacts"]["late"]) == ("average", "good")  # days 0, 2; 0, 1, 2

    # Another time zone: days are recounted, and the marks with them.
    save_settings(project, email, window_days=14, timezone="Pacific/Kiritimati")
    assert_lists_agree_with_profiles(project, email)
    save_settings(project, email, window_days=14, timezone="UTC")

    # Thresholds changed behind the server's back (no recomputation): reads count instead.
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.records.projects import update_settings

    engines = open_engines(server.database_url)
    try:
        update_settings(
            engines.writer, project.name, {"health": {"window_days": 14, "good_above": 3, "bad_at_most": 0}}
        )
    finally:
        engines.dispose()
    found = assert_lists_agree_with_profiles(project, email)
    assert found["contacts"]["four"] == "good"  # 4 > 3


def test_home_lists_the_accounts_in_bad_health_with_since_when(server: ServerProcess, project: Project) -> None:
    send(
        project,
        [
            # Active 15 and 18 days ago: average in the window that ended a week ago, bad now.
            {"method": "contact", "contact_uid": "w1", "params": {"account_uid": "turned"}},
            *events_on("w1", [15, 18]),
            # Bad then and now.
            {"method": "contact", "contact_uid": "w2", "params": {"account_uid": "long-gone"}},
            *events_on("w2", [25]),
            # Active a week ago and today: not bad now.
            {"method": "contact", "contact_uid": "w3", "params": {"account_uid": "kept"}},
            *events_on("w3", [0, 10]),
        ],
    )
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(project.http.base_url, email) as dash:
        home = dash.get(f"/p/{project.id}/").text
    section = re.search(r'id="needs-attention".*?</section>', home, re.S).group(0)
    bad = re.findall(r'<tr data-uid="([^"]+)">', section)
    assert sorted(bad) == ["long-gone", "turned"]  # both bad now; "kept" is not
    # Since when says which one just turned: "turned" left its window 4 days ago (active 15
    # days ago: bad from the 14-day window that no longer holds that day), "long-gone" 11.
    since = dict(re.findall(r'<tr data-uid="([^"]+)">.*?data-field="since"><time datetime="([^"]+)"', section, re.S))
    today = datetime.now(UTC).date()
    assert since == {"turned": str(today - timedelta(days=1)), "long-gone": str(today - timedelta(days=11))}
