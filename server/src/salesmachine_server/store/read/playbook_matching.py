"""Which customers a playbook's conditions (and a state trigger's state) select, in the list
filter language, over the same WHERE as the lists (store/read/filters.py): what a playbook
enrolls is what the list with that filter shows. And the customer's card that action
templates and webhook bodies name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from salesmachine_server.domain.list_query import ListQuery, Subject, parse_list_query
from salesmachine_server.store.db.schema import users
from salesmachine_server.store.read import filters
from salesmachine_server.store.read.activity import Window, activity_source
from salesmachine_server.store.read.json_params import param_number

# The most customers a look at a trigger's state enrolls at once (the rest at the next look).
MAX_MATCHES = 10_000


def list_subject(subject: str) -> Subject:
    return Subject.ACCOUNTS if subject == "account" else Subject.CONTACTS


def matching_ids(
    conn: Connection,
    project_id: int,
    subject: str,
    query_text: str,
    window: Window,
    only: list[int] | None = None,
    limit: int = MAX_MATCHES,
) -> list[int]:
    """Ids of the customers the filters of `query_text` select, of `only` when given."""
    if only is not None and not only:
        return []
    kind = list_subject(subject)
    query: ListQuery = parse_list_query(query_text, kind)
    dialect = conn.dialect.name
    table = filters.table_of(kind)
    choosing = [name for name in filters.ACTIVITY_FIELDS if name in {one.field for one in query.filters}]
    source, days = activity_source(kind, project_id, window, choosing, only=only)
    fields = filters.list_fields(dialect, table, days, window.rule)
    statement = (
        select(table.c.id)
        .select_from(source)
        .where(table.c.project_id == project_id, *filters.list_conditions(dialect, kind, query, fields, project_id))
        .order_by(table.c.id)
        .limit(limit)
    )
    if only is not None:
        statement = statement.where(table.c.id.in_(only))
    return [row_id for (row_id,) in conn.execute(statement)]


@dataclass(frozen=True)
class Customer:
    """An account or a contact as templates and webhook bodies name it."""

    subject: str
    id: int
    uid: str
    params: dict[str, Any]
    mrr: float | None
    owner_email: str | None

    @property
    def name(self) -> str:
        value = self.params.get("name")
        return str(value) if value is not None else self.uid

    def values(self, project_id: int) -> dict[str, Any]:
        """What `{{account.*}}` (or `{{contact.*}}`) can name (domain/playbook_templates.py)."""
        return {
            "uid": self.uid,
            "name": self.name,
            "email": self.params.get("email"),
            "mrr": self.mrr,
            "owner": self.owner_email,
            "url": f"/p/{project_id}/{self.subject}s/{self.uid}",
            "params": self.params,
        }


def customers(conn: Connection, project_id: int, subject: str, ids: list[int]) -> dict[int, Customer]:
    """The cards of these customers (with their owner's e-mail), by id."""
    if not ids:
        return {}
    table = filters.table_of(list_subject(subject))
    uid = table.c.contact_uid if subject == "contact" else table.c.account_uid
    columns = [table.c.id, uid.label("uid"), table.c.params, param_number(conn.dialect.name, table.c.params, "mrr")]
    columns.append(select(users.c.email).where(users.c.id == table.c.owner_user_id).scalar_subquery())
    rows = conn.execute(select(*columns).where(table.c.project_id == project_id, table.c.id.in_(ids))).all()
    return {row[0]: Customer(subject, row[0], row[1], dict(row[2] or {}), row[3], row[4]) for row in rows}
