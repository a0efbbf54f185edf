"""What one attempt to send came to, whatever the channel: what was sent (no secret), the answer,
and whether it counts as delivered, may be tried again, or never can be."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What the log keeps of a request body and of an answer: enough to see what went wrong.
KEPT_BODY_CHARS = 16 * 1024
KEPT_ANSWER_CHARS = 4 * 1024


@dataclass(frozen=True, slots=True)
class Sent:
    request: dict[str, Any]  # method, url (tokens left out), headers, body: as shown in the log
    response_status: int | None = None  # HTTP status, or the SMTP server's last reply code
    response_body: str | None = None
    error: str | None = None  # None: delivered
    permanent: bool = False  # an error no retry can mend (a refused address): failed at once


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"
