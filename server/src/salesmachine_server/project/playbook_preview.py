"""Who a playbook would enroll now, before it is enabled (and whether saved or not).

Two bases, and the answer says which:
- `current_state`, for triggers on a state (a health band, a status or a stage entered, a saved
  segment, a stale Pulse, a renewal coming): the customers in that state now who meet the
  conditions, whom enabling enrolls at once (project/playbook_runner.py primes it);
- `recent_events`, for triggers on something happening (an event, an mrr move, a state left, any
  change of band): the customers it happened to in the last PREVIEW_DAYS days who meet the
  conditions: who it would have enrolled, had it been enabled then. Enabling enrolls nobody
  until it happens again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.domain.playbooks import HISTORY_TRIGGERS, Playbook, State, change_detail
from salesmachine_server.store.db.schema import events, health_history, mrr_changes
from salesmachine_server.store.read.activity import Window
from salesmachine_server.store.read.playbook_matching import customers, matching_ids
from salesmachine_server.store.records.playbooks import StoredPlaybook
from salesmachine_server.store.records.projects import utcnow

PREVIEW_DAYS = 7
MAX_SHOWN = 200
_SCANNED_ROWS = 20_000


@dataclass(frozen=True)
class PreviewCustomer:
    subject: str
    id: int
    uid: str
    name: str
    mrr: float | None
    why: str


@dataclass(frozen=True)
class Preview:
    basis: str  # "current_state" or "recent_events"
    explanation: str
    customers: list[PreviewCustomer]
    truncated: bool


def preview(conn: Connection, project_id: int, playbook: Playbook, window: Window) -> Preview:
    trigger = playbook.trigger
    if trigger.type == "event":
        found = _event_customers(conn, project_id, playbook)
        basis, text = "recent_events", f"did {trigger.event} in the last {PREVIEW_DAYS} days"
    elif trigger.type == "mrr":
        found = _mrr_customers(conn, project_id, playbook)
        basis, text = "recent_events", f"had an mrr {trigger.movement} in the last {PREVIEW_DAYS} days"
    elif trigger.type in HISTORY_TRIGGERS and (trigger.change == "left" or trigger.to == "any"):
        found = _recent_changes(conn, project_id, playbook, window)
        basis, text = "recent_events", f"had that change in the last {PREVIEW_DAYS} days"
    else:
        found = _state_customers(conn, project_id, playbook, window)
        basis, text = "current_state", f"match the trigger's state now ({_state_words(playbook)})"
    if playbook.conditions and found:
        kept = set(matching_ids(conn, project_id, playbook.subject, playbook.conditions, window, only=list(found)))
        found = {cid: why for cid, why in found.items() if cid in kept}
        text += f" and the conditions {playbook.conditions}"
    shown = list(found)[:MAX_SHOWN]
    cards = customers(conn, project_id, playbook.subject, shown)
    return Preview(
        basis=basis,
        explanation=_counted(len(found), playbook.subject, text),
        customers=[
            PreviewCustomer(playbook.subject, cid, cards[cid].uid, cards[cid].name, cards[cid].mrr, found[cid])
            for cid in shown
            if cid in cards
        ],
        truncated=len(found) > MAX_SHOWN,
    )


def _event_customers(conn: Connection, project_id: int, playbook: Playbook) -> dict[int, str]:
    trigger = playbook.trigger
    owner = events.c.account_id if playbook.subject == "account" else events.c.contact_id
    since = utcnow() - timedelta(days=PREVIEW_DAYS)
    rows = conn.execute(
        select(owner, events.c.params, events.c.occurred_at)
        .where(
            events.c.project_id == project_id,
            events.c.name == trigger.event,
            events.c.occurred_at >= since,
            owner.is_not(None),
        )
        .order_by(events.c.occurred_at.desc())
        .limit(_SCANNED_ROWS)
    )
    found: dict[int, str] = {}
    for customer_id, params, occurred_at in rows:
        if customer_id not in found and trigger.matches_params(dict(params or {})):
            found[customer_id] = f"{trigger.event} at {occurred_at.isoformat(timespec='seconds')}Z"
    return found


def _mrr_customers(conn: Connection, project_id: int, playbook: Playbook) -> dict[int, str]:
    trigger = playbook.trigger
    owner = mrr_changes.c.account_id if playbook.subject == "account" else mrr_changes.c.contact_id
    earlier = mrr_changes.alias("earlier")
    earlier_owner = earlier.c.account_id if playbook.subject == "account" else earlier.c.contact_id
    before = (
        select(earlier.c.mrr)
        .where(earlier_owner == owner, earlier.c.effective_at < mrr_changes.c.effective_at)
        .order_by(earlier.c.effective_at.desc(), earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    since = utcnow() - timedelta(days=PREVIEW_DAYS)
    rows = conn.execute(
        select(owner, before, mrr_changes.c.mrr, mrr_changes.c.effective_at)
        .where(mrr_changes.c.project_id == project_id, mrr_changes.c.effective_at >= since, owner.is_not(None))
        .order_by(mrr_changes.c.effective_at.desc())
        .limit(_SCANNED_ROWS)
    )
    found: dict[int, str] = {}
    for customer_id, was, now, at in rows:
        if customer_id not in found and trigger.matches_move(was, now):
            found[customer_id] = f"mrr {_amount(was)} -> {_amount(now)} on {at.date().isoformat()}"
    return found


def _recent_changes(conn: Connection, project_id: int, playbook: Playbook, window: Window) -> dict[int, str]:
    from salesmachine_server.project.playbook_runner import previous_state

    h = health_history.c
    rows = conn.execute(
        select(health_history)
        .where(
            h.project_id == project_id,
            h.subject == playbook.subject,
            h.written_by == "live",
            h.from_day >= window.today - timedelta(days=PREVIEW_DAYS),
        )
        .order_by(h.from_day.desc(), h.id.desc())
        .limit(_SCANNED_ROWS)
    ).all()
    found: dict[int, str] = {}
    for row in rows:
        if row.customer_id in found:
            continue
        detail = change_detail(playbook.trigger, previous_state(conn, row), State(row.status, row.stage, row.band))
        if detail is not None:
            found[row.customer_id] = f"{detail['from']} -> {detail['to']} on {row.from_day.isoformat()}"
    return found


def _state_customers(conn: Connection, project_id: int, playbook: Playbook, window: Window) -> dict[int, str]:
    # Imported here: the runner imports this module's neighbours, not the other way round.
    from salesmachine_server.project.playbook_runner import place_of, state_matches

    stored = StoredPlaybook(0, project_id, playbook, utcnow(), utcnow())
    matches = state_matches(conn, place_of(project_id, window), stored)
    return {cid: (key or _state_words(playbook)) for cid, key in matches.items()}


def _state_words(playbook: Playbook) -> str:
    trigger = playbook.trigger
    words: dict[str, Any] = {
        "health": f"health {trigger.to}",
        "status": f"status {trigger.status}",
        "stage": f"stage {trigger.stage}",
        "segment": f"in the segment {trigger.segment}",
        "pulse_stale": "Pulse stale",
        "renewal": f"renewal within {trigger.within_days} days",
    }
    return str(words.get(trigger.type, trigger.type))


def _counted(count: int, subject: str, text: str) -> str:
    """ "1 account did x", "2 accounts did x"; "1 account matches", "2 accounts match"."""
    if count != 1:
        return f"{count:,} {subject}s {text}"
    words = text.split(" ", 1)
    verb = {"match": "matches", "had": "had", "did": "did"}.get(words[0], words[0])
    return f"1 {subject} {verb} {words[1] if len(words) > 1 else ''}".rstrip()


def _amount(value: Any) -> str:
    return "none" if value is None else f"{float(value):,.2f}"
