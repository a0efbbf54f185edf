"""Python values -> the JSON the server stores, and the timestamps the wire carries.

Params are converted when the call is made, not when the batch is sent: a value JSON cannot
carry must fail in the caller's stack trace, naming the key, rather than minutes later in a
background thread where nobody is looking.
"""

from __future__ import annotations

import enum
import json
import math
import numbers
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

# Deeper than this is a cycle or a mistake; the server itself stores at most ~250 levels.
MAX_DEPTH = 100

# The integers the server's JSON reader takes (64 bits, signed or not); a bigger one would
# make it refuse the whole batch, so it is refused here, at the call.
_MIN_INT = -(2**63)
_MAX_INT = 2**64 - 1


def utc_timestamp(moment: datetime) -> str:
    """`2013-01-01T00:00:00.000Z`: UTC with milliseconds, the form the API document uses.

    A naive datetime is taken as UTC already (what `datetime.utcnow()` gives): inventing the
    machine's local zone would shift it silently on servers set to UTC anyway.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_timestamp() -> str:
    return utc_timestamp(datetime.now(timezone.utc))


def json_safe(value: Any, path: str = "params", depth: int = 0) -> Any:
    """A copy of `value` made of dict, list, str, int, float, bool and None only.

    datetime -> ISO string (aware ones in UTC with `Z`, naive ones as written, no zone
    invented), date -> `YYYY-MM-DD`, time -> ISO, Decimal -> number, UUID -> string,
    Enum -> its value, tuple/set -> list. Anything else raises TypeError naming `path`.
    """
    # The common cases first: most params are flat strings and numbers.
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return _integer(value, path)
    if isinstance(value, float):
        return _finite(float(value), path)
    if depth >= MAX_DEPTH:
        raise ValueError(f"{path} is nested more than {MAX_DEPTH} levels deep (is there a cycle?)")
    if isinstance(value, Mapping):
        return {_key(key, path): json_safe(item, f"{path}[{key!r}]", depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value)]
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            return utc_timestamp(value)
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return _decimal(value, path)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return json_safe(value.value, path, depth + 1)
    # numpy and friends register their scalars with the numbers ABCs.
    if isinstance(value, numbers.Integral):
        return _integer(int(value), path)
    if isinstance(value, numbers.Real):
        return _finite(float(value), path)
    raise TypeError(
        f"{path} is a {type(value).__name__}, which cannot be sent as JSON; use str, int, float, "
        "bool, None, dict, list, datetime, date, Decimal or UUID"
    )


def encode(message: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the server measures an item's size."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def stamp_sent_at(item: bytes, sent_at: str) -> bytes:
    """The encoded item with `sent_at` added as its first key.

    `sent_at` changes on every attempt (the server corrects clock skew with it), while the
    rest of the item must stay byte-for-byte the same so retries carry the same messageId;
    splicing avoids encoding the whole item again for each attempt.
    """
    return b'{"sent_at":"' + sent_at.encode("ascii") + b'",' + item[1:]


# `{"sent_at":"2013-01-01T00:00:00.000Z",` adds this many bytes to an item.
SENT_AT_BYTES = len(stamp_sent_at(b"{}", "2013-01-01T00:00:00.000Z")) - 2


def _finite(number: float, path: str) -> float:
    if not math.isfinite(number):
        raise ValueError(f"{path} is {number}, which JSON cannot carry (no NaN or Infinity)")
    return number


def _decimal(value: Decimal, path: str) -> Any:
    if not value.is_finite():
        raise ValueError(f"{path} is Decimal({str(value)!r}), which JSON cannot carry")
    if value == value.to_integral_value() and _MIN_INT <= value <= _MAX_INT:
        return int(value)
    return float(value)


def _integer(value: int, path: str) -> int:
    if not _MIN_INT <= value <= _MAX_INT:
        raise ValueError(f"{path} is an integer beyond 64 bits; send it as a string or a float")
    return int(value)  # an IntEnum or other int subclass becomes a plain int


def _key(key: Any, path: str) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, uuid.UUID)) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"{path} has a key {key!r} of type {type(key).__name__}; JSON object keys are strings")
