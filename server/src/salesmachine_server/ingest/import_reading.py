"""The rows of a file to import, each with the line it starts on, or what is wrong with it.

CSV when the name ends in `.csv`, NDJSON otherwise. A CSV cell is text, but for the JSON
columns (`params`, `aliases`, `accounts`, `mrr_history`); an empty cell is null, as the export
writes it; a cell
the export neutralised against spreadsheet formulas is restored (domain/csv_formulas.py). A line that
is no row (not JSON, not an object, a JSON cell that is not JSON, more cells than the header
names) is returned as refused, never skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from salesmachine_server.domain.csv_formulas import restore
from salesmachine_server.domain.messages import Invalid
from salesmachine_server.ingest.import_columns import STRUCTURED


@dataclass
class Row:
    line: int
    values: dict[str, Any]
    error: Invalid | None = None


def header(path: Path) -> list[str] | None:
    """A CSV file's column names (None for NDJSON)."""
    if not is_csv(path):
        return None
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def read_rows(path: Path) -> Iterator[Row]:
    return _csv_rows(path) if is_csv(path) else _ndjson_rows(path)


# An export's cell holds a contact's whole params: allow far more than csv's 128 KiB default.
csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))


def _csv_rows(path: Path) -> Iterator[Row]:
    # utf-8-sig: spreadsheets often begin a CSV file with a byte order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        columns = next(reader, None)
        if columns is None:
            return
        end = reader.line_num
        for cells in _records(reader, path):
            line, end = end + 1, reader.line_num
            if not any(cells):
                continue  # a blank line
            if len(cells) > len(columns):
                yield Row(
                    line,
                    {},
                    Invalid("row", "columns", f"{len(cells)} cells, but the header names {len(columns)} columns"),
                )
                continue
            try:
                yield Row(line, {name: None if cell == "" else _cell(name, cell) for name, cell in zip(columns, cells)})
            except Invalid as exc:
                yield Row(line, {}, exc)


def _records(reader: Any, path: Path) -> Iterator[list[str]]:
    """The reader's records; a file csv cannot read on (a NUL byte, a cell over the limit) stops
    the import there, saying where."""
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"{path}:{reader.line_num}: not CSV: {exc}; the import stopped at this line") from None


def _cell(name: str, cell: str) -> Any:
    if name in STRUCTURED:
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError as exc:
            raise Invalid(name, "json", f"{name}: not JSON: {exc}") from None
    return restore(cell)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"


def _ndjson_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                values = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Row(number, {}, Invalid("body", "json", f"not JSON: {exc}"))
                continue
            if not isinstance(values, dict):
                yield Row(
                    number, {}, Invalid("body", "object", f"each line must be a JSON object, got {_json_type(values)}")
                )
                continue
            yield Row(number, values)
