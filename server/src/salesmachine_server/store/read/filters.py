"""The list query language (domain/list_query.py parses it) as SQL: the fields a filter names and
the WHERE clauses of a ListQuery's filters and search, over contacts or accounts.

One builder for the lists the read API pages through (reads.list_contacts / list_accounts)
and for the totals the dashboard shows beside them (counts.count_matching), so that a count
always selects what its list shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, exists, func, not_, or_, select

from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.list_query import ACCOUNT_UID, OWNER, Ago, Filter, ListQuery, Subject
from salesmachine_server.enrich.domains import FREE_MAIL, PARAM_KEYS
from salesmachine_server.store.db.schema import accounts, contact_uids, contacts, memberships, users
from salesmachine_server.store.read.health_states import HistoryBand
from salesmachine_server.store.read.json_params import param_number, param_text

# The fields counted from active days (an activity subquery per field), in the order joined.
ACTIVITY_FIELDS = ("active_days_14", "active_days_30", "health")


def table_of(subject: Subject) -> Table:
    """The table a list of `subject` reads."""
    return contacts if subject == Subject.CONTACTS else accounts


def window_days(name: str, rule: HealthRule) -> int:
    """How many days back an activity field (one of ACTIVITY_FIELDS) counts active days."""
    return {"active_days_14": 14, "active_days_30": 30}.get(name, rule.window_days)


def list_fields(
    dialect: str, table: Table, days: Mapping[str, ColumnElement[Any] | HistoryBand], rule: HealthRule
) -> dict[str, Any]:
    """The fields a filter names, as SQL over `table`: first and last seen, the mrr param,
    and each activity field given in `days` (its active days, 0 when none; health is the band
    in force in the health history, given as a HistoryBand, or else the rule's band of active
    days). A list passes all three activity fields; a count only those its filters use, to join
    no activity it does not need."""
    # SQL expressions by field name, and under "health_marks" the HistoryBand a health filter uses.
    fields: dict[str, Any] = {
        "first_seen_at": table.c.first_seen_at,
        "last_seen_at": table.c.last_seen_at,
        "mrr": param_number(dialect, table.c.params, "mrr"),
    }
    for name, active in days.items():
        if isinstance(active, HistoryBand):
            # Health from the history; "health_marks" lets a health filter be a lookup of the
            # rows in a band (its index) rather than a comparison row by row.
            fields[name], fields["health_marks"] = active.band(), active
        else:
            fields[name] = rule.sql(active) if name == "health" else active
    return fields


def list_conditions(
    dialect: str, subject: Subject, query: ListQuery, fields: Mapping[str, Any], project_id: int | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a list of `subject`: its search, and one per filter of `query`.
    `project_id` only narrows the subqueries of search and account_uid (memberships never
    cross projects, so they select the same rows without it, reading more)."""
    params = table_of(subject).c.params
    conditions = [search_condition(dialect, subject, query.search, project_id)] if query.search else []
    return conditions + [
        account_uid_condition(subject, one, project_id)
        if one.field == ACCOUNT_UID
        else owner_condition(subject, one)
        if one.field == OWNER
        else filter_condition(dialect, one, fields, params)
        for one in query.filters
    ]


def owner_condition(subject: Subject, one: Filter) -> ColumnElement[bool]:
    """`owner=<e-mail>` (`!=`): owned (not owned) by the user of that address; an empty value:
    owned by nobody (`=`) or by somebody (`!=`). Not owned by X includes owned by nobody, as
    every `!=` of the language takes a missing value."""
    owner = table_of(subject).c.owner_user_id
    if one.value is None:
        return owner.is_(None) if one.op == "=" else owner.is_not(None)
    user = owner.in_(select(users.c.id).where(users.c.email == str(one.value)))
    return user if one.op == "=" else or_(owner.is_(None), not_(user))


def account_uid_condition(subject: Subject, one: Filter, project_id: int | None) -> ColumnElement[bool]:
    """`account_uid=X` (`!=`): on accounts, the account's uid; on contacts, members (not
    members) of account X; an empty value: members of no account (`=`) or of some (`!=`)."""
    if subject == Subject.ACCOUNTS:
        if one.value is None:
            return accounts.c.account_uid.is_(None) if one.op == "=" else accounts.c.account_uid.is_not(None)
        uid, value = accounts.c.account_uid, str(one.value)
        return uid == value if one.op == "=" else uid != value
    members = select(memberships.c.contact_id)
    if one.value is not None:
        account = accounts.c.account_uid == one.value
        if project_id is not None:
            account = and_(accounts.c.project_id == project_id, account)
        members = members.where(memberships.c.account_id.in_(select(accounts.c.id).where(account)))
    elif project_id is not None:
        members = members.where(memberships.c.project_id == project_id)
    member = contacts.c.id.in_(members)
    wanted = one.op == "=" if one.value is not None else one.op == "!="
    return member if wanted else not_(member)


def filter_condition(
    dialect: str, one: Filter, fields: Mapping[str, Any], params_column: ColumnElement[Any]
) -> ColumnElement[bool]:
    """One filter: a list field, or a param (compared as a number when the value is one).
    An empty value means missing (=) or present (!=); != also takes a missing value."""
    key = one.param_key
    marks = fields.get("health_marks") if one.field == "health" else None
    if isinstance(marks, HistoryBand):
        return marks.is_(one.value) if one.op == "=" else marks.is_not(one.value)
    expression: ColumnElement[Any]
    if key is None:
        expression = fields[one.field]
    elif isinstance(one.value, float):
        expression = param_number(dialect, params_column, key)
    else:
        expression = param_text(dialect, params_column, key)
    if one.value is None:
        return expression.is_(None) if one.op == "=" else expression.is_not(None)
    value = one.value
    if isinstance(value, Ago):  # relative to now, as the list is read
        value = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=value.days)
    conditions: dict[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: expression == value,
        "!=": lambda: or_(expression != value, expression.is_(None)),
        ">": lambda: expression > value,
        ">=": lambda: expression >= value,
        "<": lambda: expression < value,
        "<=": lambda: expression <= value,
    }
    return conditions[one.op]()


def search_condition(dialect: str, subject: Subject, text: str, project_id: int | None = None) -> ColumnElement[bool]:
    """The list's `q`, case-insensitive, anywhere in: any uid (aliases too), the e-mail and
    the name of a contact; the uid, the name and the domain of an account.

    An account's domain is derived when read (enrich/domains.py), from params or else from its
    contacts' addresses: too dear to compute for every account a search scans. So `q` is
    matched against what the domain is derived from: the params that name it (`domain`,
    `website_url`, `website`, `url`, as sent) and the company domain of its contacts' e-mail
    addresses (free mail excluded; the part before the @ is not searched). Whatever domain an
    account shows contains what those contain, so `q` finds it; it may also find an account
    whose contacts' domain is not the one shown (its params name another)."""
    pattern = _like(text)
    if subject == Subject.CONTACTS:
        return or_(
            exists().where(
                contact_uids.c.contact_id == contacts.c.id, func.lower(contact_uids.c.uid).like(pattern, escape="\\")
            ),
            func.lower(param_text(dialect, contacts.c.params, "email")).like(pattern, escape="\\"),
            func.lower(param_text(dialect, contacts.c.params, "name")).like(pattern, escape="\\"),
        )
    return or_(
        func.lower(accounts.c.account_uid).like(pattern, escape="\\"),
        func.lower(param_text(dialect, accounts.c.params, "name")).like(pattern, escape="\\"),
        *(func.lower(param_text(dialect, accounts.c.params, key)).like(pattern, escape="\\") for key in PARAM_KEYS),
        accounts.c.id.in_(_accounts_with_contact_domain(dialect, pattern, project_id)),
    )


def _accounts_with_contact_domain(dialect: str, pattern: str, project_id: int | None) -> Select[Any]:
    """Ids of accounts with a contact whose company e-mail domain matches `pattern`: one
    pass over the contacts (not a probe per account), which the database hashes."""
    email = param_text(dialect, contacts.c.params, "email")
    if dialect == "postgresql":
        domain = func.lower(func.split_part(email, "@", 2))
    else:
        domain = func.lower(func.substr(email, func.instr(email, "@") + 1))
    found = (
        select(memberships.c.account_id)
        .select_from(memberships.join(contacts, contacts.c.id == memberships.c.contact_id))
        .where(email.like("%@%"), domain.like(pattern, escape="\\"), domain.not_in(sorted(FREE_MAIL)))
    )
    return found.where(memberships.c.project_id == project_id) if project_id is not None else found


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
