"""The webhook signature, as Stripe signs its events (docs/deliveries.md has the receiver's side).

`Salesmachine-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<unix time>.<raw body>")>`.
The time is signed with the body, so a receiver that refuses signatures older than a few minutes
refuses a captured request replayed later; `v1` names the scheme, so that another can be added
beside it without breaking receivers.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Salesmachine-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" under the endpoint's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"
