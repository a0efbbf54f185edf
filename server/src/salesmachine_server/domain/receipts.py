"""Erasure receipts: what was removed, when, by whom, signed so that it can be checked later.

A receipt is a JSON object; its `signature` is HMAC-SHA256, under a key derived from the server
key, of the object without `signature` written canonically (keys sorted, no spaces, UTF-8).
Anything changed after signing (a count, a time, a hash, a key added) no longer verifies, and
nobody without the server key can sign a receipt of their own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

SIGNATURE = "signature"
ALGORITHM = "HMAC-SHA256"


def receipt_key(server_key: bytes) -> bytes:
    """The key receipts are signed with, derived from the server key (keys.py)."""
    return hmac.new(server_key, b"salesmachine:erasure-receipts", hashlib.sha256).digest()


def _canonical(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def sign(key: bytes, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with its signature (any signature it had is replaced)."""
    unsigned = {k: v for k, v in body.items() if k != SIGNATURE}
    signature = hmac.new(key, _canonical(unsigned), hashlib.sha256).hexdigest()
    return {**unsigned, SIGNATURE: {"algorithm": ALGORITHM, "value": signature}}


def verify(key: bytes, receipt: Any) -> bool:
    """Whether `receipt` (a decoded JSON value) is a receipt signed with `key`, unchanged."""
    if not isinstance(receipt, dict):
        return False
    signature = receipt.get(SIGNATURE)
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        return False
    value = signature.get("value")
    if not isinstance(value, str):
        return False
    expected = sign(key, receipt)[SIGNATURE]["value"]
    return hmac.compare_digest(value.encode(), str(expected).encode())
