"""The real server as an ASGI factory, for Granian (which imports an app; uvicorn is driven by
`salesmachine serve`). Settings come from the environment (SALESMACHINE_DATABASE_URL, ...);
migrate the database first (`salesmachine migrate`), as `serve` would.

    granian --interface asgi --factory --working-dir bench granian_factory:create
"""

from __future__ import annotations

from starlette.applications import Starlette

from salesmachine_server.app import create_app
from salesmachine_server.settings import Settings
def create() -> Starlette:
    return create_app(Settings.from_env())
