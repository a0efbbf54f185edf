"""Lists of contacts and accounts: filtered (store/read/filters.py), sorted, in keyset pages,
never counted (store/read/counts.py counts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, and_, func, literal, or_, select

from salesmachine_server.domain.list_query import SORT_FIELDS, FieldType, ListQuery, Subject, encode_cursor
from salesmachine_server.store.db.schema import (
    accounts,
    contacts,
    memberships,
    users,
)
from salesmachine_server.store.read import filters
from salesmachine_server.store.read.activity import Window, activity_source

# What NULL sorts as, so that keyset pagination can compare every row.
_SENTINELS = {"datetime": datetime(1970, 1, 1), "number": -1.0, "text": ""}
CONTACT_SORTS = SORT_FIELDS[Subject.CONTACTS]
ACCOUNT_SORTS = SORT_FIELDS[Subject.ACCOUNTS]


# -- lists --------------------------------------------------------------------------------


def list_contacts(conn: Connection, project_id: int, query: ListQuery, window: Window) -> tuple[list[Any], str | None]:
    def columns(fields: dict[str, Any]) -> list[Any]:
        return [
            contacts.c.id,
            contacts.c.contact_uid,
            contacts.c.params,
            contacts.c.first_seen_at,
            contacts.c.last_seen_at,
            *_activity_columns(fields),
            owner_email(contacts),
        ]

    return _list(conn, Subject.CONTACTS, project_id, query, window, columns, CONTACT_SORTS)


def list_accounts(conn: Connection, project_id: int, query: ListQuery, window: Window) -> tuple[list[Any], str | None]:
    def columns(fields: dict[str, Any]) -> list[Any]:
        contacts_count = (
            select(func.count())
            .where(memberships.c.account_id == accounts.c.id)
            .scalar_subquery()
            .label("contacts_count")
        )
        return [
            accounts.c.id,
            accounts.c.account_uid,
            accounts.c.params,
            accounts.c.first_seen_at,
            accounts.c.last_seen_at,
            *_activity_columns(fields),
            contacts_count,
            owner_email(accounts),
        ]

    return _list(conn, Subject.ACCOUNTS, project_id, query, window, columns, ACCOUNT_SORTS)


def owner_email(table: Table) -> Any:
    """The e-mail address of a row's owner (docs/work.md), None when it has none."""
    return select(users.c.email).where(users.c.id == table.c.owner_user_id).scalar_subquery().label("owner")


def matching_ids(conn: Connection, project_id: int, subject: Subject, query: ListQuery, window: Window) -> list[int]:
    """The ids of every contact or account the list with these filters and search holds, not
    paged: what a bulk action (setting an owner) acts on. Built as count_matching counts."""
    dialect = conn.dialect.name
    table = filters.table_of(subject)
    used = {one.field for one in query.filters}
    source, days = activity_source(subject, project_id, window, [f for f in filters.ACTIVITY_FIELDS if f in used])
    fields = filters.list_fields(dialect, table, days, window.rule)
    statement = (
        select(table.c.id)
        .select_from(source)
        .where(table.c.project_id == project_id, *filters.list_conditions(dialect, subject, query, fields, project_id))
        .order_by(table.c.id)
    )
    return [int(row_id) for row_id in conn.execute(statement).scalars()]


def _activity_columns(fields: dict[str, Any]) -> list[Any]:
    return [fields[name].label(name) for name in filters.ACTIVITY_FIELDS]


def _list(
    conn: Connection,
    subject: Subject,
    project_id: int,
    query: ListQuery,
    window: Window,
    columns: Any,
    sorts: dict[str, FieldType],
) -> tuple[list[Any], str | None]:
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

    source, days = activity_source(subject, project_id, window, choosing)
    fields = {**filters.list_fields(dialect, table, days, window.rule), uid_field: table.c[uid_field]}
    chosen = (
        select(table.c.id)
        .select_from(source)
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
