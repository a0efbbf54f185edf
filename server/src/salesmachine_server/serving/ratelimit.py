"""Per-project rate limiting: a token bucket per project.

Off by default (`make run`); see the README for a production value. On PostgreSQL, which
several server processes may share, the bucket is a row of `rate_limit_buckets` taken from in
one statement, so the limit is the project's whatever process a request reaches; on SQLite
(one server, whose request workers share its journal file) it is a row of the journal's
`rate_buckets` (ingest/journal.py). Nothing is read or written when no limit is set.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from salesmachine_server.errors import ApiError, StoreUnavailable
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.db.engine import Engines


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


# Take one token if the refilled bucket holds one: a row comes back only then. The database's
# clock (now(), epoch seconds) is the one every process shares.
_TAKE = text("""
INSERT INTO rate_limit_buckets AS b (project_id, tokens, updated_at)
VALUES (:project, :burst - 1, extract(epoch FROM now()))
ON CONFLICT (project_id) DO UPDATE
SET tokens = least(:burst, b.tokens + (extract(epoch FROM now()) - b.updated_at) * :rate) - 1,
    updated_at = extract(epoch FROM now())
WHERE least(:burst, b.tokens + (extract(epoch FROM now()) - b.updated_at) * :rate) >= 1
RETURNING b.tokens
""")
# After a refusal: the tokens the bucket holds now, for Retry-After.
_LEFT = text("""
SELECT least(:burst, tokens + (extract(epoch FROM now()) - updated_at) * :rate)
FROM rate_limit_buckets WHERE project_id = :project
""")


# Takes a token from a bucket kept beside the data, shared by the request workers of one
# server: (project id, burst, rate) -> None when taken, else the tokens left (ingest/journal.py).
LocalBuckets = Callable[[int, float, float], float | None]


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, engines: Engines | None = None, local: LocalBuckets | None = None
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 1) if burst else max(math.ceil(rate), 1)
        self._buckets: dict[int, Bucket] = {}
        # Shared through the database when processes may share it (PostgreSQL); on SQLite,
        # through `local` (the journal's file) between the request workers of the server.
        self._engine = engines.writer if engines is not None and engines.dialect == "postgresql" else None
        self._local = local

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    async def check(self, project_id: int) -> None:
        """Take one request from the project's bucket, or raise 429 saying when to retry."""
        if not self.enabled:
            return
        if self._engine is None and self._local is not None:
            left = await on_thread(self._local, project_id, float(self.burst), float(self.rate))
        elif self._engine is None:
            left = self._take_in_memory(project_id)
        else:
            try:
                left = await on_thread(self._take_shared, project_id)
            except OperationalError as exc:
                raise StoreUnavailable(str(exc.orig)) from exc
        if left is None:
            return
        wait = (1 - left) / self.rate
        raise ApiError(
            429,
            f"too many requests: this project may make {self.rate:g} per second (bursts of {self.burst})",
            rule="rate_limit",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def _take_in_memory(self, project_id: int) -> float | None:
        """None when a token was taken, else the tokens left (under one)."""
        now = time.monotonic()
        bucket = self._buckets.get(project_id)
        if bucket is None:
            bucket = self._buckets[project_id] = Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return bucket.tokens

    def _take_shared(self, project_id: int) -> float | None:
        """As _take_in_memory, on the project's row (blocking: run on a thread)."""
        values = {"project": project_id, "burst": float(self.burst), "rate": float(self.rate)}
        assert self._engine is not None
        with self._engine.begin() as conn:
            # The bucket needs no durability: a crash may forget a second of counting.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            if conn.execute(_TAKE, values).first() is not None:
                return None
            left = conn.execute(_LEFT, values).scalar()
        return min(float(left or 0.0), 0.999)
