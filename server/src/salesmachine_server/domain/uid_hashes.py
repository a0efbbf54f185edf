"""The keyed hash an erased uid is remembered by (suppression, receipts), never the uid itself.

HMAC-SHA256 under a key derived from the server key: without the key nobody can test a guess
("was alice@example.com erased?") against a dump of the database, and the same uid hashes the
same way in every process of one installation. Contacts and accounts hash apart, so erasing
the account "42" does not suppress the contact "42".
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

Kind = Literal["contact", "account"]


def suppression_key(server_key: bytes) -> bytes:
    """The key uids are hashed with, derived from the server key (keys.py)."""
    return hmac.new(server_key, b"salesmachine:suppression", hashlib.sha256).digest()


def uid_hash(key: bytes, kind: Kind, uid: str) -> str:
    """The hex hash of one uid of a contact or an account, under `suppression_key`."""
    return hmac.new(key, f"{kind}:{uid}".encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
