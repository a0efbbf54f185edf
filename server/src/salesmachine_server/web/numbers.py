"""Whole numbers typed or linked into the dashboard (ids, settings), read as the read API reads
its own: ASCII digits only (str.isdigit() also takes "²", which int() refuses), and bounded
before int() is called (int() refuses thousands of digits, and an id past 64 bits overflows the
database driver)."""

from __future__ import annotations

from salesmachine_server.domain.list_query import is_whole_number

MAX_ID = 2**63 - 1  # ids are 64-bit integers on both engines


def whole_number(value: str, low: int, high: int) -> int | None:
    """`value` as an int from low to high, or None when it is not one."""
    if not is_whole_number(value):
        return None
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(high)):
        return None
    number = int(digits)
    return number if low <= number <= high else None
