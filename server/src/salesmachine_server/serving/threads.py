"""The one way async code runs blocking store code: on a worker thread, off the event loop.

The database drivers block, so every store call made while serving a request goes through
here. The threads are anyio's (the pool Starlette's `run_in_threadpool` uses): one pool, one
limit, for reads, credentials, the rate limit and the readiness probe alike. The journal's
appends keep a thread of their own (ingest/journal_append.py): they must never wait for a turn.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from anyio import to_thread
from sqlalchemy import Connection, Engine

P = ParamSpec("P")
T = TypeVar("T")


async def on_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, run on a worker thread: a store function that takes an
    engine (and opens its own connection or transaction), or anything else that blocks."""
    return await to_thread.run_sync(functools.partial(function, *args, **kwargs))


async def on_connection(engine: Engine, query: Callable[[Connection], T]) -> T:
    """`query(conn)` on a connection of `engine`, opened and closed on the worker thread."""

    def connected() -> T:
        with engine.connect() as conn:
            return query(conn)

    return await on_thread(connected)
