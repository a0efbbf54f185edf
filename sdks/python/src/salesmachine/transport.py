"""One POST of one batch, and what the answer means; retrying is delivery.py's job.

Standard library only (urllib), so installing the client adds nothing to an application's
dependencies; urllib also honours the usual HTTPS_PROXY / NO_PROXY variables.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from salesmachine.errors import APIError, NetworkError
from salesmachine.version import VERSION

USER_AGENT = f"salesmachine-python/{VERSION}"
# A server asking for more than this is misconfigured; waiting an hour would look like a hang.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class Answer:
    """A success answer (2xx) and its JSON body (empty when it had none)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Items the server refused while storing the rest (docs/wire.md, Answers)."""
        rejected = self.body.get("rejected")
        return [item for item in rejected if isinstance(item, dict)] if isinstance(rejected, list) else []


def basic_auth(token: str, secret: Optional[str]) -> str:
    """HTTP Basic with the token as user and the secret as password, as the document says."""
    pair = f"{token}:{secret or ''}".encode("utf-8")
    return "Basic " + base64.b64encode(pair).decode("ascii")


def post(url: str, body: bytes, authorization: str, timeout: float) -> Answer:
    """POST `body` (JSON) to `url`. Raises APIError for an error answer, NetworkError when no
    answer came (refused, reset, timed out, cut short)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": authorization,
            "User-Agent": USER_AGENT,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _json_object(response.read()))
    except urllib.error.HTTPError as answer:
        raise _api_error(answer) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # URLError wraps refused connections and DNS failures; a bare OSError or
        # RemoteDisconnected / IncompleteRead is a connection that broke mid-request.
        raise NetworkError(url, getattr(exc, "reason", exc)) from exc


def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """`Retry-After` as seconds: a number of seconds, or an HTTP date (RFC 9110 allows both)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _api_error(answer: urllib.error.HTTPError) -> APIError:
    try:
        raw = answer.read()
    except (OSError, http.client.HTTPException):
        raw = b""
    finally:
        answer.close()
    body = _json_object(raw) or None
    code = message = None
    if body is not None:
        # Our server sends all three keys; older or foreign servers may send only some.
        code = body.get("code")
        message = body.get("message") or body.get("error")
    return APIError(
        answer.code,
        str(code) if code else _code_for(answer.code),
        str(message) if message else (raw[:200].decode("utf-8", "replace").strip() or str(answer.reason)),
        retry_after=retry_after_seconds(answer.headers.get("Retry-After") if answer.headers else None),
        body=body,
    )


def _code_for(status: int) -> str:
    try:
        return http.client.responses[status].lower().replace(" ", "_").replace("-", "_")
    except KeyError:
        return f"http_{status}"


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}
