"""`/v1/ping` is what clients call to check that they can send: while the database is
unreachable it must not answer 200. It answers 503 with Retry-After and says that the database
is unreachable, and 200 again once the database is back (PostgreSQL cut off by a TCP relay,
as in test_database_outage.py)."""

from __future__ import annotations

import httpx

from tests.reliability.conftest import StartServer
from tests.reliability.probes import wait_for
from tests.reliability.test_database_outage import postgres_behind_proxy  # noqa: F401 (a fixture)
from tests.support import TcpProxy, make_project


def test_ping_is_503_while_the_database_is_unreachable(
    postgres_behind_proxy: tuple[str, TcpProxy],  # noqa: F811
    start_server: StartServer,
) -> None:
    url, proxy = postgres_behind_proxy
    project, _secret = make_project(url)
    server = start_server(url, env={"SALESMACHINE_RETRY_AFTER_SECONDS": "1"})
    with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=10) as http:
        assert http.post("/v1/ping").status_code == 200  # the project is now in the server's cache

        proxy.cut()
        answer = http.post("/v1/ping")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["code"] == "service_unavailable"
        assert "database" in answer.json()["message"] and "unreachable" in answer.json()["message"]
        assert http.get("/v1/ping").status_code == 503

        proxy.restore()
        wait_for(lambda: http.post("/v1/ping").status_code == 200, 20, "ping did not answer 200 again")
    # Wrong credentials are still told so while the database answers.
    assert httpx.post(f"{server.base_url}/v1/ping", auth=("no-such-token", ""), timeout=10).status_code == 401
    assert "Traceback" not in server.log()
