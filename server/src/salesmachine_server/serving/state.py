"""What the running application holds, in one typed place: `app_state(request)`.

Built once by the lifespan (app.py) and kept under one name of Starlette's untyped
`app.state`; every handler reaches it through `app_state`, never through
`request.app.state.<anything>`, so that what exists, and its type, can be read here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

from salesmachine_server.serving.credentials import ProjectDirectory
from salesmachine_server.serving.ratelimit import RateLimiter
from salesmachine_server.serving.suppressed_uids import SuppressedUids
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import Engines

if TYPE_CHECKING:
    # For the types only: ingest/ sits above serving/, and app.py, which builds the state,
    # above both. At run time serving/ imports nothing of ingest/.
    from salesmachine_server.ingest.body import StrangerBodies
    from salesmachine_server.ingest.journal import Journal
    from salesmachine_server.ingest.journal_append import JournalAppend

# The one name the state is kept under in Starlette's `app.state`.
STATE_NAME = "salesmachine"


@dataclass(eq=False)
class AppState:
    settings: Settings
    engines: Engines
    server_key: bytes  # the key project secrets are derived from (keys.py)
    rate_limiter: RateLimiter
    projects: ProjectDirectory  # credentials -> project, remembered for a second
    journal: Journal  # where writes are made durable; reads wait on its positions
    journal_append: JournalAppend  # every write request's accepted items are appended through it
    stranger_bodies: StrangerBodies  # turns for reading bodies of senders not yet known
    # The readiness probe in flight, shared by /readyz and /v1/ping (serving/health_checks.py).
    readiness_probe: asyncio.Future[None] | None = None
    # Erased uids' hashes per project, as write requests check them (ingest/suppression.py).
    suppressed_uids: SuppressedUids = field(default_factory=SuppressedUids)


def app_state(request: Request) -> AppState:
    """The state of the application serving `request` (set by the lifespan, app.py), kept in
    the request's scope after the first look: a write request asks for it a dozen times."""
    scope = request.scope
    state: AppState | None = scope.get(STATE_NAME)
    if state is None:
        state = scope[STATE_NAME] = getattr(scope["app"].state, STATE_NAME)
    return state
