"""Twenty seconds of mixed traffic at a steady rate: no error, and after the warm-up neither
the server's memory nor its open files keep growing. (Ten minutes of it: bench/soak.py.)

The bounds leave room for what legitimately grows while a database grows (SQLite's page cache
is up to 2 MiB per connection, nine connections), and are far below what a leak of a request
or a connection per request would add over ~1,000 requests and ~100 new connections.
"""

from __future__ import annotations

from tests.reliability.conftest import StartServer
from tests.reliability.steady import run_steady_load
from tests.reliability.traffic import check_store
from tests.support import make_project

SECONDS = 20.0
WARMUP = 5.0
MAX_RSS_GROWTH_KIB = 16 * 1024
MAX_OPEN_FILES_GROWTH = 8


def test_steady_mixed_traffic_has_no_error_and_no_growth(fresh_database: str, start_server: StartServer) -> None:
    project, secret = make_project(fresh_database)
    server = start_server(fresh_database)
    assert server.process is not None
    report = run_steady_load(server.base_url, server.process.pid, project.token, secret, seconds=SECONDS, warmup=WARMUP)
    print(report.summary())

    assert not report.errors(), report.summary()
    assert not report.outcome.surprises, report.outcome.surprises[:5]
    assert report.outcome.statuses.total() > SECONDS * 20, f"the load did not keep its rate: {report.summary()}"
    assert report.rss_growth_kib() < MAX_RSS_GROWTH_KIB, report.summary()
    assert report.open_files_growth() <= MAX_OPEN_FILES_GROWTH, report.summary()
    check_store(fresh_database, project.id, report.outcome).assert_exactly_once()
