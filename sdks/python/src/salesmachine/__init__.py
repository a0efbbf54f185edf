"""Salesmachine's Python client, for a self-hosted Salesmachine server.

Two ways to use it, as in the API document:

    from salesmachine.client import Client
    smclient = Client(YOUR_API_TOKEN, YOUR_API_SECRET)
    smclient.set_contact("123456", {"email": "elon@teslamotors.com"})

or module-level, with one shared client made on first use from the settings below:

    import salesmachine
    salesmachine.key = YOUR_API_TOKEN
    salesmachine.secret = YOUR_API_SECRET
    salesmachine.set_account("78910", {"name": "Tesla Motors"})

Set the module-level settings before the first call; to change them later, call
`salesmachine.shutdown()` and the next call makes a new client with the new values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional

from salesmachine.client import Client
from salesmachine.delivery import OnError
from salesmachine.errors import APIError, ClientClosed, NetworkError, QueueFull, RejectedItems, SalesmachineError
from salesmachine.messages import Uid
from salesmachine.version import VERSION

__version__ = VERSION
__all__ = [
    "APIError", "Client", "ClientClosed", "NetworkError", "QueueFull", "RejectedItems", "SalesmachineError",
    "alias", "flush", "join", "set_account", "set_contact", "shutdown", "track_event", "track_pageview",
]

# Settings of the shared client, read when it is made.
key: Optional[str] = None
secret: Optional[str] = None
host: Optional[str] = None  # default: $SALESMACHINE_HOST, else http://127.0.0.1:8080
url: Optional[str] = None  # a synonym of host, as the original client called it
debug: bool = False
send: bool = True
sync_mode: bool = False
on_error: Optional[OnError] = None
max_queue_size: int = 10000

#: The shared client, made by the first call.
default_client: Optional[Client] = None
_default_lock = threading.Lock()


def set_contact(
    contact_uid: Uid,
    params: Optional[Mapping[str, Any]] = None,
    *,
    created_at: Optional[datetime] = None,
    message_id: Optional[str] = None,
) -> dict[str, Any]:
    """Create or update a contact (see Client.set_contact)."""
    return _client().set_contact(contact_uid, params, created_at=created_at, message_id=message_id)


def set_account(
    account_uid: Uid,
    params: Optional[Mapping[str, Any]] = None,
    *,
    created_at: Optional[datetime] = None,
    message_id: Optional[str] = None,
) -> dict[str, Any]:
    """Create or update an account (see Client.set_account)."""
    return _client().set_account(account_uid, params, created_at=created_at, message_id=message_id)


def track_event(
    contact_uid: Uid,
    event_uid: str,
    params: Optional[Mapping[str, Any]] = None,
    *,
    created_at: Optional[datetime] = None,
    message_id: Optional[str] = None,
) -> dict[str, Any]:
    """Record an event of a contact (see Client.track_event)."""
    return _client().track_event(contact_uid, event_uid, params, created_at=created_at, message_id=message_id)


def track_pageview(
    contact_uid: Uid,
    params: Optional[Mapping[str, Any]] = None,
    *,
    created_at: Optional[datetime] = None,
    message_id: Optional[str] = None,
) -> dict[str, Any]:
    """Record a pageview of a contact (see Client.track_pageview)."""
    return _client().track_pageview(contact_uid, params, created_at=created_at, message_id=message_id)


def alias(
    contact_uid: Uid, alias: Uid, *, created_at: Optional[datetime] = None, message_id: Optional[str] = None
) -> dict[str, Any]:
    """Merge two uids into one contact (see Client.alias)."""
    return _client().alias(contact_uid, alias, created_at=created_at, message_id=message_id)


def flush(timeout: Optional[float] = None) -> bool:
    """Wait until what the shared client queued is stored or has finally failed."""
    return True if default_client is None else default_client.flush(timeout)


def join(timeout: Optional[float] = None) -> bool:
    """Send what the shared client queued, then end its sending thread."""
    return True if default_client is None else default_client.join(timeout)


def shutdown(timeout: Optional[float] = None) -> bool:
    """Send what is queued and retire the shared client; the next call makes a new one."""
    global default_client
    with _default_lock:
        client, default_client = default_client, None
    return True if client is None else client.shutdown(timeout)


def _client() -> Client:
    global default_client
    with _default_lock:
        if default_client is None:
            if not key:
                raise ValueError("set salesmachine.key = YOUR_API_TOKEN (and salesmachine.secret) before the first call")
            default_client = Client(
                key,
                secret,
                debug=debug,
                max_queue_size=max_queue_size,
                send=send,
                on_error=on_error,
                host=host or url,
                sync_mode=sync_mode,
            )
        return default_client
