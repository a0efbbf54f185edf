"""Writes naming an erased person: refused (409, rule "suppressed") or dropped, per project.

After an erasure its uids are suppressed (serving/erasures.py): a client still sending about
the person must not bring them back. Each parsed item's uids (contact, alias, account, linked
accounts) are hashed as the suppressions were (domain/uid_hashes.py) and looked up. The project
setting `suppressed_writes` chooses:
- "refuse" (the default): the item is refused with 409, field and rule named, as any bad item;
- "drop": the item is answered as accepted (201) and not stored.
Either way it is counted (the metric below, and a row in rejected_items with the reason
SUPPRESSED_REASON) and its payload is never kept: the row holds a note instead of the raw text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Counter
from starlette.requests import Request

from salesmachine_server.domain.messages import Invalid, Message
from salesmachine_server.domain.payload_uids import strings_in
from salesmachine_server.domain.project_settings import DROP, REFUSE, SUPPRESSED_WRITES
from salesmachine_server.domain.uid_hashes import Kind, suppression_key, uid_hash
from salesmachine_server.serving.state import app_state
from salesmachine_server.store.records.projects import Project
from salesmachine_server.store.records.suppressions import SUPPRESSED_REASON

SUPPRESSED = Counter(
    "salesmachine_suppressed_items_total", "Items naming an erased uid, refused or dropped", ["action"]
)
SETTING = SUPPRESSED_WRITES
MODES = (REFUSE, DROP)
RULE = "suppressed"
STATUS = 409
NOT_KEPT = "(not kept: names an erased person)"
_REFUSED_MARK = "names a person who was erased"


class WriteRequest(Protocol):
    """What `screen` reads of the request being written (ingest/endpoints.Write, SegmentItems)."""

    request: Request
    project_id: int
    received_at: datetime


@dataclass(frozen=True)
class Suppression:
    """A project's suppressed uid hashes, as one write request checks them."""

    hashes: frozenset[str]
    key: bytes
    drop: bool

    def named(self, message: Message) -> str | None:
        """The field of `message` that names a suppressed uid, or None."""
        if not self.hashes:
            return None
        for field, kind, uid in _uids(message):
            if uid_hash(self.key, kind, uid) in self.hashes:
                return field
        return None

    def refuse(self, message: Message) -> None:
        """Raise Invalid (409) for a parsed item naming a suppressed uid, unless they are dropped."""
        field = None if self.drop else self.named(message)
        if field is not None:
            raise Invalid(
                field,
                RULE,
                f"the {field} {_REFUSED_MARK}: writes about them are refused "
                f"(project setting {SETTING}); nothing was stored",
                status=STATUS,
            )

    def screen(
        self, write: WriteRequest, messages: list[Message], rejections: list[dict[str, Any]]
    ) -> tuple[list[Message], list[dict[str, Any]]]:
        """What a request hands the writer: dropped items left out and counted, refused ones
        recorded without their payload."""
        kept: list[Message] = []
        for message in messages:
            field = self.named(message) if self.drop else None
            if field is None:
                kept.append(message)
                continue
            SUPPRESSED.labels("dropped").inc()
            rejections = [
                *rejections,
                {
                    "project_id": write.project_id,
                    "received_at": write.received_at,
                    "path": write.request.url.path[:64],
                    "item_index": None,
                    "raw": NOT_KEPT,
                    "code": "dropped",
                    "field": field,
                    "reason": SUPPRESSED_REASON,
                },
            ]
        screened = []
        for row in rejections:
            if row.get("code") == "conflict" and _REFUSED_MARK in str(row.get("reason")):
                SUPPRESSED.labels("refused").inc()
                row = {**row, "raw": NOT_KEPT, "reason": SUPPRESSED_REASON}
            elif self.hashes and self.names_in(str(row.get("raw", ""))):
                row = {**row, "raw": NOT_KEPT}  # refused for another reason: kept, but not what it said
            screened.append(row)
        return kept, screened

    def names_in(self, raw: str) -> bool:
        """Whether a refused payload names a suppressed uid (of a contact or an account)."""
        return any(
            uid_hash(self.key, kind, text) in self.hashes for text in strings_in(raw) for kind in ("contact", "account")
        )


NOTHING_SUPPRESSED = Suppression(frozenset(), b"", drop=False)


async def suppression_for(request: Request, project: Project) -> Suppression:
    """The suppression a write request to `project` checks its items against."""
    state = app_state(request)
    hashes = await state.suppressed_uids.of(state.engines.reader, project.id)
    if not hashes:
        return NOTHING_SUPPRESSED
    return Suppression(hashes, suppression_key(state.server_key), project.settings.suppressed_writes == DROP)


def _uids(message: Message) -> Iterator[tuple[str, Kind, str]]:
    if message.contact_uid is not None:
        yield "contact_uid", "contact", message.contact_uid
    if message.alias is not None:
        yield "alias", "contact", message.alias
    if message.account_uid is not None:
        yield "account_uid", "account", message.account_uid
    linked = message.params.get("account_uid") if message.kind != "account" else None
    for uid in linked if isinstance(linked, list) else [] if linked is None else [linked]:
        yield "params.account_uid", "account", str(uid)
