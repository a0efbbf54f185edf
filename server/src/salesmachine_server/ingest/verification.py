"""Identity verification: the token is public, so a project may require proof that a
token-only write speaks for the contact it names (as Intercom does).

With the project setting `identity_verification` on, every item written with the token alone
must carry `user_hash`, the hex HMAC-SHA256 of its `contact_uid` keyed by the project secret
(computed by the customer's backend and put in the page), and may neither set `mrr` nor alias
contacts. An account call made with the token alone must name the verified contact making it
(`contact_uid` and `user_hash`). Writes made with the secret are not affected.
"""

from __future__ import annotations

import hmac
from typing import Any

from salesmachine_server.domain.messages import Invalid, Message, MessageKind, uid_string
from salesmachine_server.keys import derive_secret, user_hash
from salesmachine_server.serving.credentials import Credentials

RULE = "identity_verification"


class Identity:
    """Who wrote the items: their credentials, and the project secret that user_hash is keyed
    by, derived on first use (only a project that verifies identity needs it). A plain class:
    one is made per write request."""

    __slots__ = ("_secret", "_server_key", "credentials")

    def __init__(self, credentials: Credentials, server_key: bytes) -> None:
        self.credentials = credentials
        self._server_key = server_key
        self._secret: str | None = None

    def secret(self) -> str:
        if self._secret is None:
            self._secret = derive_secret(self._server_key, self.credentials.project.token)
        return self._secret


def check_identity(item: dict[str, Any], message: Message, identity: Identity) -> None:
    """Refuses (403) a token-only item that does not prove its contact, on a project that
    verifies identity; anything else passes."""
    credentials = identity.credentials
    if credentials.has_secret or not credentials.project.settings.identity_verification:
        return
    if message.kind == MessageKind.ALIAS:
        raise _forbidden("alias", "alias needs the project secret when identity verification is on")
    if "mrr" in message.params:
        raise _forbidden("params.mrr", "mrr can only be set with the project secret when identity verification is on")
    contact_uid = message.contact_uid
    if contact_uid is None:
        raw = item.get("contact_uid")
        if raw is None:
            raise _forbidden(
                "contact_uid",
                "with identity verification on, a token-only account call must name the verified contact "
                "making it (contact_uid and user_hash)",
            )
        contact_uid = uid_string(raw, "contact_uid")
    provided = item.get("user_hash")
    if not isinstance(provided, str) or not hmac.compare_digest(
        provided.lower(), user_hash(identity.secret(), contact_uid)
    ):
        raise _forbidden(
            "user_hash",
            "user_hash must be the hex HMAC-SHA256 of contact_uid keyed by the project secret "
            "(identity verification is on for this project)",
        )


def _forbidden(field: str, message: str) -> Invalid:
    return Invalid(field, RULE, message, status=403)
