"""Credentials -> project (docs/wire.md, Credentials).

A write needs only the public token; reading needs the token and the secret together. The
accepted forms are every one that Salesmachine clients have sent: Basic `token:`,
`token:token` (Ruby), `token:secret` (Python, PHP), `secret:` (an old PHP client), and
`api_token=TOKEN` in the query or a form field (browser library, node client).
"""

from __future__ import annotations

import asyncio
import base64
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from salesmachine_server.errors import ApiError, StoreUnavailable
from salesmachine_server.store.projects import Project, find_by_secret, find_by_token

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


class ProjectDirectory:
    """Finds projects by token or secret, remembering hits for a short while: credentials are
    checked on every request and change rarely, while a project created by the CLI in another
    process must be found at once (a miss always asks the database)."""

    TTL_SECONDS = 30.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._by_token: dict[str, tuple[float, Project]] = {}
        self._by_secret: dict[str, tuple[float, Project]] = {}

    async def by_token(self, token: str) -> Project | None:
        return await self._cached(self._by_token, token, find_by_token)

    async def by_secret(self, secret: str) -> Project | None:
        return await self._cached(self._by_secret, secret, find_by_secret)

    async def _cached(self, cache, key, find):  # type: ignore[no-untyped-def]
        if "\x00" in key:  # no credential holds NUL, and PostgreSQL refuses it in a query
            return None
        hit = cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            project = await asyncio.to_thread(find, self.engine, key)
        except OperationalError as exc:
            raise StoreUnavailable(str(exc.orig)) from exc
        if project is not None:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = (now + self.TTL_SECONDS, project)
        return project


async def authenticate(
    directory: ProjectDirectory, authorization: str | None, api_token: str | None
) -> Credentials:
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
