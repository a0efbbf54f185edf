"""The read side's queries: profiles, lists with filters and keyset pages, timelines.

Everything derived (active days, health) is computed here from `contact_days`, which the
write path keeps exact; a list or a count that filters on health reads it from the health
marks the write path keeps with them (store/write/health_marks.py), without counting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, distinct, func, literal, or_, select

from salesmachine_server.enrich.domains import account_domain, domain_from_params
from salesmachine_server.domain.list_query import SORT_FIELDS, FieldType, ListQuery, Subject, encode_cursor
from salesmachine_server.domain.health import HealthRule, window_start
from salesmachine_server.store.write import health_marks
from salesmachine_server.store.read import filters
from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.read.json_params import param_text
from salesmachine_server.store.db.schema import (
    accounts,
    contact_days,
    contact_uids,
    contacts,
    events,
    memberships,
    mrr_changes,
)

# What NULL sorts as, so that keyset pagination can compare every row.
_SENTINELS = {"datetime": datetime(1970, 1, 1), "number": -1.0, "text": ""}
CONTACT_SORTS = SORT_FIELDS[Subject.CONTACTS]
ACCOUNT_SORTS = SORT_FIELDS[Subject.ACCOUNTS]


@dataclass(frozen=True)
class Window:
    """The calendar windows that active days are counted over, for one request."""

    today: date
    rule: HealthRule

    def since(self, days: int) -> date:
        return window_start(self.today, days)


# -- activity ------------------------------------------------------------------------------


def contact_activity(project_id: int, since: date, only: list[int] | None = None):  # type: ignore[no-untyped-def]
    """(contact_id, days): active days of each contact since a day (of the `only` ids, if given)."""
    condition = [contact_days.c.contact_id.in_(only)] if only is not None else []
    return (
        select(contact_days.c.contact_id, func.count().label("days"))
        .where(contact_days.c.project_id == project_id, contact_days.c.day >= since, *condition)
        .group_by(contact_days.c.contact_id)
        .subquery()
    )


def account_activity(project_id: int, since: date, only: list[int] | None = None):  # type: ignore[no-untyped-def]
    """(account_id, days): days any contact of each account was active since a day (of the
    `only` account ids, if given)."""
    condition = [memberships.c.account_id.in_(only)] if only is not None else []
    return (
        select(memberships.c.account_id, func.count(distinct(contact_days.c.day)).label("days"))
        .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
        .where(memberships.c.project_id == project_id, contact_days.c.day >= since, *condition)
        .group_by(memberships.c.account_id)
        .subquery()
    )


def contact_active_days(conn: Connection, contact_id: int, since: date) -> int:
    return conn.execute(
        select(func.count()).where(contact_days.c.contact_id == contact_id, contact_days.c.day >= since)
    ).scalar_one()


def contact_active_days_since(conn: Connection, contact_id: int, starts: list[date]) -> list[int]:
    """A contact's active days since each of `starts`, in one statement (a profile asks for three)."""
    counts = [func.count(case((contact_days.c.day >= start, 1))) for start in starts]
    row = conn.execute(
        select(*counts).where(contact_days.c.contact_id == contact_id, contact_days.c.day >= min(starts))
    ).one()
    return list(row)


def account_active_days(conn: Connection, account_id: int, since: date) -> int:
    return conn.execute(
        select(func.count(distinct(contact_days.c.day)))
        .select_from(memberships.join(contact_days, contact_days.c.contact_id == memberships.c.contact_id))
        .where(memberships.c.account_id == account_id, contact_days.c.day >= since)
    ).scalar_one()


def usage(conn: Connection, contact_ids: Select[Any] | list[int], since: date) -> dict[date, int]:
    """Events per day since a day, over some contacts (the usage map)."""
    rows = conn.execute(
        select(contact_days.c.day, func.sum(contact_days.c.events))
        .where(contact_days.c.contact_id.in_(contact_ids), contact_days.c.day >= since)
        .group_by(contact_days.c.day)
    )
    return {day: int(total) for day, total in rows}


# -- profiles -----------------------------------------------------------------------------


def contact_id_for(conn: Connection, project_id: int, uid: str) -> int | None:
    return conn.execute(
        select(contact_uids.c.contact_id).where(contact_uids.c.project_id == project_id, contact_uids.c.uid == uid)
    ).scalar()


def account_row(conn: Connection, project_id: int, uid: str) -> Any:
    return conn.execute(
        select(accounts).where(accounts.c.project_id == project_id, accounts.c.account_uid == uid)
    ).first()


@dataclass(frozen=True)
class ActiveDays:
    """A contact's or an account's active days over the last 14 and 30 days and over the health
    rule's window (health is classified from that last one)."""

    last_14: int
    last_30: int
    in_rule_window: int


@dataclass(frozen=True)
class Whereabouts:
    """Its latest located event (a row of latest_location, or None), its latest event with a
    readable user agent (latest_agent, or None) and its located pageviews per country."""

    location: Any
    agent: Any
    visits_by_country: list[Any]


@dataclass(frozen=True)
class ContactProfile:
    """What a contact's profile is read from; api/shapes.py makes the answer of it."""

    row: Any  # the contacts row
    uids: list[str]  # every uid naming it, sorted
    accounts: list[Any]  # (account_uid, params) of the accounts it belongs to, by account_uid
    mrr_history: list[Any]  # (mrr, effective_at), oldest first
    active_days: ActiveDays
    whereabouts: Whereabouts


@dataclass(frozen=True)
class AccountProfile:
    """What an account's profile is read from; api/shapes.py makes the answer of it."""

    row: Any  # the accounts row
    domain: str | None
    contacts: list[Any]  # (contact_uid, params, last_seen_at), most recently seen first
    contacts_count: int
    active_contacts_14: int
    mrr_history: list[Any]  # (mrr, effective_at), oldest first
    active_days: ActiveDays
    whereabouts: Whereabouts


def contact_profile(conn: Connection, project_id: int, uid: str, window: Window) -> ContactProfile | None:
    contact_id = contact_id_for(conn, project_id, uid)
    if contact_id is None:
        return None
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
    uids = sorted(u for (u,) in conn.execute(select(contact_uids.c.uid).where(contact_uids.c.contact_id == contact_id)))
    member_of = conn.execute(
        select(accounts.c.account_uid, accounts.c.params)
        .select_from(memberships.join(accounts, accounts.c.id == memberships.c.account_id))
        .where(memberships.c.contact_id == contact_id)
        .order_by(accounts.c.account_uid)
    ).all()
    days_14, days_30, days_rule = contact_active_days_since(
        conn, contact_id, [window.since(14), window.since(30), window.since(window.rule.window_days)])
    return ContactProfile(
        row=row,
        uids=uids,
        accounts=list(member_of),
        mrr_history=mrr_history(conn, mrr_changes.c.contact_id == contact_id),
        active_days=ActiveDays(days_14, days_30, days_rule),
        whereabouts=whereabouts(conn, events.c.contact_id == contact_id),
    )


def account_profile(
    conn: Connection, project_id: int, uid: str, window: Window, contacts_limit: int = 100
) -> AccountProfile | None:
    row = account_row(conn, project_id, uid)
    if row is None:
        return None
    members = select(memberships.c.contact_id).where(memberships.c.account_id == row.id)
    member_rows = conn.execute(
        select(contacts.c.contact_uid, contacts.c.params, contacts.c.last_seen_at)
        .where(contacts.c.id.in_(members))
        .order_by(contacts.c.last_seen_at.desc().nulls_last(), contacts.c.id)
        .limit(contacts_limit)
    ).all()
    contacts_count = conn.execute(select(func.count()).select_from(members.subquery())).scalar_one()
    active_contacts = conn.execute(
        select(func.count(distinct(contact_days.c.contact_id))).where(
            contact_days.c.contact_id.in_(members), contact_days.c.day >= window.since(14)
        )
    ).scalar_one()
    days_rule = account_active_days(conn, row.id, window.since(window.rule.window_days))
    return AccountProfile(
        row=row,
        domain=account_domains(conn, [(row.id, row.params)])[row.id],
        contacts=list(member_rows),
        contacts_count=contacts_count,
        active_contacts_14=active_contacts,
        mrr_history=mrr_history(conn, mrr_changes.c.account_id == row.id),
        active_days=ActiveDays(account_active_days(conn, row.id, window.since(14)),
                               account_active_days(conn, row.id, window.since(30)), days_rule),
        # An account's agent is not read: its contacts use many.
        whereabouts=whereabouts(conn, events.c.account_id == row.id, agent=False),
    )


# -- enrichment (enrich/): derived from the events' columns when read, so always exact ---------


def whereabouts(conn: Connection, condition: ColumnElement[bool], agent: bool = True) -> Whereabouts:
    """The latest known location of a contact's or an account's events, its latest user agent
    (when `agent`), and its visits (pageviews) counted by country, most first."""
    return Whereabouts(latest_location(conn, condition), latest_agent(conn, condition) if agent else None,
                       visits_by_country(conn, condition))


def latest_location(conn: Connection, condition: ColumnElement[bool]) -> Any:
    """(country, region, city, latitude, longitude, occurred_at) of the latest located event, or None."""
    return conn.execute(
        select(events.c.country, events.c.region, events.c.city, events.c.latitude, events.c.longitude,
               events.c.occurred_at)
        .where(condition, events.c.country.is_not(None))
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(1)
    ).first()


def latest_agent(conn: Connection, condition: ColumnElement[bool]) -> Any:
    """Browser, operating system and device (and occurred_at) of the latest event that had a user
    agent, or None."""
    return conn.execute(
        select(events.c.browser, events.c.browser_version, events.c.os, events.c.os_version, events.c.device,
               events.c.occurred_at)
        .where(condition, or_(events.c.browser.is_not(None), events.c.os.is_not(None), events.c.device.is_not(None)))
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(1)
    ).first()


def visits_by_country(conn: Connection, condition: ColumnElement[bool]) -> list[Any]:
    """(country, visits) of the located pageviews, most first."""
    count = func.count().label("visits")
    return list(conn.execute(
        select(events.c.country, count)
        .where(condition, events.c.kind == "pageview", events.c.country.is_not(None))
        .group_by(events.c.country)
        .order_by(count.desc(), events.c.country)
    ))


def account_domains(conn: Connection, rows: list[tuple[int, dict[str, Any]]]) -> dict[int, str | None]:
    """Each account's domain (enrich/domains.py): from its params, else from the e-mail addresses
    of its contacts, read only for the accounts whose params name none."""
    found = {account_id: domain_from_params(params) for account_id, params in rows}
    missing = [account_id for account_id, domain in found.items() if domain is None]
    emails: dict[int, list[str]] = {account_id: [] for account_id in missing}
    dialect = conn.dialect.name
    email = param_text(dialect, contacts.c.params, "email")
    for part in chunks(missing):
        for account_id, address in conn.execute(
            select(memberships.c.account_id, email)
            .select_from(memberships.join(contacts, contacts.c.id == memberships.c.contact_id))
            .where(memberships.c.account_id.in_(part), email.is_not(None))
        ):
            emails[account_id].append(address)
    for account_id in missing:
        found[account_id] = account_domain({}, emails[account_id])
    return found


def mrr_history(conn: Connection, condition: ColumnElement[bool]) -> list[Any]:
    """(mrr, effective_at) rows, oldest first (mrr None: removed)."""
    return list(conn.execute(
        select(mrr_changes.c.mrr, mrr_changes.c.effective_at)
        .where(condition)
        .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
    ))


# -- lists --------------------------------------------------------------------------------


def activity_source(subject: Subject, project_id: int, window: Window, names: Iterable[str],
                    only: list[int] | None = None, marks: bool = False) -> tuple[Any, dict[str, Any]]:
    """The table of a list of `subject` outer-joined to an activity
    subquery for each named field (of filters.ACTIVITY_FIELDS, each over its own window), and
    those fields' active days, 0 when none: {name: days}, for filters.list_fields. With `only`,
    the subqueries count the activity of those row ids alone. With `marks` (the project's
    health marks are usable for its rule: health_marks.usable), health is read from the rows'
    marks, joining nothing: {"health": Marks}."""
    table = filters.table_of(subject)
    activity = contact_activity if subject == Subject.CONTACTS else account_activity
    owner = "contact_id" if subject == Subject.CONTACTS else "account_id"
    source: Any = table
    days: dict[str, Any] = {}
    for name in names:
        if marks and name == "health":
            days[name] = health_marks.Marks(table, window.since(window.rule.window_days))
            continue
        sub = activity(project_id, window.since(filters.window_days(name, window.rule)), only)
        source = source.outerjoin(sub, sub.c[owner] == table.c.id)
        days[name] = func.coalesce(sub.c.days, 0)
    return source, days


def list_contacts(
    conn: Connection, project_id: int, query: ListQuery, window: Window
) -> tuple[list[Any], str | None]:
    def columns(fields: dict[str, Any]) -> list[Any]:
        return [contacts.c.id, contacts.c.contact_uid, contacts.c.params, contacts.c.first_seen_at,
                contacts.c.last_seen_at, *_activity_columns(fields)]

    return _list(conn, Subject.CONTACTS, project_id, query, window, columns, CONTACT_SORTS)


def list_accounts(
    conn: Connection, project_id: int, query: ListQuery, window: Window
) -> tuple[list[Any], str | None]:
    def columns(fields: dict[str, Any]) -> list[Any]:
        contacts_count = (
            select(func.count()).where(memberships.c.account_id == accounts.c.id).scalar_subquery()
            .label("contacts_count")
        )
        return [accounts.c.id, accounts.c.account_uid, accounts.c.params, accounts.c.first_seen_at,
                accounts.c.last_seen_at, *_activity_columns(fields), contacts_count]

    return _list(conn, Subject.ACCOUNTS, project_id, query, window, columns, ACCOUNT_SORTS)


def _activity_columns(fields: dict[str, Any]) -> list[Any]:
    return [fields[name].label(name) for name in filters.ACTIVITY_FIELDS]


def _list(conn: Connection, subject: Subject, project_id: int, query: ListQuery, window: Window,
          columns: Any, sorts: dict[str, FieldType]) -> tuple[list[Any], str | None]:
    """One page of a list, in two steps when its filters and sort name no activity field.

    Active days come from aggregating `contact_days`; over a whole project (100,000 contacts)
    that costs seconds. A page needs them for its 50 rows only, unless they choose the rows (a
    filter or the sort names active days or health): so the page's ids are found first with
    just the activity that chooses them, and the page's rows are then read with all of it,
    counted for those ids alone.
    """
    dialect = conn.dialect.name
    table = filters.table_of(subject)
    uid_field = {"contacts": "contact_uid", "accounts": "account_uid"}[subject]
    chooses = {one.field for one in query.filters} | {query.sort_field}
    choosing = [name for name in filters.ACTIVITY_FIELDS if name in chooses]

    marks = "health" in choosing and health_marks.usable(conn, project_id, window.rule)
    source, days = activity_source(subject, project_id, window, choosing, marks=marks)
    fields = {**filters.list_fields(dialect, table, days, window.rule), uid_field: table.c[uid_field]}
    chosen = (
        select(table.c.id).select_from(source)
        .where(table.c.project_id == project_id, *filters.list_conditions(dialect, subject, query, fields, project_id))
    )
    page, cursor = _page(conn, chosen, table.c.id, fields, query, sorts)
    ids = [row.id for row in page]
    if not ids:
        return [], cursor

    source, days = activity_source(subject, project_id, window, filters.ACTIVITY_FIELDS, only=ids)
    fields = filters.list_fields(dialect, table, days, window.rule)
    rows = conn.execute(select(*columns(fields)).select_from(source).where(table.c.id.in_(ids))).all()
    by_id = {row.id: row for row in rows}
    return [by_id[row_id] for row_id in ids], cursor


def _page(
    conn: Connection,
    statement: Select[Any],
    id_column: ColumnElement[int],
    fields: dict[str, ColumnElement[Any]],
    query: ListQuery,
    sorts: dict[str, FieldType],
) -> tuple[list[Any], str | None]:
    """One keyset page of a filtered list, sorted by query's sort field then id."""
    sort_type = sorts[query.sort_field]
    sort_key = func.coalesce(fields[query.sort_field], literal(_SENTINELS[sort_type]))
    if query.after is not None:
        value, last_id = query.after
        if query.descending:
            statement = statement.where(or_(sort_key < value, and_(sort_key == value, id_column < last_id)))
        else:
            statement = statement.where(or_(sort_key > value, and_(sort_key == value, id_column > last_id)))
    order = (sort_key.desc(), id_column.desc()) if query.descending else (sort_key.asc(), id_column.asc())
    statement = statement.add_columns(sort_key.label("sort_key")).order_by(*order).limit(query.limit + 1)
    rows = list(conn.execute(statement).all())
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_cursor(rows[-1].sort_key, rows[-1].id)


# -- timelines ----------------------------------------------------------------------------

# The enrichment columns of an event row (event_insert.ENRICHMENT_COLUMNS, less the version).
ENRICHMENT = (events.c.ip_scope, events.c.country, events.c.region, events.c.city, events.c.latitude,
              events.c.longitude, events.c.browser, events.c.browser_version, events.c.os, events.c.os_version,
              events.c.device)


@dataclass(frozen=True)
class EventQuery:
    names: tuple[str, ...] = ()
    kind: str | None = None  # "event" or "pageview"
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    after: tuple[datetime, int] | None = None


def events_page(
    conn: Connection, project_id: int, query: EventQuery, *, contact_id: int | None = None,
    account_id: int | None = None,
) -> tuple[list[Any], str | None]:
    """Events newest first, keyset-paged on (occurred_at, id)."""
    statement = (
        select(events.c.id, events.c.name, events.c.kind, events.c.params, events.c.occurred_at,
               events.c.received_at, events.c.message_id, contacts.c.contact_uid, accounts.c.account_uid,
               *ENRICHMENT)
        .select_from(
            events.join(contacts, contacts.c.id == events.c.contact_id)
            .outerjoin(accounts, accounts.c.id == events.c.account_id)
        )
        .where(events.c.project_id == project_id)
    )
    if contact_id is not None:
        statement = statement.where(events.c.contact_id == contact_id)
    if account_id is not None:
        statement = statement.where(events.c.account_id == account_id)
    if query.names:
        statement = statement.where(events.c.name.in_(query.names))
    if query.kind:
        statement = statement.where(events.c.kind == query.kind)
    if query.since is not None:
        statement = statement.where(events.c.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(events.c.occurred_at < query.until)
    if query.after is not None:
        at, last_id = query.after
        statement = statement.where(
            or_(events.c.occurred_at < at, and_(events.c.occurred_at == at, events.c.id < last_id))
        )
    rows = list(conn.execute(
        statement.order_by(events.c.occurred_at.desc(), events.c.id.desc()).limit(query.limit + 1)
    ).all())
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    return rows, encode_cursor(rows[-1].occurred_at, rows[-1].id)
