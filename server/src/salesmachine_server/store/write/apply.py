"""Apply canonical messages inside one database transaction (docs/wire.md, Semantics).

The projector (project/projector.py; the importer through ingest/group_commit.py) opens the
transaction and hands each project's messages, in order, to a `MessageApplier`: it claims
their message ids (the duplicates drop out), then applies them as runs (run.py), everything
between two aliases. An alias is applied alone, after everything before it was saved, because
it may merge two contacts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from salesmachine_server.domain.messages import Message
from salesmachine_server.domain.timezones import zone
from salesmachine_server.store.db.dialect import Dialect
from salesmachine_server.store.db.schema import message_ids, rejected_items
from salesmachine_server.store.write.health_marks import MarkWriter
from salesmachine_server.store.write.identity import Identity
from salesmachine_server.store.write.run import apply_run
from salesmachine_server.store.write.trigger_inbox import TriggerInbox


class MessageApplier:
    """The messages of one group commit, applied in the connection's transaction."""

    def __init__(self, connection: Connection, received_at: datetime) -> None:
        self.conn = connection
        self.received_at = received_at
        self.identity = Identity(connection, received_at)
        self.timezones: dict[int, ZoneInfo] = {}
        self.db = Dialect(connection)
        self.marks = MarkWriter(connection)
        self.inbox = TriggerInbox(connection)

    def set_timezone(self, project_id: int, name: str | None) -> None:
        self.timezones[project_id] = zone(name)

    def apply(self, project_id: int, messages: list[Message], received_at: list[datetime]) -> list[bool]:
        """Apply messages in order; for each, False when its messageId was already applied."""
        applied = self._claim_message_ids(project_id, messages, received_at)
        tz = self.timezones.get(project_id) or zone(None)
        run: list[tuple[Message, datetime]] = []
        for message, fresh, received in zip(messages, applied, received_at):
            if not fresh:
                continue
            if message.kind == "alias":
                self._apply_run(project_id, run, tz)
                run = []
                assert message.contact_uid is not None and message.alias is not None
                assert message.occurred_at is not None
                self.identity.alias(project_id, message.contact_uid, message.alias, message.occurred_at)
            else:
                run.append((message, received))
        self._apply_run(project_id, run, tz)
        return applied

    def _apply_run(self, project_id: int, run: list[tuple[Message, datetime]], tz: ZoneInfo) -> None:
        state = apply_run(self.conn, self.identity, self.marks, project_id, run, tz, self.received_at)
        if state is not None:
            self.inbox.note(project_id, state.events, state.revenue.moves)

    def reject(self, rows: list[dict[str, Any]]) -> None:
        """Items refused at the door, kept in rejected_items."""
        if rows:
            self.conn.execute(rejected_items.insert(), rows)

    def _claim_message_ids(self, project_id: int, messages: list[Message], received_at: list[datetime]) -> list[bool]:
        """Per message, whether it is the first with its key (messageId, or an import's key)
        here and ever: its key inserted now."""
        first_of: dict[str, int] = {}
        keys = [m.message_id if m.import_key is None else m.import_key for m in messages]
        for index, key in enumerate(keys):
            if key is not None:
                first_of.setdefault(key, index)
        db = self.db
        claimed = {
            message_id
            for (message_id,) in db.insert_ignoring(
                message_ids,
                ("project_id", "message_id", "received_at"),
                [(project_id, key, db.time(received_at[i])) for key, i in first_of.items()],
                conflict=("project_id", "message_id"),
                returning="message_id",
            )
        }
        return [key is None or (key in claimed and first_of[key] == i) for i, key in enumerate(keys)]
