"""Credentials -> project (docs/wire.md, Credentials).

A write needs only the public token; reading needs the token and the secret together. The
accepted forms are every one that Salesmachine clients have sent: Basic `token:`,
`token:token` (Ruby), `token:secret` (Python, PHP), `secret:` (an old PHP client), and
`api_token=TOKEN` in the query or a form field (browser library, node client).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from salesmachine_server.errors import ApiError, StoreUnavailable
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records.projects import Project, find_by_secret, find_by_token

CHALLENGE = {"WWW-Authenticate": 'Basic realm="salesmachine"'}


@dataclass(frozen=True, slots=True)
class Credentials:
    project: Project
    has_secret: bool  # the secret was shown: writes are trusted (identity verification)
    can_read: bool = False  # token and secret together


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, field="authorization", rule="credentials", headers=CHALLENGE)


def basic_pair(header: str | None) -> tuple[str, str] | None:
    """The (username, password) of a Basic Authorization header, or None if there is none."""
    if not header:
        return None
    return _basic_pair(header)


# A write request reads its header twice, and a client sends the same one every time.
@functools.lru_cache(maxsize=1024)
def _basic_pair(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    # Ruby's Base64.encode64 ends (and wraps) its output with newlines; ignore white space.
    compact = "".join(encoded.split())
    try:
        decoded = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True).decode("utf-8")
    except ValueError:  # bad base64, not UTF-8, or a header holding non-ASCII bytes at all
        raise unauthorized("the Authorization header is not valid Basic base64") from None
    username, _, password = decoded.partition(":")
    return username.strip(), password.strip()


# Remembered projects by credential, with when each entry expires; and a lookup by credential.
_Cache = dict[str, tuple[float, Project]]
_Find = Callable[[Engine, str], Project | None]


class ProjectDirectory:
    """Finds projects by token or secret, remembering hits for a second: credentials are
    checked on every request, while a project's settings (time zone, health rule, identity
    verification) changed by another process (the CLI, another `serve` on the same PostgreSQL)
    must apply within about a second, and a project created elsewhere at once (a miss always
    asks the database). The process that changes settings calls `forget`, so it applies them
    at once. Concurrent requests for an expired entry share one query; if the database cannot
    answer it, the entry last read serves (the write path then answers 503 on its own)."""

    TTL_SECONDS = 1.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._by_token: dict[str, tuple[float, Project]] = {}
        self._by_secret: dict[str, tuple[float, Project]] = {}
        self._lookups: dict[tuple[int, str], asyncio.Future[Project | None]] = {}

    async def by_token(self, token: str) -> Project | None:
        return await self._cached(self._by_token, token, find_by_token)

    async def by_secret(self, secret: str) -> Project | None:
        return await self._cached(self._by_secret, secret, find_by_secret)

    def forget(self, project_id: int) -> None:
        """Drop what is remembered of a project: its next request reads it again."""
        for cache in (self._by_token, self._by_secret):
            for key in [key for key, (_, project) in cache.items() if project.id == project_id]:
                del cache[key]

    async def _cached(self, cache: _Cache, key: str, find: _Find) -> Project | None:
        if "\x00" in key:  # no credential holds NUL, and PostgreSQL refuses it in a query
            return None
        hit = cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            project = await self._shared_lookup(cache, key, find)
        except StoreUnavailable:
            if hit is not None:
                return hit[1]
            raise
        if project is not None:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = (time.monotonic() + self.TTL_SECONDS, project)
        return project

    async def _shared_lookup(self, cache: _Cache, key: str, find: _Find) -> Project | None:
        """The lookup of `key` in flight, or a new one: concurrent callers share one query."""
        slot = (id(cache), key)
        running = self._lookups.get(slot)
        if running is None:
            running = asyncio.ensure_future(self._lookup(find, key))
            self._lookups[slot] = running
            running.add_done_callback(lambda _done: self._lookups.pop(slot, None))
            # A lookup that outlived its callers must not log "exception never retrieved".
            running.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(running)

    async def _lookup(self, find: _Find, key: str) -> Project | None:
        try:
            return await on_thread(find, self.engine, key)
        except OperationalError as exc:
            raise StoreUnavailable(str(exc.orig)) from exc


async def authenticate(directory: ProjectDirectory, authorization: str | None, api_token: str | None) -> Credentials:
    pair = basic_pair(authorization)
    if pair is None:
        if api_token:
            project = await directory.by_token(api_token.strip())
            if project is None:
                raise unauthorized("unknown api_token")
            return Credentials(project, has_secret=False)
        raise unauthorized("credentials are required: HTTP Basic with your API token as the username")
    username, password = pair
    if not username:
        raise unauthorized("the Basic username must be your API token")
    project = await directory.by_token(username)
    if project is not None:
        if password in ("", username):
            return Credentials(project, has_secret=False)
        if project.secret_matches(password):
            return Credentials(project, has_secret=True, can_read=True)
        raise unauthorized("the password is neither empty, the token, nor this project's secret")
    if password == "":
        project = await directory.by_secret(username)
        if project is not None:
            return Credentials(project, has_secret=True)
    raise unauthorized("unknown API token")
