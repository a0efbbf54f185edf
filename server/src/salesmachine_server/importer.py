"""`salesmachine import FILE`: history from a CSV or NDJSON file, through the write path.

Rows are what `/v1/export/*` gives (and what other tools can easily produce):
- contacts: `contact_uid`, `params`, optional `aliases`, `accounts`, `first_seen_at`, `mrr_history`;
- accounts: `account_uid`, `params`, optional `first_seen_at`, `mrr_history`;
- events: `contact_uid`, `event_uid`, `params`, `created_at`, optional `account_uid`, `message_id`.
Each row becomes the same messages a client would send (validated the same way, with
`created_at` honoured and message ids deduplicated), applied in batches of one transaction each.
A row's `mrr_history`, when it has one, is the authority on its mrr: each value is sent at the
time it took effect, and `params` are sent without mrr (docs/revenue.md, backfills).
CSV cells holding objects or lists are JSON. Import accounts, then contacts, then events.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from salesmachine_server.ingest.messages import Invalid, Message, parse_item
from salesmachine_server.ingest.writer import Job, commit
from salesmachine_server.store.engine import Engines
from salesmachine_server.store.projects import Project, utcnow

BATCH = 1000
STRUCTURED = ("params", "aliases", "accounts", "mrr_history")


@dataclass
class ImportReport:
    rows: int = 0
    messages: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield {k: _cell(k, v) for k, v in row.items() if v not in ("", None)}
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON: {exc}") from None


def _cell(name: str, value: str) -> Any:
    return orjson.loads(value) if name in STRUCTURED else value


def kind_of(row: dict[str, Any]) -> str:
    if "event_uid" in row or "event" in row:
        return "events"
    if "contact_uid" in row or "unique_id" in row:
        return "contacts"
    if "account_uid" in row:
        return "accounts"
    raise ValueError(f"cannot tell what this row is (no contact_uid, account_uid or event_uid): {row!r:.200}")


def items_for(row: dict[str, Any], kind: str) -> list[tuple[dict[str, Any], str]]:
    """The API items (and the kind each is parsed as) that reproduce one exported row."""
    if kind == "events":
        item = {"contact_uid": row.get("contact_uid", row.get("unique_id")),
                "event_uid": row.get("event_uid", row.get("event")), "params": row.get("params") or {},
                "created_at": row.get("created_at"), "messageId": row.get("message_id", row.get("messageId"))}
        return [(item, "event")]
    uid_key, item_kind = ("account_uid", "account") if kind == "accounts" else ("contact_uid", "contact")
    uid = row.get(uid_key, row.get("unique_id"))
    items: list[tuple[dict[str, Any], str]] = []
    # Revenue history first, each value at the time it took effect. When there is one, it is
    # the authority on mrr: the params (sent at first_seen_at, older than most of the history)
    # leave mrr out, or their current value would be a backfill at first_seen_at. The current
    # value is the last of the history; it is sent as the params spell it (99, not 99.0).
    params = dict(row.get("params") or {})
    history = [dict(change) for change in row.get("mrr_history") or []]
    if history:
        current = params.pop("mrr", None)
        if current is not None and current == history[-1].get("mrr"):
            history[-1]["mrr"] = current
    for change in history:
        items.append(({uid_key: uid, "params": {"mrr": change.get("mrr")}, "created_at": change.get("effective_at")},
                      item_kind))
    if row.get("accounts"):
        params["account_uid"] = row["accounts"]
    items.append(({uid_key: uid, "params": params, "created_at": row.get("first_seen_at")}, item_kind))
    for alias in row.get("aliases") or []:
        items.append(({"contact_uid": uid, "alias": alias, "created_at": row.get("first_seen_at")}, "alias"))
    return items


def import_file(engines: Engines, project: Project, path: Path, kind: str | None = None) -> ImportReport:
    report = ImportReport()
    timezone = project.settings.get("timezone", "UTC")
    pending: list[Message] = []
    rejections: list[dict[str, Any]] = []

    def flush() -> None:
        if pending or rejections:
            job = Job(project.id, utcnow(), list(pending), list(rejections), timezone=timezone)
            report.duplicates += commit(engines, [job])[0]
            pending.clear()
            rejections.clear()

    for row in read_rows(path):
        report.rows += 1
        row_kind = kind or kind_of(row)
        for item, item_kind in items_for(row, row_kind):
            try:
                pending.append(parse_item(item, item_kind, utcnow()))
                report.messages += 1
            except Invalid as exc:
                rejections.append({"project_id": project.id, "received_at": utcnow(), "path": "import",
                                   "item_index": report.rows - 1, "raw": orjson.dumps(item).decode()[:65536],
                                   "code": "bad_request", "field": exc.error.field, "reason": exc.error.message})
                report.refused.append(f"row {report.rows}: {exc.error.message}")
        if len(pending) >= BATCH:
            flush()
    flush()
    return report
