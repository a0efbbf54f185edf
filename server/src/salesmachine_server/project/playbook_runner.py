"""The playbook runner: triggers firing, inside `salesmachine serve`, once.

It is a periodic task (serving/periodic.py) that, while its process holds the lease, loops:
every second it

1. consumes the trigger inbox (events and mrr moves the write path kept in the transaction of
   the data, store/write/trigger_inbox.py): in one transaction it deletes the rows it read,
   enrolls the customers they fire for, and does the playbooks' actions (tasks, owners,
   deliveries queued): all of it commits or none of it does;
2. follows `health_history`'s live rows above its position (health, status, stage triggers),
   the position moving in the same transaction as what the rows fired;
3. enrolls, for playbooks just enabled, who matches their trigger's state now (the preview);
4. every `scan_seconds`, and as soon as a project's day turns, looks at who matches each
   scanned trigger (a saved segment, a stale Pulse, a renewal coming) and fires for who
   entered (or left) since its last look.

Exactly once: the lease makes one runner; should two ever overlap (a lease lost mid-step), the
inbox delete counts its rows and the position moves only from where it was read, so the second
transaction rolls back, and an enrollment's unique key (playbook, customer, occurrence) admits
a firing once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError

from salesmachine_server.domain.list_query import CONTROL, QueryError, join_terms, read_term, split_terms
from salesmachine_server.domain.playbooks import (
    HISTORY_TRIGGERS,
    INBOX_TRIGGERS,
    SCAN_TRIGGERS,
    State,
    change_detail,
    renewal_day,
)
from salesmachine_server.domain.timezones import local_today
from salesmachine_server.project.playbook_actions import Firing, run_actions
from salesmachine_server.store.db.dialect import Dialect
from salesmachine_server.store.db.schema import (
    contacts,
    health_history,
    playbook_enrollments,
    playbook_matches,
    playbook_positions,
    playbook_runs,
    playbooks,
    projects,
    pulses,
    saved_segments,
    trigger_inbox,
)
from salesmachine_server.store.read.activity import Window
from salesmachine_server.store.read.playbook_matching import MAX_MATCHES, customers, list_subject, matching_ids
from salesmachine_server.store.read.pulses import latest as latest_pulses
from salesmachine_server.store.records.playbooks import StoredPlaybook, enabled_playbooks, find_playbook
from salesmachine_server.store.records.projects import _project, utcnow

log = logging.getLogger("salesmachine.playbooks")

POLL_SECONDS = 1.0
SCAN_SECONDS = 30.0
INBOX_BATCH = 500


class _Raced(Exception):
    """Another runner took these rows first: this transaction rolls back."""


@dataclass
class RunnerCounts:
    consumed: int = 0
    fired: int = 0

    def __str__(self) -> str:
        return f"{self.consumed} inbox rows read, {self.fired} firings"


def run_playbooks(
    engine: Engine, stop: threading.Event, poll_seconds: float = POLL_SECONDS, scan_seconds: float = SCAN_SECONDS
) -> str:
    """The runner's loop, until `stop` is set (the lease lost, or the server stopping)."""
    counts = RunnerCounts()
    last_scan = float("-inf")
    days: dict[int, date] = {}
    while not stop.is_set():
        try:
            busy = consume_inbox(engine, counts)
            busy += follow_history(engine, counts)
            prime(engine, counts)
            turned = _days_turned(engine, days)
            if turned or time.monotonic() - last_scan >= scan_seconds:
                scan(engine, counts)
                last_scan = time.monotonic()
        except DBAPIError as exc:  # the database away: nothing was consumed; again after a pause
            log.warning("playbooks: %s; trying again", str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
            busy = 0
        if not busy:
            stop.wait(poll_seconds)
    return str(counts)


# -- the context of a project ------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    project_id: int
    window: Window

    @property
    def today(self) -> date:
        return self.window.today


def place_of(project_id: int, window: Window) -> _Place:
    return _Place(project_id, window)


def _places(conn: Connection, project_ids: Iterable[int]) -> dict[int, _Place]:
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    places = {}
    for row in conn.execute(select(projects).where(projects.c.id.in_(ids))):
        project = _project(row)
        tz = project.settings.zone
        places[project.id] = _Place(project.id, Window(today=local_today(tz), rule=project.settings.health))
    return places


def _days_turned(engine: Engine, days: dict[int, date]) -> bool:
    """Whether the day turned, in its time zone, for a project with a scanned playbook."""
    with engine.connect() as conn:
        ids = conn.execute(
            select(playbooks.c.project_id)
            .where(playbooks.c.enabled.is_(True), playbooks.c.trigger_type.in_(SCAN_TRIGGERS))
            .distinct()
        ).scalars()
        places = _places(conn, list(ids))
    turned = any(days.get(pid) not in (None, place.today) for pid, place in places.items())
    days.update({pid: place.today for pid, place in places.items()})
    return turned


# -- firing -------------------------------------------------------------------------------


def fire(
    conn: Connection,
    place: _Place,
    stored: StoredPlaybook,
    customer_id: int,
    occurrence: str,
    firing: Firing,
    counts: RunnerCounts,
) -> bool:
    """Enroll one customer (if its conditions hold and it is not enrolled for this occurrence,
    or ever for a playbook run once) and do the actions; in the caller's transaction."""
    playbook = stored.playbook
    if playbook.conditions:
        try:
            met = matching_ids(
                conn, place.project_id, playbook.subject, playbook.conditions, place.window, only=[customer_id]
            )
        except QueryError as exc:  # saved before the language changed: it holds for nobody
            log.warning("playbook %s: its conditions cannot be read (%s): nobody enrolled", stored.id, exc.message)
            return False
        if not met:
            return False
    now = utcnow()
    inserted = Dialect(conn).insert_ignoring(
        playbook_enrollments,
        ("project_id", "playbook_id", "subject", "customer_id", "occurrence", "enrolled_at"),
        [(place.project_id, stored.id, playbook.subject, customer_id, "" if playbook.once else occurrence, now)],
        conflict=("playbook_id", "subject", "customer_id", "occurrence"),
        returning="id",
    )
    if not inserted:
        return False
    card = customers(conn, place.project_id, playbook.subject, [customer_id]).get(customer_id)
    if card is None:  # erased meanwhile
        return False
    done = run_actions(conn, place.project_id, stored.id, playbook, card, firing, place.today, now)
    conn.execute(
        playbook_runs.insert(),
        {
            "project_id": place.project_id,
            "playbook_id": stored.id,
            "enrollment_id": inserted[0][0],
            "ran_at": now,
            "fired_by": {"type": firing.kind, "occurrence": occurrence, **firing.detail},
            "done": done,
        },
    )
    counts.fired += 1
    return True


# -- 1. the inbox -------------------------------------------------------------------------


def consume_inbox(engine: Engine, counts: RunnerCounts) -> int:
    """Read, fire for and delete one batch of the inbox, in one transaction; rows read."""
    try:
        with engine.begin() as conn:
            rows = conn.execute(select(trigger_inbox).order_by(trigger_inbox.c.id).limit(INBOX_BATCH)).all()
            if not rows:
                return 0
            ids = [row.id for row in rows]
            if conn.execute(delete(trigger_inbox).where(trigger_inbox.c.id.in_(ids))).rowcount != len(ids):
                raise _Raced
            places = _places(conn, {row.project_id for row in rows})
            listening: dict[int, list[StoredPlaybook]] = {
                pid: [s for s in enabled_playbooks(conn, pid) if s.playbook.trigger.type in INBOX_TRIGGERS]
                for pid in places
            }
            for row in rows:
                place = places.get(row.project_id)
                if place is not None:
                    _fire_inbox_row(conn, place, listening[row.project_id], row, counts)
    except _Raced:
        log.info("another runner consumed these inbox rows first")
        return 0
    counts.consumed += len(rows)
    return len(rows)


def _fire_inbox_row(
    conn: Connection, place: _Place, listening: list[StoredPlaybook], row: Any, counts: RunnerCounts
) -> None:
    params = dict(row.params or {})
    for stored in listening:
        trigger = stored.playbook.trigger
        subject = stored.playbook.subject
        customer_id = row.account_id if subject == "account" else row.contact_id
        if customer_id is None:  # an account playbook, and the event has no account (or the move is a contact's)
            continue
        if row.kind == "event" and trigger.type == "event":
            if row.name != trigger.event or not trigger.matches_params(params):
                continue
            contact_uid = conn.execute(select(contacts.c.contact_uid).where(contacts.c.id == row.contact_id)).scalar()
            event = {"name": row.name, "params": params, "occurred_at": _iso(row.occurred_at)}
            firing = Firing("event", {"event": row.name}, event=event, contact_uid=contact_uid)
        elif row.kind == "mrr" and trigger.type == "mrr":
            before, after = params.get("before"), params.get("after")
            if not trigger.matches_move(before, after):
                continue
            firing = Firing("mrr", {"before": before, "after": after, "effective_at": _iso(row.occurred_at)})
        else:
            continue
        fire(conn, place, stored, customer_id, f"inbox:{row.id}", firing, counts)


# -- 2. the health history ---------------------------------------------------------------------

HISTORY_SOURCE = "health_history"
HISTORY_WRITTEN = "health_history.written_at"  # microseconds since the epoch
HISTORY_BATCH = 500
LOOKBACK = 1000
_EPOCH = datetime(1970, 1, 1)


def _micros(moment: datetime | None) -> int:
    return 0 if moment is None else (moment - _EPOCH) // timedelta(microseconds=1)


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def follow_history(engine: Engine, counts: RunnerCounts) -> int:
    """Fire for one batch of health_history rows past the position, and move the position past
    them, in one transaction; rows read. Only `live` rows fire: a rebuild after a rule change
    rewrites the past, which nobody should be alerted about now. The first look starts at the
    end: a runner new to a database does not fire for history written before it.

    The position is the highest id read and the latest `written_at` read. On SQLite a table
    without AUTOINCREMENT gives the id of its newest row, deleted, to the next one (the history
    replaces a state recomputed for today), so the last LOOKBACK ids are read again for rows
    written since: a row's occurrence is its id and its written_at, so none fires twice."""
    try:
        with engine.begin() as conn:
            positions = dict(
                conn.execute(
                    select(playbook_positions.c.source, playbook_positions.c.position).where(
                        playbook_positions.c.source.in_((HISTORY_SOURCE, HISTORY_WRITTEN))
                    )
                ).all()
            )
            if HISTORY_SOURCE not in positions or HISTORY_WRITTEN not in positions:
                h = health_history.c
                end, latest = conn.execute(select(func.coalesce(func.max(h.id), 0), func.max(h.written_at))).one()
                Dialect(conn).insert_ignoring(
                    playbook_positions,
                    ("source", "position"),
                    [(HISTORY_SOURCE, end), (HISTORY_WRITTEN, _micros(latest))],
                    conflict=("source",),
                )
                return 0
            position, written = positions[HISTORY_SOURCE], positions[HISTORY_WRITTEN]
            h = health_history.c
            rows = conn.execute(
                select(health_history)
                .where(h.id > position - LOOKBACK, or_(h.id > position, h.written_at > _time(written)))
                .order_by(h.id)
                .limit(HISTORY_BATCH)
            ).all()
            if not rows:
                return 0
            for source, was, now in (
                (HISTORY_SOURCE, position, max(position, max(row.id for row in rows))),
                (HISTORY_WRITTEN, written, max(written, max(_micros(row.written_at) for row in rows))),
            ):
                moved = conn.execute(
                    update(playbook_positions)
                    .where(playbook_positions.c.source == source, playbook_positions.c.position == was)
                    .values(position=now)
                ).rowcount
                if moved != 1:
                    raise _Raced
            live = [row for row in rows if row.written_by == "live"]
            places = _places(conn, {row.project_id for row in live})
            listening = {
                pid: [s for s in enabled_playbooks(conn, pid) if s.playbook.trigger.type in HISTORY_TRIGGERS]
                for pid in places
            }
            for row in live:
                watching = [s for s in listening[row.project_id] if s.playbook.subject == row.subject]
                if not watching:
                    continue
                before = previous_state(conn, row)
                after = State(row.status, row.stage, row.band)
                for stored in watching:
                    detail = change_detail(stored.playbook.trigger, before, after)
                    if detail is not None:
                        detail = {**detail, "since": row.from_day.isoformat(), "reason": row.reason}
                        firing = Firing(stored.playbook.trigger.type, detail)
                        occurrence = f"history:{row.id}:{row.written_at:%Y%m%dT%H%M%S.%f}"
                        fire(conn, places[row.project_id], stored, row.customer_id, occurrence, firing, counts)
    except _Raced:
        log.info("another runner read these history rows first")
        return 0
    return len(rows)


def previous_state(conn: Connection, row: Any) -> State | None:
    """The state the customer was in before `row`'s (None: it is its first)."""
    h = health_history.c
    before = conn.execute(
        select(h.status, h.stage, h.band)
        .where(
            h.project_id == row.project_id,
            h.subject == row.subject,
            h.customer_id == row.customer_id,
            h.from_day < row.from_day,
        )
        .order_by(h.from_day.desc(), h.id.desc())
        .limit(1)
    ).first()
    return None if before is None else State(before.status, before.stage, before.band)


# -- 3. enabling ---------------------------------------------------------------------------


def prime(engine: Engine, counts: RunnerCounts) -> None:
    """Playbooks just enabled: a health, status or stage trigger enrolls who is in the state it
    enters now (what the preview listed); inbox triggers have nothing to enroll until something
    happens; scanned triggers are primed by their first look (scan)."""
    with engine.connect() as conn:  # a look first: nothing is written while nothing waits
        waiting = conn.execute(
            select(playbooks.c.id, playbooks.c.project_id, playbooks.c.trigger_type).where(
                playbooks.c.enabled.is_(True),
                playbooks.c.primed.is_(False),
                playbooks.c.trigger_type.in_(INBOX_TRIGGERS + HISTORY_TRIGGERS),
            )
        ).all()
    if any(kind in INBOX_TRIGGERS for _, _, kind in waiting):
        with engine.begin() as conn:
            conn.execute(
                update(playbooks)
                .where(
                    playbooks.c.enabled.is_(True),
                    playbooks.c.primed.is_(False),
                    playbooks.c.trigger_type.in_(INBOX_TRIGGERS),
                )
                .values(primed=True)
            )
    for playbook_id, project_id, kind in waiting:
        if kind in INBOX_TRIGGERS:
            continue
        with engine.begin() as conn:
            claimed = conn.execute(
                update(playbooks)
                .where(playbooks.c.id == playbook_id, playbooks.c.primed.is_(False), playbooks.c.enabled.is_(True))
                .values(primed=True)
            ).rowcount
            if not claimed:  # another runner primed it
                continue
            stored = find_playbook(conn, project_id, playbook_id)
            place = _places(conn, [project_id]).get(project_id)
            if stored is None or place is None:
                continue
            trigger = stored.playbook.trigger
            if trigger.change == "left" or trigger.to == "any":
                continue  # a change, not a state: nothing to enroll until one happens
            occurrence = f"enabled:{utcnow():%Y%m%dT%H%M%S}"
            for customer_id, reason in state_matches(conn, place, stored).items():
                firing = Firing(trigger.type, {"on": "enabled", "reason": reason})
                fire(conn, place, stored, customer_id, occurrence, firing, counts)


# -- 4. scanned triggers --------------------------------------------------------------------


def scan(engine: Engine, counts: RunnerCounts) -> None:
    """Look at every enabled scanned playbook: who entered (or left) its trigger's state."""
    with engine.connect() as conn:
        scanned = [s for s in enabled_playbooks(conn) if s.playbook.trigger.type in SCAN_TRIGGERS]
    for stored in scanned:
        try:
            with engine.begin() as conn:
                _scan_one(conn, stored, counts)
        except Exception:  # one playbook's fault must not stop the others
            log.exception("playbook %s: looking at its trigger failed", stored.id)


def _scan_one(conn: Connection, stored: StoredPlaybook, counts: RunnerCounts) -> None:
    # Locked first: a second runner's look at the same playbook waits, then sees what this
    # one stored (PostgreSQL); SQLite's writer lock serialises already.
    row = conn.execute(
        select(playbooks.c.primed, playbooks.c.enabled).where(playbooks.c.id == stored.id).with_for_update()
    ).first()
    if row is None or not row.enabled:
        return
    place = _places(conn, [stored.project_id])[stored.project_id]
    playbook = stored.playbook
    current = state_matches(conn, place, stored)
    before = {
        r.customer_id: r.key
        for r in conn.execute(
            select(playbook_matches.c.customer_id, playbook_matches.c.key).where(
                playbook_matches.c.playbook_id == stored.id
            )
        )
    }
    if playbook.trigger.change == "left" and playbook.trigger.type == "segment":
        fired = {cid: key for cid, key in before.items() if cid not in current} if row.primed else {}
    else:
        fired = {cid: key for cid, key in current.items() if before.get(cid) != key}
    gone = [cid for cid in before if cid not in current]
    changed = {cid: key for cid, key in current.items() if before.get(cid) != key}
    if gone:
        conn.execute(
            delete(playbook_matches).where(
                playbook_matches.c.playbook_id == stored.id, playbook_matches.c.customer_id.in_(gone)
            )
        )
    if changed:
        conn.execute(
            delete(playbook_matches).where(
                playbook_matches.c.playbook_id == stored.id, playbook_matches.c.customer_id.in_(list(changed))
            )
        )
        conn.execute(
            playbook_matches.insert(),
            [
                {"playbook_id": stored.id, "subject": playbook.subject, "customer_id": cid, "key": key}
                for cid, key in changed.items()
            ],
        )
    # Each entry (or departure) is an occurrence of its own: a customer who leaves a segment and
    # comes back is enrolled again by an every_time playbook. Two runners cannot both see it:
    # the playbook's row is locked above, and the second finds the matches the first stored.
    looked = utcnow()
    for cid, key in fired.items():
        detail = _scan_detail(stored, key)
        occurrence = f"scan:{key}:{looked:%Y%m%dT%H%M%S.%f}"
        fire(conn, place, stored, cid, occurrence, Firing(playbook.trigger.type, detail), counts)
    if not row.primed:
        conn.execute(update(playbooks).where(playbooks.c.id == stored.id).values(primed=True))


def state_matches(conn: Connection, place: Any, stored: StoredPlaybook) -> dict[int, str]:
    """Who matches a scanned trigger's state now: customer id -> what matched ("" or a date)."""
    trigger = stored.playbook.trigger
    subject = stored.playbook.subject
    if trigger.type == "segment":
        query = segment_filters(conn, stored.project_id, subject, trigger.segment or "")
        if query is None:
            return {}
        return dict.fromkeys(matching_ids(conn, stored.project_id, subject, query, place.window), "")
    if trigger.type == "renewal":
        assert trigger.within_days is not None
        today = place.today
        until = date.fromordinal(today.toordinal() + trigger.within_days)
        query = join_terms(
            [f"params.{trigger.field}>={today.isoformat()}", f"params.{trigger.field}<={until.isoformat()}T99"]
        )
        ids = matching_ids(conn, stored.project_id, subject, query, place.window)
        found = {}
        for cid, card in customers(conn, stored.project_id, subject, ids).items():
            day = renewal_day(card.params, trigger.field)
            if day is not None and today <= day <= until:
                found[cid] = day.isoformat()
        return found
    if trigger.type in HISTORY_TRIGGERS:
        return in_state_now(conn, stored)
    return pulse_stale_matches(conn, stored)


def in_state_now(conn: Connection, stored: StoredPlaybook) -> dict[int, str]:
    """Customers whose state in force (health_history) is the one a health, status or stage
    trigger enters, with the state's reason; nobody for a trigger on leaving or on any change
    (a change, not a state)."""
    trigger = stored.playbook.trigger
    h = health_history.c
    if trigger.type == "health":
        if trigger.to == "any":
            return {}
        condition = h.band == trigger.to
    elif trigger.change == "left":
        return {}
    else:
        condition = h.status == trigger.status if trigger.type == "status" else h.stage == trigger.stage
    rows = conn.execute(
        select(h.customer_id, h.reason)
        .where(
            h.project_id == stored.project_id,
            h.subject == stored.playbook.subject,
            h.to_day.is_(None),
            condition,
        )
        .order_by(h.customer_id)
        .limit(MAX_MATCHES)
    )
    return {customer_id: reason[:200] for customer_id, reason in rows}  # why, for the preview


def pulse_stale_matches(conn: Connection, stored: StoredPlaybook) -> dict[int, str]:
    """Accounts whose latest Pulse is stale (the health model's pulse_stale_after_days); what
    matched is that Pulse's time, so a new Pulse going stale in its turn fires again."""
    if stored.playbook.subject != "account":
        return {}
    rated = conn.execute(
        select(pulses.c.account_id).where(pulses.c.project_id == stored.project_id).distinct()
    ).scalars()
    found = latest_pulses(conn, stored.project_id, list(rated))
    return {aid: pulse.rated_at.isoformat(timespec="seconds") for aid, pulse in found.items() if pulse.stale}


def segment_filters(conn: Connection, project_id: int, subject: str, name: str) -> str | None:
    """The filters (and search) of a saved segment of the playbook's subject, by name."""
    query = conn.execute(
        select(saved_segments.c.query).where(
            saved_segments.c.project_id == project_id,
            saved_segments.c.kind == list_subject(subject).value,
            saved_segments.c.name == name,
        )
    ).scalar()
    if query is None:
        return None
    kept = []
    for text in split_terms(query):
        term = read_term(text)
        if term is not None and term.field in CONTROL and term.field != "q":
            continue
        kept.append(text)
    return join_terms(kept)


def _scan_detail(stored: StoredPlaybook, key: str) -> dict[str, Any]:
    trigger = stored.playbook.trigger
    if trigger.type == "segment":
        return {"segment": trigger.segment, "change": trigger.change}
    if trigger.type == "renewal":
        return {"renewal_date": key, "within_days": trigger.within_days}
    return {"pulse_rated_at": key}


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds") + "Z"
