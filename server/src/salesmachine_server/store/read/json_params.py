"""SQL expressions over one key of a JSON `params` column, the same meaning on both engines.

`text` is the value as text (true/false for booleans, as PostgreSQL's ->> gives them); `number`
is the value when it is a JSON number, else NULL (never an error on a string, unlike a cast).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Text, case, cast, func, literal


def param_text(dialect: str, column: ColumnElement[Any], key: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return column.op("->>", return_type=Text)(literal(key, Text))
    path = _sqlite_path(key)
    kind = func.json_type(column, path)
    return case(
        (kind == "true", "true"),
        (kind == "false", "false"),
        else_=cast(func.json_extract(column, path), Text),
    )


def param_number(dialect: str, column: ColumnElement[Any], key: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        is_number = func.jsonb_typeof(column.op("->")(literal(key, Text))) == "number"
        return case((is_number, cast(column.op("->>", return_type=Text)(literal(key, Text)), Float)), else_=None)
    path = _sqlite_path(key)
    return case(
        (func.json_type(column, path).in_(["integer", "real"]), cast(func.json_extract(column, path), Float)),
        else_=None,
    )


def _sqlite_path(key: str) -> str:
    # A quoted member name, so keys with dots or spaces name one key, not a path.
    return '$."' + key.replace('"', '\\"') + '"'
