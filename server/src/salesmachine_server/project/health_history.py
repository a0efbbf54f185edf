"""The health history, kept current by the server itself (docs/health.md, "The history").

`bring_up_to_date` is the body of the `health` periodic task (serving/periodic.py: one server
process at a time, under a lease). For each project it does the first of these that applies:

1. **rebuild**: the history was built with another model or time zone (or never): every
   customer's states over the last two years are computed again and replace what was stored,
   `written_by = 'rebuild'` (a stored row identical to a computed one, reason included, is
   kept as it was: store/write/health_history.py `rebuild_rows`);
2. **turn the day**: the last day evaluated for everyone is before today: every customer's
   states from that day on (their windows moved, a Pulse went stale, a stage's relative date
   passed) are computed and only the changes written;

then, always, **the customers the write path marked** (`health_dirty_from`: store/write/
activity.py sets it in the statement it already runs, so marking costs no statement of its
own) are computed again from the first day their data changed, `written_by = 'live'`.

Work goes group by group of customers (an id range, `GROUP` ids), each group one transaction:
one statement per kind of input for the group, one pass over each customer's sorted rows
(domain/health_timeline.py), so a day turned for 100,000 accounts is 50 groups, never a
customer at a time, never a day at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Select, Table, and_, bindparam, delete, func, literal_column, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.elements import Label

from salesmachine_server.domain.health_model import SUBJECTS, HealthModel
from salesmachine_server.domain.health_timeline import Interval, Judging, Needs, intervals
from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.domain.timezones import local_today
from salesmachine_server.ingest.group_commit import sqlstate
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.db.schema import accounts, contacts, health_cursors, health_models, projects
from salesmachine_server.store.read.health_inputs import Scope, id_ranges, load
from salesmachine_server.store.read.health_models import ModelInForce, in_force, model_key
from salesmachine_server.store.read.health_states import CurrentHealth, current
from salesmachine_server.store.read.pulses import Pulse, latest
from salesmachine_server.store.write.health_history import rebuild_rows, replace_from

log = logging.getLogger("salesmachine.health")

HISTORY_DAYS = 731  # two years, and the day of today
GROUP = 2000  # customers per group (and per transaction)
# Marked customers per group. On SQLite a group is evaluated inside its transaction, holding the
# database's one write lock, which the projector's next group waits for: kept short. On
# PostgreSQL a group is evaluated without a lock and claimed in a few statements
# (`_evaluate_then_claim`): under a steady 30,000 items/s over 10,000 contacts
# (bench/write_path.py sustained) a run took all 11,000 marked customers in 20-28 s, half of
# them keeping their mark (written meanwhile), and no group of the projector took over 0.65 s.
MARKED_GROUP = 100
MARKED_ROUNDS = 1000  # groups of marked customers per subject per run (the rest at the next)

__all__ = ["HISTORY_DAYS", "Interval", "bring_up_to_date", "replay"]


def _zone(conn: Connection, project_id: int) -> ZoneInfo:
    settings = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar_one()
    return from_stored(settings).zone


def evaluate(
    conn: Connection,
    project_id: int,
    tz: ZoneInfo,
    model: HealthModel,
    subject: str,
    scope: Scope,
    start: date,
    end: date,
) -> dict[int, list[Interval]]:
    """The states over [start, end] of the customers of `scope` (each from its first day)."""
    part = model.of(subject)
    needs = Needs.of(part)
    rows = load(conn, project_id, tz, subject, part, needs, scope, start, end)
    stale = model.pulse_stale_after_days
    judging = Judging(part, needs, stale)  # shared: a verdict found for one customer serves the others
    found = {cid: intervals(part, needs, stale, r, start, end, judging) for cid, r in rows.items()}
    return {cid: states for cid, states in found.items() if states}


def replay(
    conn: Connection, project_id: int, model: HealthModel, subject: str, from_day: date, to_day: date
) -> dict[int, list[Interval]]:
    """Every customer's states over [from_day, to_day] by `model` (saved or a draft), computed
    and not stored: the backtest's input. Each customer's last interval ends at to_day + 1."""
    tz = _zone(conn, project_id)
    out: dict[int, list[Interval]] = {}
    for scope in id_ranges(conn, project_id, subject, GROUP):
        out.update(evaluate(conn, project_id, tz, model, subject, scope, from_day, to_day))
    return out


def state_today(
    conn: Connection, project_id: int, subject: str, customer_id: int, today: date | None = None
) -> CurrentHealth | None:
    """One customer's state today, evaluated now (a profile reads its own writes: the history
    takes them in at the task's next run); `since` is the first day of that state in the
    history, today when the history does not hold it yet. None for no such customer."""
    tz = _zone(conn, project_id)
    local = today or local_today(tz)
    model = in_force(conn, project_id).model
    found = evaluate(conn, project_id, tz, model, subject, Scope(ids=(customer_id,)), local, local)
    if customer_id not in found:
        return None
    now = found[customer_id][-1]
    stored = current(conn, project_id, subject, [customer_id]).get(customer_id)
    same = stored is not None and (stored.status, stored.stage, stored.band) == (now.status, now.stage, now.band)
    since = stored.since if stored is not None and same else local
    return CurrentHealth(now.status, now.stage, now.band, now.reason, since)


@dataclass(frozen=True)
class ProfileHealth:
    """What a profile shows of a customer's health: status, stage, today's state, its Pulse."""

    status: str
    stage: str | None
    now: CurrentHealth | None
    pulse: Pulse | None


def profile_health(conn: Connection, project_id: int, subject: str, customer_id: int) -> ProfileHealth:
    now = state_today(conn, project_id, subject, customer_id)
    pulse = latest(conn, project_id, [customer_id]).get(customer_id) if subject == "account" else None
    return ProfileHealth(now.status if now else "free", now.stage if now else None, now, pulse)


def _opened(states: dict[int, list[Interval]], today: date) -> dict[int, list[Interval]]:
    """The last state of each customer left open (to_day NULL) when it reaches today."""
    end = today + timedelta(days=1)
    out = {}
    for cid, found in states.items():
        last = found[-1]
        if last.to_day == end:
            found = [*found[:-1], Interval(last.from_day, None, last.status, last.stage, last.band, last.reason)]
        out[cid] = found
    return out


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class _Cursor:
    model_id: int
    model_key: str
    zone: str
    through_day: date


def _save_cursor(conn: Connection, project_id: int, cursor: _Cursor) -> None:
    # One writer of a project's cursor at a time (the task's lease): delete and insert is enough.
    conn.execute(delete(health_cursors).where(health_cursors.c.project_id == project_id))
    conn.execute(
        health_cursors.insert().values(
            project_id=project_id,
            model_id=cursor.model_id,
            model_key=cursor.model_key,
            zone=cursor.zone,
            through_day=cursor.through_day,
        )
    )


def bring_up_to_date(engines: Engines, stop: threading.Event, today: date | None = None) -> str:
    """The periodic task: each project rebuilt, its day turned, and its marked customers
    evaluated, as needed. A project with nothing to do costs nothing: which ones have work is
    three statements for all of them. Returns what it did, for the log."""
    done = {"rebuilt": 0, "turned": 0, "marked": 0}
    for project_id, force, tz, cursor, marked in _projects_with_work(engines.reader, today):
        if stop.is_set():
            break
        local = today or local_today(tz)
        model = force.model
        try:
            if cursor is None or cursor.model_key != force.key or cursor.zone != tz.key:
                if rebuild(engines, project_id, tz, force, local, stop):
                    done["rebuilt"] += 1
            elif cursor.through_day < local and turn_day(engines, project_id, tz, model, cursor, local, stop):
                done["turned"] += 1
            if marked:
                done["marked"] += evaluate_marked(engines.writer, project_id, tz, model, local, stop)
        except DBAPIError:
            raise  # the database, not the project: the task is tried again at the next check
        except Exception:  # a fault with this project's data: logged, and the others go on
            log.exception("health: bringing project %d up to date failed", project_id)
    return ", ".join(f"{n} {what}" for what, n in done.items())


def _projects_with_work(
    engine: Engine, today: date | None
) -> list[tuple[int, ModelInForce, ZoneInfo, _Cursor | None, bool]]:
    """(project, its model, the model's id, its zone, its cursor, whether it has marked
    customers) of the projects with something to do."""
    c = health_cursors.c
    newest = select(func.max(health_models.c.id)).where(health_models.c.project_id == projects.c.id).scalar_subquery()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                projects.c.id,
                projects.c.settings,
                c.model_id,
                c.model_key,
                c.zone,
                c.through_day,
                newest.label("newest"),
            )
            .select_from(projects.outerjoin(health_cursors, c.project_id == projects.c.id))
            .order_by(projects.c.id)
        ).all()
        marked = {
            project_id
            for table in (accounts, contacts)
            for project_id in conn.execute(
                select(table.c.project_id).where(table.c.health_dirty_from.is_not(None)).distinct()
            ).scalars()
        }
        work = []
        for row in rows:
            try:
                found = _work_of(conn, row, marked, today)
            except DBAPIError:
                raise  # the database, not the project's settings: the task is tried again at the next check
            except Exception:  # a project whose stored settings no longer read: the others go on
                log.exception("health: cannot read the settings of project %d; skipped", row.id)
                continue
            if found is not None:
                work.append(found)
    return work


def _work_of(
    conn: Connection, row: Any, marked: set[int], today: date | None
) -> tuple[int, ModelInForce, ZoneInfo, _Cursor | None, bool] | None:
    """The work of one project (a row of projects and its cursor), or None when it has none."""
    tz = from_stored(row.settings).zone
    cursor = None if row.model_id is None else _Cursor(row.model_id, row.model_key, row.zone, row.through_day)
    stale = (
        cursor is None
        or cursor.model_key != model_key(row.newest, row.settings)
        or cursor.zone != tz.key
        or cursor.through_day < (today or local_today(tz))
    )
    if stale or row.id in marked:
        return (row.id, in_force(conn, row.id), tz, cursor, row.id in marked)
    return None


def rebuild(
    engines: Engines,
    project_id: int,
    tz: ZoneInfo,
    force: ModelInForce,
    today: date,
    stop: threading.Event,
) -> bool:
    """Every customer's history over the last two years, computed again with the model in
    force. True when complete (then the cursor says so); a stopped rebuild starts over at the
    next run."""
    start = today - timedelta(days=HISTORY_DAYS - 1)
    # Marks are left for evaluate_marked after it: clearing them here would take the row locks
    # of every marked customer while writers take them too.
    for subject in SUBJECTS:
        with engines.reader.connect() as conn:
            scopes = id_ranges(conn, project_id, subject, GROUP)
        for scope in scopes:
            if stop.is_set():
                return False
            _write_group(engines, project_id, tz, force.model, subject, scope, start, today, "rebuild")
    with engines.writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            # A rebuild can replace most of the table: new statistics now, not whenever
            # autovacuum gets to it (never, where it is off). Without them PostgreSQL read a
            # group's stored rows through the to_day index, every open row of the project for
            # each group: at 1,000,000 contacts, 2 s a statement and a day turned of an hour
            # (bench/results/health-history.md). A sample of the table: 0.25 s at 10,000,000 rows.
            conn.exec_driver_sql("ANALYZE health_history")
        _save_cursor(conn, project_id, _Cursor(force.model_id, force.key, tz.key, today))
    log.info("health: rebuilt the history of project %d (model %s)", project_id, force.key)
    return True


def turn_day(
    engines: Engines,
    project_id: int,
    tz: ZoneInfo,
    model: HealthModel,
    cursor: _Cursor,
    today: date,
    stop: threading.Event,
) -> bool:
    """Everyone's states from the day after the last one evaluated to today; only changes written."""
    start = cursor.through_day + timedelta(days=1)
    for subject in SUBJECTS:
        with engines.reader.connect() as conn:
            scopes = id_ranges(conn, project_id, subject, GROUP)
        for scope in scopes:
            if stop.is_set():
                return False
            _write_group(engines, project_id, tz, model, subject, scope, start, today, "live")
    with engines.writer.begin() as conn:
        _save_cursor(conn, project_id, _Cursor(cursor.model_id, cursor.model_key, cursor.zone, today))
    return True


def _write_group(
    engines: Engines,
    project_id: int,
    tz: ZoneInfo,
    model: HealthModel,
    subject: str,
    scope: Scope,
    start: date,
    today: date,
    written_by: str,
) -> None:
    """One group's states from `start`: computed on a reader (on SQLite, without holding the
    write lock, so ingestion goes on), then written in a short transaction. A customer written
    to in between was marked by the write path and is evaluated again right after."""
    with engines.reader.connect() as conn:
        states = _opened(evaluate(conn, project_id, tz, model, subject, scope, start, today), today)
        ids = list(conn.execute(_ids_in(subject, project_id, scope)).scalars())
    with engines.writer.begin() as conn:
        if written_by == "rebuild":
            rebuild_rows(conn, project_id, subject, states, ids, _now())
        else:
            replace_from(conn, project_id, subject, start, states, ids, written_by, _now())


def evaluate_marked(
    engine: Engine, project_id: int, tz: ZoneInfo, model: HealthModel, today: date, stop: threading.Event
) -> int:
    """The customers the write path marked, each from the first day its data changed, in id
    order, each once a run: one marked again meanwhile waits for the next run."""
    horizon = today - timedelta(days=HISTORY_DAYS - 1)
    group = _evaluate_then_claim if engine.dialect.name == "postgresql" else _claim_then_evaluate
    count = 0
    for subject, table in (("account", accounts), ("contact", contacts)):
        work, after = _Marked(project_id, tz, model, subject, table, horizon, today), 0
        for _ in range(MARKED_ROUNDS):  # the rest, under constant writes, at the next run
            if stop.is_set():
                break
            done = group(engine, work, after)
            if done is None:
                break
            after, evaluated = done
            count += evaluated
    return count


@dataclass(frozen=True)
class _Marked:
    """What one run of `evaluate_marked` works on: a project's customers of one kind."""

    project_id: int
    tz: ZoneInfo
    model: HealthModel
    subject: str
    table: Table
    horizon: date  # the first day of the history
    today: date

    def next_group(self, after: int, *columns: Any) -> Select[Any]:
        """The next marked customers after id `after`: id, mark, and `columns`."""
        table = self.table
        return (
            select(table.c.id, table.c.health_dirty_from, *columns)
            .where(table.c.project_id == self.project_id, table.c.health_dirty_from.is_not(None), table.c.id > after)
            .order_by(table.c.id)
            .limit(MARKED_GROUP)
        )

    def evaluate(self, conn: Connection, marked: Sequence[Any]) -> tuple[date, dict[int, list[Interval]]]:
        """From which day the group is evaluated, and its states from that day."""
        start = max(self.horizon, min(self.today, min(row.health_dirty_from for row in marked)))
        ids = tuple(row.id for row in marked)
        scope = Scope(ids=ids)
        found = evaluate(conn, self.project_id, self.tz, self.model, self.subject, scope, start, self.today)
        return start, _opened(found, self.today)


def _claim_then_evaluate(engine: Engine, work: _Marked, after: int) -> tuple[int, int] | None:
    """SQLite: the marks read and cleared, and the group evaluated and written, in one
    transaction. SQLite has one writer at a time, so no write lands in between."""
    table = work.table
    with engine.begin() as conn:
        marked = conn.execute(work.next_group(after)).all()
        if not marked:
            return None
        conn.execute(
            update(table)
            .where(and_(table.c.id == bindparam("cid"), table.c.health_dirty_from == bindparam("since")))
            .values(health_dirty_from=None),
            [{"cid": row.id, "since": row.health_dirty_from} for row in marked],
        )
        start, states = work.evaluate(conn, marked)
        ids = [row.id for row in marked]
        replace_from(conn, work.project_id, work.subject, start, states, ids, "live", _now())
    return marked[-1].id, len(marked)


# Every write of a row gives it a new xmin (the transaction that wrote it), and the write path
# marks a customer by writing its row: a row whose xmin is the one read was not written since.
_XMIN: Label[str] = literal_column("xmin::text").label("version")
# The claim's wait for a writer's rows ends before PostgreSQL looks for a deadlock
# (deadlock_timeout, 1 s by default), so that when the wait is part of one, the claim gives up
# rather than the projector's transaction being cancelled.
_CLAIM_WAIT = (
    "SELECT set_config('lock_timeout', (SELECT (setting::bigint * 4 / 5)::text FROM pg_settings "
    "WHERE name = 'deadlock_timeout'), true)"
)
_LOCK_NOT_AVAILABLE = "55P03"


def _evaluate_then_claim(engine: Engine, work: _Marked, after: int) -> tuple[int, int] | None:
    """PostgreSQL: the group read and evaluated without a lock, then claimed in a short
    transaction: its rows locked in id order (as writers lock them), its states written, and
    the marks cleared of the rows no writer wrote since they were read (their xmin). A writer
    waits for the claim's few statements, never for an evaluation: holding the rows while
    evaluating made the projector wait behind each group of the task in turn, the next group
    always taken just ahead of the rows the projector had reached (a group of 25,900 items held
    5.9 s under a steady 30,000 items/s, bench/write_path.py sustained). A row written meanwhile
    keeps its mark and is evaluated again at the next run."""
    table = work.table
    with engine.connect() as conn:
        marked = conn.execute(work.next_group(after, _XMIN)).all()
        if not marked:
            return None
        start, states = work.evaluate(conn, marked)
    read = {row.id: row.version for row in marked}
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(_CLAIM_WAIT)
            held: dict[int, str] = dict(
                conn.execute(
                    select(table.c.id, _XMIN).where(table.c.id.in_(list(read))).order_by(table.c.id).with_for_update()
                ).all()
            )
            unchanged = [cid for cid, version in held.items() if read[cid] == version]
            if unchanged:
                conn.execute(update(table).where(table.c.id.in_(unchanged)).values(health_dirty_from=None))
            ours = {cid: found for cid, found in states.items() if cid in held}  # erased meanwhile: not written
            replace_from(conn, work.project_id, work.subject, start, ours, list(held), "live", _now())
    except OperationalError as exc:
        if sqlstate(exc) != _LOCK_NOT_AVAILABLE:
            raise
        log.info("health: %d customers stay marked for the next run (their rows were held)", len(read))
        return marked[-1].id, 0
    return marked[-1].id, len(held)


def _ids_in(subject: str, project_id: int, scope: Scope) -> Select[Any]:
    table = accounts if subject == "account" else contacts
    return select(table.c.id).where(table.c.project_id == project_id, scope.on(table.c.id))
