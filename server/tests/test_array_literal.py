"""The arrays the write path sends PostgreSQL as text (store/db/dialect.py `array_literal`)
come back as the values they were made of, whatever the strings hold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesmachine_server.store.db.dialect import array_literal
from tests.support import postgres_database

# What a uid, a name or a JSON text may hold: quotes, backslashes, braces, commas, spaces,
# "NULL" itself, any Unicode but the NUL character PostgreSQL's text refuses; no lone surrogate,
# which no decoded JSON holds (orjson refuses it) and no UTF-8 text can carry.
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20) | st.sampled_from(
    ["", "NULL", "null", '"', "\\", "{}", "a,b", " x ", '{"a": "b\\"c"}']
)


@pytest.fixture(scope="module")
def connection() -> Iterator[psycopg.Connection[Any]]:
    with postgres_database() as url, psycopg.connect(url, autocommit=True) as conn:
        yield conn


def round_trip(conn: psycopg.Connection[Any], values: list[Any], cast: str) -> list[Any]:
    literal = array_literal(values)
    assert isinstance(literal, str), "sent as text, not left to psycopg"
    row = conn.execute(f"SELECT %s::{cast}", (literal,)).fetchone()
    assert row is not None
    return list(row[0])


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.none() | TEXT, min_size=1, max_size=8).filter(lambda v: any(x is not None for x in v)))
def test_strings_come_back_as_sent(connection: psycopg.Connection[Any], values: list[str | None]) -> None:
    assert round_trip(connection, values, "TEXT[]") == values


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=8))
def test_integers_come_back_as_sent(connection: psycopg.Connection[Any], values: list[int | None]) -> None:
    if all(value is None for value in values):
        return
    assert round_trip(connection, values, "BIGINT[]") == values


def test_times_and_days_come_back_to_the_microsecond(connection: psycopg.Connection[Any]) -> None:
    times = [datetime(2026, 12, 5, 10, 0, 0, 123456), None, datetime(1999, 1, 1), datetime(2026, 1, 2, 3, 4, 5, 6)]
    days = [date(2026, 12, 5), None, date(1970, 1, 1)]
    assert round_trip(connection, times, "TIMESTAMP[]") == times
    assert round_trip(connection, days, "DATE[]") == days


def test_json_texts_come_back_as_the_same_documents(connection: psycopg.Connection[Any]) -> None:
    documents = ['{"name": "O\'Brien \\"the\\" {x}", "n": [1, 2]}', "{}", None]
    back = round_trip(connection, documents, "JSONB[]")
    assert back == [{"name": 'O\'Brien "the" {x}', "n": [1, 2]}, {}, None]


def test_other_values_are_left_to_psycopg() -> None:
    assert array_literal([True, False]) == [True, False]
    assert array_literal([1.5, None]) == [1.5, None]
    assert array_literal([None, None]) == [None, None]
    assert array_literal([1, "a"]) == [1, "a"]  # mixed: psycopg says what it makes of it
