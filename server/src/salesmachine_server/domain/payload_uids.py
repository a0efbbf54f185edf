"""Whether a kept payload (a refused item's raw text) names one of a person's uids.

Precisely, not by substring: erasing the uid "ann" must not remove a refused item about
"joanna". The raw text is parsed and every string value in it (at any depth: contact_uid,
userId, params.account_uid, a batch's items...) is compared whole with the uids; so is a
number, as its decimal text, since uids may be sent as numbers. A raw text that is not JSON
(a body refused whole, or an item cut at the size limit) is searched for a uid as a JSON
string literal, quotes included: the same precision for what could not be parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

# A JSON string literal in text that is not JSON as a whole (cut at the limit, say).
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def names_any(raw: str, uids: frozenset[str]) -> bool:
    """Whether `raw` names one of `uids`."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return any(orjson.dumps(uid).decode() in raw for uid in uids)
    return any(value in uids for value in _scalars(document))


def strings_in(raw: str) -> Iterator[str]:
    """Every value `raw` could name a uid with: the strings and numbers of its JSON (keys too),
    or, when it is not JSON, each JSON string literal in it, decoded."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        for found in _STRING.finditer(raw):
            try:
                yield orjson.loads(found.group(0))
            except orjson.JSONDecodeError:
                yield found.group(1)
        return
    yield from _scalars(document)


def _scalars(value: Any) -> Iterator[str]:
    """Every string and number of a decoded JSON document, as text; keys too (a map keyed by uid)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, (int, float)):
            yield str(item)
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
