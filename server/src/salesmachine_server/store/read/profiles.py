"""A contact's or an account's profile as rows and dataclasses (api/shapes.py makes the answer):
params, uids, accounts or contacts, active days, revenue history, where and with what it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, distinct, func, or_, select

from salesmachine_server.enrich.domains import account_domain, domain_from_params
from salesmachine_server.store.db.dialect import chunks
from salesmachine_server.store.db.schema import (
    accounts,
    contact_days,
    contact_uids,
    contacts,
    events,
    memberships,
    mrr_changes,
    users,
)
from salesmachine_server.store.read.activity import Window, account_active_days, contact_active_days_since
from salesmachine_server.store.read.json_params import param_text

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
    owner: str | None = None  # its owner's e-mail address (docs/work.md)


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
    owner: str | None = None  # its owner's e-mail address (docs/work.md)


def owner_address(conn: Connection, user_id: int | None) -> str | None:
    """The e-mail address of an owner by user id (None for none)."""
    if user_id is None:
        return None
    return conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar()


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
        conn, contact_id, [window.since(14), window.since(30), window.since(window.rule.window_days)]
    )
    return ContactProfile(
        row=row,
        uids=uids,
        accounts=list(member_of),
        mrr_history=mrr_history(conn, mrr_changes.c.contact_id == contact_id),
        active_days=ActiveDays(days_14, days_30, days_rule),
        whereabouts=whereabouts(conn, events.c.contact_id == contact_id),
        owner=owner_address(conn, row.owner_user_id),
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
        active_days=ActiveDays(
            account_active_days(conn, row.id, window.since(14)),
            account_active_days(conn, row.id, window.since(30)),
            days_rule,
        ),
        # An account's agent is not read: its contacts use many.
        whereabouts=whereabouts(conn, events.c.account_id == row.id, agent=False),
        owner=owner_address(conn, row.owner_user_id),
    )


# -- enrichment (enrich/): derived from the events' columns when read, so always exact ---------


def whereabouts(conn: Connection, condition: ColumnElement[bool], agent: bool = True) -> Whereabouts:
    """The latest known location of a contact's or an account's events, its latest user agent
    (when `agent`), and its visits (pageviews) counted by country, most first."""
    return Whereabouts(
        latest_location(conn, condition),
        latest_agent(conn, condition) if agent else None,
        visits_by_country(conn, condition),
    )


def latest_location(conn: Connection, condition: ColumnElement[bool]) -> Any:
    """(country, region, city, latitude, longitude, occurred_at) of the latest located event, or None."""
    return conn.execute(
        select(
            events.c.country,
            events.c.region,
            events.c.city,
            events.c.latitude,
            events.c.longitude,
            events.c.occurred_at,
        )
        .where(condition, events.c.country.is_not(None))
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(1)
    ).first()


def latest_agent(conn: Connection, condition: ColumnElement[bool]) -> Any:
    """Browser, operating system and device (and occurred_at) of the latest event that had a user
    agent, or None."""
    return conn.execute(
        select(
            events.c.browser,
            events.c.browser_version,
            events.c.os,
            events.c.os_version,
            events.c.device,
            events.c.occurred_at,
        )
        .where(condition, or_(events.c.browser.is_not(None), events.c.os.is_not(None), events.c.device.is_not(None)))
        .order_by(events.c.occurred_at.desc(), events.c.id.desc())
        .limit(1)
    ).first()


def visits_by_country(conn: Connection, condition: ColumnElement[bool]) -> list[Any]:
    """(country, visits) of the located pageviews, most first."""
    count = func.count().label("visits")
    return list(
        conn.execute(
            select(events.c.country, count)
            .where(condition, events.c.kind == "pageview", events.c.country.is_not(None))
            .group_by(events.c.country)
            .order_by(count.desc(), events.c.country)
        )
    )


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
    return list(
        conn.execute(
            select(mrr_changes.c.mrr, mrr_changes.c.effective_at)
            .where(condition)
            .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
        )
    )
