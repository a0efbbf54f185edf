"""The read API's answers made of what the store read: rows and store/read/queries.py's dataclasses in,
api/models.py's Structs out. The only place a read answer is shaped (the dashboard's profile
pages show the same Structs)."""

from __future__ import annotations

from typing import Any

from salesmachine_server.api import models
from salesmachine_server.api.models import utc, utc_or_none
from salesmachine_server.domain import revenue
from salesmachine_server.project.health_history import ProfileHealth
from salesmachine_server.store.read.health_states import CurrentHealth, DayHealth
from salesmachine_server.store.read.profiles import AccountProfile, ContactProfile
from salesmachine_server.store.read.pulses import Pulse


def health_now(state: CurrentHealth | None) -> models.HealthNow | None:
    if state is None:
        return None
    return models.HealthNow(band=state.band, reason=state.reason, since=state.since)


def pulse_now(pulse: Pulse | None) -> models.PulseNow | None:
    if pulse is None:
        return None
    return models.PulseNow(
        score=pulse.score, reason=pulse.reason, author=pulse.author, rated_at=utc(pulse.rated_at), stale=pulse.stale
    )


def health_days(found: list[DayHealth]) -> models.HealthDays:
    return models.HealthDays(
        days=[models.HealthDay(day=d.day, status=d.status, stage=d.stage, band=d.band, reason=d.reason) for d in found]
    )


def contact(profile: ContactProfile, health: ProfileHealth) -> models.Contact:
    row, days, where = profile.row, profile.active_days, profile.whereabouts
    return models.Contact(
        contact_uid=row.contact_uid,
        aliases=[u for u in profile.uids if u != row.contact_uid],
        params=row.params,
        accounts=[
            models.ContactAccount(account_uid=a.account_uid, name=a.params.get("name")) for a in profile.accounts
        ],
        mrr=row.params.get("mrr"),
        mrr_history=mrr_history(profile.mrr_history),
        first_seen_at=utc(row.first_seen_at),
        last_seen_at=utc_or_none(row.last_seen_at),
        active_days_14=days.last_14,
        active_days_30=days.last_30,
        status=health.status,
        stage=health.stage,
        health=health_now(health.now),
        pulse=pulse_now(health.pulse),
        owner=profile.owner,
        location=location(where.location),
        visits_by_country=visits_by_country(where.visits_by_country),
        agent=contact_agent(where.agent),
    )


def account(profile: AccountProfile, health: ProfileHealth) -> models.Account:
    row, days, where = profile.row, profile.active_days, profile.whereabouts
    count = profile.contacts_count
    return models.Account(
        account_uid=row.account_uid,
        params=row.params,
        domain=profile.domain,
        contacts=[
            models.AccountContact(
                contact_uid=c.contact_uid,
                name=c.params.get("name"),
                email=c.params.get("email"),
                last_seen_at=utc_or_none(c.last_seen_at),
            )
            for c in profile.contacts
        ],
        contacts_count=count,
        mrr=row.params.get("mrr"),
        mrr_history=mrr_history(profile.mrr_history),
        first_seen_at=utc(row.first_seen_at),
        last_seen_at=utc_or_none(row.last_seen_at),
        active_days_14=days.last_14,
        active_days_30=days.last_30,
        status=health.status,
        stage=health.stage,
        health=health_now(health.now),
        pulse=pulse_now(health.pulse),
        active_contacts_share_14=round(profile.active_contacts_14 / count, 4) if count else 0.0,
        owner=profile.owner,
        location=location(where.location),
        visits_by_country=visits_by_country(where.visits_by_country),
    )


def mrr_history(rows: list[Any]) -> list[models.MrrChange]:
    return [models.MrrChange(mrr=r.mrr, effective_at=utc(r.effective_at)) for r in rows]


def location(row: Any) -> models.Location | None:
    if row is None:
        return None
    return models.Location(
        country=row.country,
        region=row.region,
        city=row.city,
        latitude=row.latitude,
        longitude=row.longitude,
        seen_at=utc(row.occurred_at),
    )


def contact_agent(row: Any) -> models.ContactAgent | None:
    if row is None:
        return None
    return models.ContactAgent(
        browser=row.browser,
        browser_version=row.browser_version,
        os=row.os,
        os_version=row.os_version,
        device=row.device,
        seen_at=utc(row.occurred_at),
    )


def visits_by_country(rows: list[Any]) -> list[models.CountryVisits]:
    return [models.CountryVisits(country=r.country, visits=r.visits) for r in rows]


# -- lists -----------------------------------------------------------------------------------


def contact_page(rows: list[Any], cursor: str | None) -> models.ContactPage:
    """A page of list_contacts rows."""
    return models.ContactPage(
        data=[
            models.ContactSummary(
                contact_uid=r.contact_uid,
                params=r.params,
                mrr=r.params.get("mrr"),
                first_seen_at=utc(r.first_seen_at),
                last_seen_at=utc_or_none(r.last_seen_at),
                active_days_14=r.active_days_14,
                active_days_30=r.active_days_30,
                health=r.health,
                owner=r.owner,
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


def account_page(rows: list[Any], cursor: str | None, domains: dict[int, str | None]) -> models.AccountPage:
    """A page of list_accounts rows, with each account's domain by its id."""
    return models.AccountPage(
        data=[
            models.AccountSummary(
                account_uid=r.account_uid,
                params=r.params,
                domain=domains[r.id],
                mrr=r.params.get("mrr"),
                contacts_count=r.contacts_count,
                first_seen_at=utc(r.first_seen_at),
                last_seen_at=utc_or_none(r.last_seen_at),
                active_days_14=r.active_days_14,
                active_days_30=r.active_days_30,
                health=r.health,
                owner=r.owner,
            )
            for r in rows
        ],
        next_cursor=cursor,
    )


# -- timelines -------------------------------------------------------------------------------


def event_page(rows: list[Any], cursor: str | None) -> models.EventPage:
    """A page of events_page rows."""
    return models.EventPage(data=[event(r) for r in rows], next_cursor=cursor)


def event(row: Any) -> models.Event:
    return models.Event(
        id=row.id,
        event_uid=row.name,
        kind=row.kind,
        contact_uid=row.contact_uid,
        account_uid=row.account_uid,
        params=row.params,
        created_at=utc(row.occurred_at),
        received_at=utc(row.received_at),
        message_id=row.message_id,
        geo=event_geo(row),
        agent=event_agent(row),
    )


def event_geo(row: Any) -> models.EventGeo | None:
    """Where an event came from (None: it carried no address, or was not enriched)."""
    if row.ip_scope is None:
        return None
    return models.EventGeo(
        scope=row.ip_scope,
        country=row.country,
        region=row.region,
        city=row.city,
        latitude=row.latitude,
        longitude=row.longitude,
    )


def event_agent(row: Any) -> models.EventAgent | None:
    """With what an event was sent (None: no user agent, or nothing could be read from it)."""
    if row.browser is None and row.os is None and row.device is None:
        return None
    return models.EventAgent(
        browser=row.browser,
        browser_version=row.browser_version,
        os=row.os,
        os_version=row.os_version,
        device=row.device,
    )


# -- revenue ---------------------------------------------------------------------------------


def ignored_mrr(row: revenue.MrrRow) -> models.IgnoredMrr:
    """A stored mrr the report leaves out (revenue.out_of_range)."""
    return models.IgnoredMrr(
        **{f"{row.owner.kind}_uid": row.owner.uid}, effective_at=utc(row.effective_at), mrr=repr(row.mrr)
    )


def revenue_period(period: revenue.PeriodReport) -> models.RevenuePeriod:
    def movement(kind: str) -> models.RevenueMovement:
        listed = period.movements[kind]
        return models.RevenueMovement(
            total=revenue.rounded(period.total(kind)),
            count=len(listed),
            units=[
                models.UnitMovement(
                    **{f"{m.unit.kind}_uid": m.unit.uid}, from_=revenue.rounded(m.before), to=revenue.rounded(m.after)
                )
                for m in listed
            ],
        )

    return models.RevenuePeriod(
        start=period.period.start,
        end=period.period.end,
        start_at=utc(period.period.start_at),
        end_at=utc(period.period.end_at),
        start_mrr=revenue.rounded(period.start_mrr),
        mrr=revenue.rounded(period.mrr),
        arr=revenue.rounded(period.arr),
        start_customers=period.start_customers,
        customers=period.customers,
        net_new_mrr=revenue.rounded(period.net_new_mrr),
        movements=models.RevenueMovements(**{kind: movement(kind) for kind in revenue.MOVEMENTS}),
    )
