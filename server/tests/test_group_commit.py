"""Concurrent single calls share commits, and each is answered only once it is stored."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support import CLIENT_LIMITS, Project


def metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_concurrent_single_events_share_commits(project: Project) -> None:
    base = str(project.http.base_url).rstrip("/")
    commits_before = metric(base, "salesmachine_commits_total")
    jobs_before = metric(base, "salesmachine_write_jobs_total")

    def send(n: int) -> int:
        with httpx.Client(base_url=base, auth=(project.token, ""), timeout=30, limits=CLIENT_LIMITS) as http:
            statuses = []
            for i in range(10):
                response = http.post("/v1/track/event", json={"contact_uid": f"c{n}", "event_uid": f"e{i}"})
                statuses.append(response.status_code)
                # Acknowledged means stored: visible to a reader the moment 201 arrives.
                assert [e["name"] for e in project.stored.contact(f"c{n}")["events"]][-1] == f"e{i}"  # type: ignore[index]
            return statuses.count(201)

    with ThreadPoolExecutor(max_workers=32) as pool:
        acknowledged = sum(pool.map(send, range(32)))

    assert acknowledged == 320
    assert project.stored.count("events") == 320
    jobs = metric(base, "salesmachine_write_jobs_total") - jobs_before
    commits = metric(base, "salesmachine_commits_total") - commits_before
    assert jobs >= 320
    assert commits < jobs, f"{commits} commits for {jobs} requests: no request shared a commit"
