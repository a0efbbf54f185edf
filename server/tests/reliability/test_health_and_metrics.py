"""/healthz (the process is up), /readyz (the database answers; 503 in maintenance and, in
test_database_outage.py, when PostgreSQL is cut off), and the Prometheus metrics: requests by
route template and status, items accepted and rejected, commit latency, queue depth."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import Project, ServerProcess, make_project


def metrics(base_url: str) -> dict[str, float]:
    """Every sample of /metrics by its name and labels, as Prometheus writes them."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def requests_total(samples: dict[str, float], path: str, status: int) -> float:
    return samples.get(f'salesmachine_requests_total{{path="{path}",status="{status}"}}', 0.0)


def test_healthz_and_readyz_answer_when_all_is_well(server: ServerProcess) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


def test_readyz_is_503_in_maintenance_while_healthz_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/salesmachine.db"
    make_project(url)
    server = ServerProcess(url, tmp_path / "server.log", extra_args=("--maintenance",)).start()
    try:
        ready = httpx.get(f"{server.base_url}/readyz")
        assert ready.status_code == 503, ready.text
        assert ready.headers["retry-after"] == "5"
        assert ready.json()["code"] == "service_unavailable"
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
    finally:
        server.stop()


def test_requests_are_counted_by_route_template_and_status(project: Project, server: ServerProcess) -> None:
    before = metrics(server.base_url)
    uid = "metric-uid-7f3a"
    assert project.http.post("/v1/track/event", json={"contact_uid": uid, "event_uid": "e"}).status_code == 201
    assert (
        project.http.post(
            "/v1/batch",
            json=[
                {"method": "event", "contact_uid": uid, "event_uid": "e"},
                {"method": "event", "event_uid": "no contact"},
            ],
        ).status_code
        == 201
    )
    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret), timeout=10) as reader:
        assert reader.get(f"/v1/contacts/{uid}").status_code == 200
        assert reader.get("/v1/contacts/no-such-uid-9c1e").status_code == 404
        assert reader.post("/v1/contacts").status_code == 405
        assert reader.get("/no/such/path/5d2b").status_code == 404
    after = metrics(server.base_url)

    def delta(path: str, status: int) -> float:
        return requests_total(after, path, status) - requests_total(before, path, status)

    assert delta("/v1/track/event", 201) == 1
    assert delta("/v1/batch", 201) == 1
    assert delta("/v1/contacts/{uid}", 200) == 1
    assert delta("/v1/contacts/{uid}", 404) == 1
    assert delta("/v1/contacts", 405) == 1
    assert delta("unmatched", 404) == 1
    labels = " ".join(name for name in after if name.startswith("salesmachine_requests_total"))
    assert uid not in labels and "no-such-uid" not in labels and "5d2b" not in labels  # bounded series

    items = {
        outcome: after[f'salesmachine_items_total{{outcome="{outcome}"}}']
        - before.get(f'salesmachine_items_total{{outcome="{outcome}"}}', 0.0)
        for outcome in ("accepted", "rejected")
    }
    assert items == {"accepted": 2, "rejected": 1}
    assert after["salesmachine_commit_seconds_count"] > before.get("salesmachine_commit_seconds_count", 0.0)
    assert "salesmachine_writer_queue_depth" in after
