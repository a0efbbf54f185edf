"""The write path's half of playbooks' event and mrr triggers: what an enabled playbook listens
to goes into `trigger_inbox` in the transaction of the data itself, so that a trigger fires for
exactly what was committed, whichever process (a request worker, the projector) applied it.
The playbook runner (project/playbook_runner.py) consumes the inbox.

Cheap when nothing listens: one indexed look per project per group commit at the names its
enabled playbooks listen to, and nothing written unless an event's name is one of them or an
mrr moved while an mrr playbook is enabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from salesmachine_server.store.db.schema import playbooks, trigger_inbox
from salesmachine_server.store.write.event_insert import EventRow

_LISTENING = select(playbooks.c.trigger_type, playbooks.c.trigger_event).where(
    playbooks.c.project_id == bindparam("project_id"),
    playbooks.c.enabled.is_(True),
    playbooks.c.trigger_type.in_(("event", "mrr")),
)


@dataclass(frozen=True)
class Listening:
    """What a project's enabled playbooks listen to on the write path."""

    events: frozenset[str]
    mrr: bool

    @property
    def anything(self) -> bool:
        return bool(self.events) or self.mrr


class TriggerInbox:
    """The inbox writes of one group commit (one transaction): a look per project, then rows."""

    def __init__(self, connection: Connection) -> None:
        self.conn = connection
        self._listening: dict[int, Listening] = {}

    def listening(self, project_id: int) -> Listening:
        known = self._listening.get(project_id)
        if known is None:
            rows = self.conn.execute(_LISTENING, {"project_id": project_id}).all()
            known = Listening(
                events=frozenset(event for kind, event in rows if kind == "event" and event is not None),
                mrr=any(kind == "mrr" for kind, _ in rows),
            )
            self._listening[project_id] = known
        return known

    def note(
        self,
        project_id: int,
        events: Sequence[EventRow],
        moves: Sequence[tuple[tuple[str, int], Any, Any, datetime]],
    ) -> None:
        """Keep, for the runner, the events and mrr moves of a run that a playbook listens to."""
        if not events and not moves:
            return
        listening = self.listening(project_id)
        if not listening.anything:
            return
        rows: list[dict[str, Any]] = [
            {
                "project_id": project_id,
                "kind": "event",
                "contact_id": contact_id,
                "account_id": account_id,
                "name": message.event_name,
                "params": message.params,
                "occurred_at": message.occurred_at,
            }
            for contact_id, account_id, message, _received in events
            if message.event_name in listening.events
        ]
        if listening.mrr:
            rows.extend(
                {
                    "project_id": project_id,
                    "kind": "mrr",
                    "contact_id": row_id if kind == "contact" else None,
                    "account_id": row_id if kind == "account" else None,
                    "name": None,
                    "params": {"before": _number(before), "after": _number(after)},
                    "occurred_at": at,
                }
                for (kind, row_id), before, after, at in moves
            )
        if rows:
            self.conn.execute(trigger_inbox.insert(), rows)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
