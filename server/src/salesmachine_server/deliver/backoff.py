"""When to try a failed delivery again, and when to give up: pure, so it is tested as arithmetic.

Exponential backoff: after the n-th failed attempt, wait base × 2^(n-1) seconds, at most `cap`,
less a random part of up to half of it ("equal jitter"), so that deliveries that failed
together (a receiver down for an hour) do not all come back in the same second. Retries go on
for the whole retry window after the delivery was enqueued (or resent): the last one is made
at the window's end exactly, so a receiver that is down for all of 24 hours but one minute
still gets its message. A failure at or after the end fails the delivery.
With the defaults (30 s, capped at an hour, 24 hours) that is about 30 attempts.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Backoff:
    base_seconds: float
    max_seconds: float
    window_seconds: float

    def delay(self, failed_attempts: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `failed_attempts`-th failure (1 for the first)."""
        exponent = min(max(failed_attempts - 1, 0), 62)  # 2**62 × base is past any cap
        ceiling = min(self.max_seconds, self.base_seconds * 2.0**exponent)
        return ceiling / 2 + rand() * ceiling / 2

    def next_attempt(
        self, now: datetime, retry_from: datetime, failed_attempts: int, rand: Callable[[], float] = random.random
    ) -> datetime | None:
        """When to try again after a failure at `now`; None: the window is over, give up."""
        end = retry_from + timedelta(seconds=self.window_seconds)
        if now >= end:
            return None
        return min(now + timedelta(seconds=self.delay(failed_attempts, rand)), end)
