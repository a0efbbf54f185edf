"""What can go wrong after a call has been accepted, as `on_error(exception, batch)` sees it.

Mistakes at the call site (a bad uid, params that are not a dict) are plain `TypeError` and
`ValueError`, raised at once. The classes here describe delivery: the message was fine as far
as the client could tell, and the server or the network said otherwise.
"""

from __future__ import annotations

from typing import Any, Optional


class SalesmachineError(Exception):
    """Base of every delivery error, so one `except` catches them all."""

    #: Whether sending the same batch again may succeed.
    retryable = False


class APIError(SalesmachineError):
    """The server answered with an error status.

    The server answers errors as JSON `{"error", "code", "message"}`; `code` and `message`
    come from there (or from the status line when the answer is not ours, e.g. a proxy's).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: Optional[float] = None,
        body: Optional[Any] = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        #: Seconds the server asked us to wait (`Retry-After`), if it said.
        self.retry_after = retry_after
        #: The decoded JSON answer, or None when it was not JSON.
        self.body = body

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # Timeouts, rate limits and server faults pass; any other 4xx is about the request
        # itself, and sending it again would get the same answer.
        return self.status in (408, 429) or self.status >= 500


class NetworkError(SalesmachineError):
    """The server could not be reached, or the connection broke before an answer."""

    retryable = True

    def __init__(self, url: str, reason: BaseException) -> None:
        super().__init__(f"could not reach {url}: {reason}")
        self.url = url
        self.reason = reason


class RejectedItems(SalesmachineError):
    """The server stored a batch but refused some of its items (answer 201 with `rejected`).

    `on_error` receives this with only the refused messages as its batch; `rejected` holds
    the server's reasons, each `{"index", "code", "message", ...}` with the index in the batch
    as it was sent.
    """

    def __init__(self, rejected: list[dict[str, Any]]) -> None:
        reasons = "; ".join(str(item.get("message", item)) for item in rejected[:3])
        more = f" (and {len(rejected) - 3} more)" if len(rejected) > 3 else ""
        super().__init__(f"the server refused {len(rejected)} item(s): {reasons}{more}")
        self.rejected = rejected


class QueueFull(SalesmachineError):
    """The queue held `max_queue_size` messages already, so this one was dropped."""

    def __init__(self, max_queue_size: int) -> None:
        super().__init__(
            f"the queue is full ({max_queue_size} messages waiting): the message was dropped"
        )
        self.max_queue_size = max_queue_size


class ClientClosed(SalesmachineError):
    """The client was shut down; messages given to it afterwards are not sent."""
