"""`salesmachine import FILE`: history from a CSV or NDJSON file, through the write path.

Rows are what `/v1/export/*` gives (and what other tools can easily produce):
- contacts: `contact_uid`, `params`, optional `aliases`, `accounts`, `first_seen_at`, `mrr_history`;
- accounts: `account_uid`, `params`, optional `first_seen_at`, `mrr_history`;
- events: `contact_uid`, `event_uid`, `params`, `created_at`, optional `account_uid`, `message_id`,
  and the enrichment columns (`country`, `browser`, ...).
Any other column is an attribute, `params.<column>` (ingest/import_columns.py: a CRM's
`account_uid,name,domain,plan,mrr` imports as it reads). Each row becomes the items a client
would send, accepted by the same pipeline (ingest/pipeline.py; a row with one refused item is
refused whole, with its line and the reason), with `created_at` honoured, and committed in
batches of one transaction each (group_commit.commit_group).
A row's `mrr_history`, when it has one, is the authority on its mrr: each value is sent at the
time it took effect, and `params` are sent without mrr (docs/revenue.md, backfills).
An event keeps what it had: its account (not attributed again by membership) and enrichment.
Importing is idempotent: events are deduplicated by message id, and those without one by a key
derived from the row (`import_key`). Import accounts, then contacts, then events.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from salesmachine_server.domain.enrichment import Agent, Enrichment, Location
from salesmachine_server.domain.messages import Invalid, Message, Refusal, uid_string
from salesmachine_server.ingest.group_commit import Submission, commit_group
from salesmachine_server.ingest.import_columns import FIELDS, attribute, type_name
from salesmachine_server.ingest.import_reading import Row, header, read_rows
from salesmachine_server.ingest.pipeline import Steps, accept
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.read.exports import ENRICHMENT
from salesmachine_server.store.records.projects import Project, utcnow

BATCH = 1000
SAMPLE = 5  # rows --dry-run shows


@dataclass
class ImportReport:
    rows: int = 0
    messages: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    preview: list[str] = field(default_factory=list)  # --dry-run: the mapping and the first rows


def kind_of(values: dict[str, Any]) -> str:
    if "event_uid" in values or "event" in values:
        return "events"
    if "contact_uid" in values or "unique_id" in values:
        return "contacts"
    if "account_uid" in values:
        return "accounts"
    raise Invalid(
        "row", "kind", "cannot tell what this row is (no contact_uid, account_uid or event_uid); name it with --kind"
    )


def split(values: dict[str, Any], kind: str, columns: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A row's fields (FIELDS) and its attributes, typed; an empty cell (null) sets nothing."""
    fields: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    known = FIELDS[kind]
    for name, value in values.items():
        if name in known:
            fields[name] = value
        elif value is not None and columns.get(name) != "skip":
            attributes[name] = attribute(name, value, columns.get(name, "auto"))
    return fields, attributes


def items_for(fields: dict[str, Any], attributes: dict[str, Any], kind: str) -> list[tuple[dict[str, Any], str]]:
    """The API items (and the kind each is parsed as) that reproduce one row."""
    raw = fields.get("params")
    # Params that are not an object stay as they are: parse_item refuses them, naming params.
    params = {**raw, **attributes} if isinstance(raw, dict) else attributes if raw is None else raw
    time = _first(fields, "first_seen_at", "created_at")
    if kind == "events":
        item = {
            "contact_uid": _first(fields, "contact_uid", "unique_id"),
            "event_uid": _first(fields, "event_uid", "event"),
            "params": params,
            "created_at": fields.get("created_at"),
            "messageId": _first(fields, "message_id", "messageId"),
        }
        return [(item, "event")]
    uid_key, item_kind = ("account_uid", "account") if kind == "accounts" else ("contact_uid", "contact")
    uid = _first(fields, uid_key, "unique_id")
    items: list[tuple[dict[str, Any], str]] = []
    # Revenue history first, each value at the time it took effect. When there is one, it is
    # the authority on mrr: the params (sent at first_seen_at, older than most of the history)
    # leave mrr out, or their current value would be a backfill at first_seen_at. The current
    # value is the last of the history; it is sent as the params spell it (99, not 99.0).
    history = _history(fields.get("mrr_history"))
    if history and isinstance(params, dict):
        current = params.pop("mrr", None)
        if current is not None and current == history[-1].get("mrr"):
            history[-1]["mrr"] = current
    for change in history:
        items.append(
            ({uid_key: uid, "params": {"mrr": change.get("mrr")}, "created_at": change.get("effective_at")}, item_kind)
        )
    if kind == "contacts" and isinstance(params, dict):
        linked = _as_list(fields.get("accounts")) + _as_list(fields.get("account_uid"))
        if linked:
            params["account_uid"] = linked if len(linked) > 1 else linked[0]
    items.append(({uid_key: uid, "params": params, "created_at": time}, item_kind))
    for alias in _as_list(fields.get("aliases")):
        items.append(({"contact_uid": uid, "alias": alias, "created_at": time}, "alias"))
    return items


def _first(fields: dict[str, Any], *names: str) -> Any:
    """The first of the names (the export's, then the API's other spellings) that has a value."""
    return next((fields[name] for name in names if fields.get(name) is not None), None)


def _history(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(change, dict) for change in value):
        raise Invalid("mrr_history", "list", 'mrr_history must be a list of {"mrr", "effective_at"} objects')
    return [dict(change) for change in value]


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


class RowMessages:
    """The messages of each row, with what the API's items cannot say for an imported event."""

    def __init__(self, kind: str | None, columns: dict[str, str]) -> None:
        self.kind = kind
        self.columns = columns
        # Rows alike in every field an event's key is made of, by key: the nth is a distinct
        # event. Counted within one received_at (one request's events are consecutive in an
        # export), so memory holds one request's events, not the file's.
        self.alike: Counter[bytes] = Counter()
        self.received_at: Any = None

    def of(self, row: Row) -> tuple[list[tuple[dict[str, Any], str]], list[Message]]:
        """The API items of a row and their messages; raises Invalid (the row is refused whole)."""
        if row.error is not None:
            raise row.error
        kind = self.kind or kind_of({k: v for k, v in row.values.items() if v is not None})
        for name in self.columns:
            if name in FIELDS[kind]:  # a CSV file's header was checked before; NDJSON's rows are here
                raise ValueError(f"--column {name}: not an attribute column: it is {FIELDS[kind][name]}")
        fields, attributes = split(row.values, kind, self.columns)
        items = items_for(fields, attributes, kind)
        messages = [_accepted(item, item_kind) for item, item_kind in items]
        if kind == "events":
            self._as_it_was(messages[0], fields)
        return items, messages

    def _as_it_was(self, message: Message, fields: dict[str, Any]) -> None:
        if "account_uid" in fields:  # the column is there: its value is the account, null none
            message.account_given = True
            value = fields["account_uid"]
            message.account_uid = None if value is None else uid_string(value, "account_uid")
        message.enrichment = enrichment(fields)
        if message.message_id is None:
            message.import_key = self._key(message, fields)

    def _key(self, message: Message, fields: dict[str, Any]) -> str:
        """A stable id for an event without message id: importing the same row again finds it."""
        received = fields.get("received_at")
        if received != self.received_at:
            self.alike.clear()
            self.received_at = received
        when = message.occurred_at if fields.get("created_at") is not None else None
        digest = hashlib.sha256(
            orjson.dumps(
                [
                    message.contact_uid,
                    message.event_name,
                    when,
                    message.params,
                    message.account_given,
                    message.account_uid,
                    received,
                ],
                option=orjson.OPT_SORT_KEYS | orjson.OPT_NAIVE_UTC,
            )
        ).digest()
        self.alike[digest] += 1
        return f"import:{digest.hex()[:40]}:{self.alike[digest]}"


def _accepted(item: dict[str, Any], kind: str) -> Message:
    """An item through the pipeline as the importer runs it: parsed, with no item limit, no
    identity to verify, no browser and no enrichment (pipeline.py says why). A refusal
    refuses the row."""
    accepted = accept(item, kind, Steps(received_at=utcnow()))
    if isinstance(accepted, Refusal):
        raise Invalid(accepted.field, accepted.rule, accepted.message, accepted.status)
    return accepted


# The longest value each enrichment column holds (schema.py).
_LENGTHS = {
    "ip_scope": 16,
    "country": 2,
    "region": 255,
    "city": 255,
    "browser": 64,
    "browser_version": 32,
    "os": 64,
    "os_version": 32,
    "device": 16,
}
_RANGES = {"latitude": 90, "longitude": 180}


def enrichment(fields: dict[str, Any]) -> Enrichment | None:
    """An exported event's enrichment, checked as the columns will hold it; None when the row
    has none (the event can be enriched later, by `salesmachine enrich --backfill`)."""
    values = {name: _enrichment_value(name, fields.get(name)) for name in ENRICHMENT}
    if all(value is None for value in values.values()):
        return None
    location = None
    if values["ip_scope"] is not None:
        location = Location(*(values[name] for name in ENRICHMENT[:6]))
    elif any(values[name] is not None for name in ENRICHMENT[1:6]):
        raise Invalid("ip_scope", "required", "ip_scope is required with country, region, city or coordinates")
    agent = Agent(*(values[name] for name in ENRICHMENT[6:]))
    return Enrichment(location, agent if any(value is not None for value in agent.columns) else None)


def _enrichment_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _RANGES:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not -_RANGES[name] <= number <= _RANGES[name]:
            raise Invalid(
                name, "range", f"{name} must be a number from -{_RANGES[name]} to {_RANGES[name]}, got {value!r:.60}"
            )
        return number
    if not isinstance(value, str) or len(value) > _LENGTHS[name]:
        raise Invalid(name, "max_length", f"{name} must be text of at most {_LENGTHS[name]} characters")
    return value


def import_file(
    engines: Engines,
    project: Project,
    path: Path,
    kind: str | None = None,
    columns: dict[str, str] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    columns = columns or {}
    _check_columns(path, kind, columns)
    report = ImportReport()
    timezone = project.settings.timezone
    pending: list[Message] = []
    rejections: list[dict[str, Any]] = []
    shaping = RowMessages(kind, columns)
    sample: list[Row] = []

    def flush() -> None:
        if (pending or rejections) and not dry_run:
            submission = Submission(project.id, utcnow(), list(pending), list(rejections), timezone=timezone)
            report.duplicates += commit_group(engines, [submission])[0]
        pending.clear()
        rejections.clear()

    for row in read_rows(path):
        report.rows += 1
        try:
            items, messages = shaping.of(row)
        except Invalid as exc:
            rejections.append(
                {
                    "project_id": project.id,
                    "received_at": utcnow(),
                    "path": "import",
                    "item_index": row.line,
                    "raw": orjson.dumps(row.values).decode()[:65536],
                    "code": "bad_request",
                    "field": exc.error.field,
                    "reason": exc.error.message,
                }
            )
            report.refused.append(f"line {row.line}: {exc.error.message}")
            items = []
        else:
            pending.extend(messages)
            report.messages += len(messages)
        if dry_run and len(sample) < SAMPLE:
            sample.append(row)
            report.preview.append(
                f"line {row.line}: "
                + (
                    " ".join(
                        orjson.dumps({k: v for k, v in item.items() if v is not None}).decode() for item, _ in items
                    )
                    or "refused"
                )
            )
        if len(pending) >= BATCH:
            flush()
    flush()
    if dry_run:
        report.preview[:0] = [
            "columns:",
            *mapping(path, kind, columns, sample),
            "first rows, as the messages they become:",
        ]
    return report


def _check_columns(path: Path, kind: str | None, columns: dict[str, str]) -> None:
    """A --column must name an attribute column of the file (a CSV file says which it has)."""
    names = header(path)
    if names is None:
        return
    try:
        file_kind = kind or kind_of(dict.fromkeys(names))
    except Invalid:
        file_kind = None
    for name in columns:
        if name not in names:
            raise ValueError(f"--column {name}: the file has no column {name!r} (it has {', '.join(names)})")
        if file_kind is not None and name in FIELDS[file_kind]:
            raise ValueError(f"--column {name}: not an attribute column: it is {FIELDS[file_kind][name]}")


def mapping(path: Path, kind: str | None, columns: dict[str, str], sample: list[Row]) -> list[str]:
    """What each column becomes, with the types its first values have."""
    names = header(path) or list(dict.fromkeys(name for row in sample for name in row.values))
    first = next((row.values for row in sample if row.error is None), {})
    try:
        row_kind = kind or kind_of({k: v for k, v in first.items() if v is not None})
    except Invalid:
        row_kind = None
    lines = [f"  (rows are {row_kind or 'of no kind this tool can tell: name it with --kind'})"]
    for name in names:
        if row_kind is not None and name in FIELDS[row_kind]:
            target = FIELDS[row_kind][name]
        elif columns.get(name) == "skip":
            target = "skipped (--column)"
        elif name in columns and columns[name] != "auto":
            target = f"params.{name} ({columns[name]}, --column)"
        else:
            seen = sorted(
                {
                    type_name(_typed(name, row.values[name]))
                    for row in sample
                    if row.error is None and row.values.get(name) is not None
                }
            )
            target = f"params.{name} ({', '.join(seen) or 'no value in the first rows'})"
        lines.append(f"  {name} -> {target}")
    return lines


def _typed(name: str, value: Any) -> Any:
    try:
        return attribute(name, value, "auto")
    except Invalid:
        return value
