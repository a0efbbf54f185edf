"""A diagnostic limit: the real application with its group commit answering at once, storing nothing.

Everything of a write request runs (routing, credentials, decoding, validation, enrichment,
the answer) but the group commit: the difference between this and the real server is the
cost of the store, and between this and bare_app.py the cost of our own request code.

    python bench/nostore_app.py --database sqlite:///PATH --port 8099   # a migrated database with a project
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from salesmachine_server.app import create_app
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.serving.state import STATE_NAME
from salesmachine_server.settings import Settings
def create(database_url: str) -> Starlette:
    app = create_app(Settings.from_env(database_url=database_url))
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with started(app):
            async def answered_at_once(_submission: Submission) -> int:
                return 0  # no duplicates: nothing was stored

            getattr(app.state, STATE_NAME).group_commit.submit = answered_at_once
            yield

    app.router.lifespan_context = lifespan
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    # As `salesmachine serve` runs it (cli.py), but for the log level.
    from salesmachine_server.serving.http_protocol import protocol_for
    settings = Settings.from_env(database_url=args.database)
    uvicorn.run(create(args.database), host=args.host, port=args.port, access_log=False, log_level="warning",
                http=protocol_for(settings.http, settings.max_head_bytes, settings.head_timeout_seconds),
                timeout_graceful_shutdown=30, proxy_headers=False)


if __name__ == "__main__":
    main()
