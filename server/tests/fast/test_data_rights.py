"""The rules of data rights as functions: which kept payload names a uid, receipts that verify
or not, uid hashes that keep contacts and accounts apart."""

from __future__ import annotations

import orjson
import pytest

from salesmachine_server.domain.payload_uids import names_any, strings_in
from salesmachine_server.domain.receipts import receipt_key, sign, verify
from salesmachine_server.domain.uid_hashes import suppression_key, uid_hash

UIDS = frozenset({"ann", "42"})


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ('{"contact_uid": "ann", "event_uid": "x"}', True),
        ('{"userId": "joanna", "traits": {"email": "ann@example.com"}}', False),  # not a substring match
        ('{"contact_uid": 42}', True),  # a uid sent as a number
        ('[{"method": "event", "params": {"account_uid": ["a", "ann"]}}]', True),
        ('{"contact_uid": "anne"}', False),
        ('{"contact_uid": "ann", "cut at the limit', True),  # not JSON: the quoted uid
        ('{"contact_uid": "joanna", "cut', False),
        ("(a batch of 10 bytes)", False),
    ],
)
def test_a_payload_names_a_uid_only_whole(raw: str, named: bool) -> None:
    assert names_any(raw, UIDS) is named


def test_strings_of_a_payload_json_or_not() -> None:
    assert sorted(strings_in('{"a": ["x", 7, true, null], "b": {"c": "y"}}')) == ["7", "a", "b", "c", "x", "y"]
    assert list(strings_in('{"contact_uid": "a\\"b", "cut')) == ["contact_uid", 'a"b']


def test_a_receipt_verifies_until_anything_changes() -> None:
    key = receipt_key(b"server key")
    receipt = sign(key, {"kind": "contact", "removed": {"events": 3}, "uid_hashes": ["ab"], "by": "cli:root"})
    assert verify(key, receipt)
    assert verify(key, orjson.loads(orjson.dumps(receipt)))  # written and read back, keys in any order
    assert not verify(key, {**receipt, "removed": {"events": 2}})
    assert not verify(key, {**receipt, "extra": 1})
    assert not verify(receipt_key(b"another server key"), receipt)
    assert not verify(key, {k: v for k, v in receipt.items() if k != "signature"})
    assert not verify(key, [receipt])


def test_uid_hashes_are_keyed_and_kinded() -> None:
    key = suppression_key(b"server key")
    assert uid_hash(key, "contact", "42") == uid_hash(key, "contact", "42")
    assert uid_hash(key, "contact", "42") != uid_hash(key, "account", "42")
    assert uid_hash(key, "contact", "42") != uid_hash(suppression_key(b"other"), "contact", "42")
    assert "42" not in uid_hash(key, "contact", "42")
