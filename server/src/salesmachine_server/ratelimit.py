"""Per-project rate limiting: a token bucket per project, in this process.

Off by default (`make run`); see the README for a production value. With several server
processes each keeps its own buckets, so the effective limit is the sum.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from salesmachine_server.errors import ApiError


@dataclass(slots=True)
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(burst, 1) if burst else max(math.ceil(rate), 1)
        self._buckets: dict[int, Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def check(self, project_id: int) -> None:
        """Take one request from the project's bucket, or raise 429 saying when to retry."""
        if not self.enabled:
            return
        now = time.monotonic()
        bucket = self._buckets.get(project_id)
        if bucket is None:
            bucket = self._buckets[project_id] = Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = (1 - bucket.tokens) / self.rate
        raise ApiError(
            429,
            f"too many requests: this project may make {self.rate:g} per second (bursts of {self.burst})",
            rule="rate_limit",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
