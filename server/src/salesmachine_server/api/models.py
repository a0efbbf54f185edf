"""What the read API answers, as typed msgspec Structs: the one place each field of a read
answer is named and described.

The handlers of api/ build these and encode them (api/render.py); api/openapi.py generates the read
half of /openapi.json from them (msgspec.json.schema_components), so the description cannot
name a field the answer lacks or miss one it has. Every answer but the error is closed
(forbid_unknown_fields: "additionalProperties": false), so tests/test_schemathesis.py fails as
soon as a handler answers a key not declared here; tests/fast/test_read_models.py decodes real
answers into these types.

Times are aware datetimes in UTC (encoded ISO-8601 with a `Z`): the store reads naive UTC, and
`utc()` marks it when an answer is shaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType, field

from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.health_model import STATUSES
from salesmachine_server.domain.revenue import INTERVALS, MAX_MRR
from salesmachine_server.errors import CODES


def utc(at: datetime) -> datetime:
    """A naive UTC time from the store, marked as UTC."""
    return at.replace(tzinfo=UTC)


def utc_or_none(at: datetime | None) -> datetime | None:
    return None if at is None else at.replace(tzinfo=UTC)


def one_of(values: Sequence[str]) -> Any:
    """A string, one of these, taken from the tuple the code keeps them in and described in that
    order (a Literal would be described sorted). Decoding does not check it: the fast tests do."""
    return Annotated[str, Meta(extra_json_schema={"enum": list(values)})]


class Closed(Struct, forbid_unknown_fields=True):
    """An answer with no keys but those named."""


# -- field types (the same words the description used when it was written by hand) ----------

At = Annotated[datetime, Meta(tz=True, description="ISO-8601 in UTC, with a Z.")]
Day = Annotated[date, Meta(description="YYYY-MM-DD.")]
Money = Annotated[float, Meta(ge=0)]
Count = Annotated[int, Meta(ge=0)]
CountryCode = Annotated[str, Meta(min_length=2, max_length=2)]
Text = Annotated[str | None, Meta(description="Null when unknown.")]
AnyValue = Annotated[Any, Meta(description="Whatever JSON the params hold under that key; null when absent.")]
Params = Annotated[dict[str, Any], Meta(description="The params as stored: every write's params merged (docs/api.md).")]
Mrr = Annotated[Money | None, Meta(description="params.mrr; null when it has none.")]
FirstSeen = Annotated[At, Meta(description="The earliest created_at of what was written about it.")]
LastSeen = Annotated[
    At | None,
    Meta(description="The time of its latest event or pageview (an account's: attributed to it); null when none."),
]
ActiveDays14 = Annotated[
    int,
    Meta(
        ge=0,
        description="Calendar days, in the project's time zone, with an event or "
        "pageview, among the last 14 (today included); of any of its "
        "contacts for an account.",
    ),
]
ActiveDays30 = Annotated[int, Meta(ge=0, description="The same over the last 30 days.")]
SCOPES = ("public", "private", "loopback", "link_local", "multicast", "unspecified", "reserved", "invalid")
DEVICES = ("desktop", "mobile", "tablet", "bot")
if TYPE_CHECKING:  # mypy sees the str that one_of() is
    Level = str
    Interval = str
    Scope = str
    DeviceType = str
    StatusName = str
else:
    Level, Interval, Scope, DeviceType = one_of(LEVELS), one_of(INTERVALS), one_of(SCOPES), one_of(DEVICES)
    StatusName = one_of(STATUSES)
Band = Annotated[
    Level | None,
    Meta(
        description="The health band in force by the project's health model (docs/health.md; default: over the "
        "last 14 days, more than 4 active days is good, none is bad); null when churned, not started (never "
        "active), or not evaluated yet."
    ),
]
Status = Annotated[
    StatusName,
    Meta(description="paying (mrr > 0), churned (mrr was > 0, is not), else trial or free by the model's trial_when."),
]
StageName = Annotated[str | None, Meta(description="The last lifecycle stage whose condition holds; null for none.")]


class HealthNow(Closed):
    """A customer's health today, with why and since when."""

    band: Band
    reason: Annotated[str, Meta(description='Why, in words: e.g. "no `login` in 21 days; 0 active days of 14".')]
    since: Annotated[Day, Meta(description="The first day of this status, stage and band (project's time zone).")]


class PulseNow(Closed):
    """The latest Pulse of an account: a manager's 0-5 rating."""

    score: Annotated[int, Meta(ge=0, le=5)]
    reason: str
    author: str
    rated_at: At
    stale: Annotated[bool, Meta(description="Older than the model's pulse_stale_after_days: no signal any more.")]


PulseOrNone = Annotated[
    PulseNow | None, Meta(description="An account's latest Pulse; null when none (always, for a contact).")
]


class HealthDay(Closed):
    day: Day
    status: Status
    stage: StageName
    band: Band
    reason: str


class HealthDays(Closed):
    """GET /v1/accounts/{uid}/health and /v1/contacts/{uid}/health."""

    days: Annotated[list[HealthDay], Meta(description="One per day of the range on which it existed, oldest first.")]


Domain = Annotated[
    str | None,
    Meta(
        description="From params (domain, website_url, website, url), else the one "
        "company domain its contacts' e-mail addresses agree on (free "
        "mail ignored); null when none."
    ),
]
EventName = Annotated[str, Meta(description='The event\'s name ("pageview" for a pageview).')]
Kind = Literal["event", "pageview"]
AttributedTo = Annotated[str | None, Meta(description="The account it is attributed to, if any.")]
MessageId = Annotated[str | None, Meta(description="The client's message id, if it sent one.")]
CreatedAt = Annotated[At, Meta(description="When it happened (sent_at corrections applied).")]
ReceivedAt = Annotated[At, Meta(description="When the server received it.")]
SeenAt = Annotated[At, Meta(description="The time of the event it was read from.")]
Device = Annotated[DeviceType | None, Meta(description="Null when it cannot be told.")]
Latitude = Annotated[float | None, Meta(description="From the GeoIP file, if one is configured.")]
Longitude = Annotated[float | None, Meta(description="The same.")]
Owner = Annotated[
    str | None,
    Meta(description="The e-mail address of the dashboard user who owns it (docs/work.md); null when nobody."),
]
NextCursor = Annotated[
    str | None,
    Meta(
        description="Pass it as `cursor` (with the same filters and sort) for the "
        "next page; null on the last page. No next link is sent."
    ),
]


# -- revenue history ----------------------------------------------------------------------------


class MrrChange(Closed):
    mrr: Annotated[Money | None, Meta(description="The new value; null when mrr was removed.")]
    effective_at: Annotated[At, Meta(description="When it took effect (the created_at of its write).")]


MrrHistory = Annotated[list[MrrChange], Meta(description="Every value mrr took, oldest first (null: removed).")]


# -- enrichment (enrich/): the columns each event got when written, read back as they are ----


class Location(Closed):
    country: CountryCode
    region: Text
    city: Text
    latitude: Latitude
    longitude: Longitude
    seen_at: SeenAt


class CountryVisits(Closed):
    country: CountryCode
    visits: Annotated[int, Meta(ge=1)]


class ContactAgent(Closed):
    browser: Text
    browser_version: Text
    os: Text
    os_version: Text
    device: Device
    seen_at: SeenAt


class EventGeo(Closed):
    scope: Annotated[Scope, Meta(description="What the address is (enrich/geo.py); only a public one is located.")]
    country: Annotated[CountryCode | None, Meta(description="ISO 3166-1 alpha-2.")]
    region: Text
    city: Text
    latitude: Latitude
    longitude: Longitude


class EventAgent(Closed):
    browser: Text
    browser_version: Text
    os: Text
    os_version: Text
    device: Device


WhereFrom = Annotated[
    Location | None, Meta(description="Where its latest located event came from; null when none was located.")
]
VisitsByCountry = Annotated[list[CountryVisits], Meta(description="Its located pageviews per country, most first.")]


# -- profiles and lists ----------------------------------------------------------------------


class ContactAccount(Closed):
    account_uid: str
    name: AnyValue


class Contact(Closed):
    """GET /v1/contacts/{uid}."""

    contact_uid: Annotated[str, Meta(description="The uid it was first known by.")]
    aliases: Annotated[list[str], Meta(description="Its other uids, sorted.")]
    params: Params
    accounts: Annotated[list[ContactAccount], Meta(description="The accounts it belongs to, by account_uid.")]
    mrr: Mrr
    mrr_history: MrrHistory
    first_seen_at: FirstSeen
    last_seen_at: LastSeen
    active_days_14: ActiveDays14
    active_days_30: ActiveDays30
    status: Status
    stage: StageName
    health: Annotated[HealthNow | None, Meta(description="Null only before its first day.")]
    pulse: Annotated[
        PulseNow | None, Meta(description="An account's latest Pulse; null when none (always, for a contact).")
    ]
    owner: Owner
    location: WhereFrom
    visits_by_country: VisitsByCountry
    agent: Annotated[
        ContactAgent | None,
        Meta(description="What its latest event with a readable user agent was sent with; null when none."),
    ]


class AccountContact(Closed):
    contact_uid: str
    name: AnyValue
    email: AnyValue
    last_seen_at: Annotated[At | None, Meta(description="Null when never seen.")]


class Account(Closed):
    """GET /v1/accounts/{uid}."""

    account_uid: str
    params: Params
    domain: Domain
    contacts: Annotated[
        list[AccountContact],
        Meta(max_length=100, description="Its first 100 contacts, most recently seen first (never seen last)."),
    ]
    contacts_count: Annotated[int, Meta(ge=0, description="All its contacts.")]
    mrr: Mrr
    mrr_history: MrrHistory
    first_seen_at: FirstSeen
    last_seen_at: LastSeen
    active_days_14: ActiveDays14
    active_days_30: ActiveDays30
    status: Status
    stage: StageName
    health: Annotated[HealthNow | None, Meta(description="Null only before its first day.")]
    pulse: Annotated[
        PulseNow | None, Meta(description="An account's latest Pulse; null when none (always, for a contact).")
    ]
    active_contacts_share_14: Annotated[
        float,
        Meta(
            ge=0,
            le=1,
            description="The share of its contacts active in the last 14 days, to 4 decimals; 0 without contacts.",
        ),
    ]
    owner: Owner
    location: WhereFrom
    visits_by_country: VisitsByCountry


class ContactSummary(Closed):
    """A row of GET /v1/contacts."""

    contact_uid: str
    params: Params
    mrr: Mrr
    first_seen_at: FirstSeen
    last_seen_at: LastSeen
    active_days_14: ActiveDays14
    active_days_30: ActiveDays30
    health: Band
    owner: Owner


class AccountSummary(Closed):
    """A row of GET /v1/accounts."""

    account_uid: str
    params: Params
    domain: Domain
    mrr: Mrr
    contacts_count: Count
    first_seen_at: FirstSeen
    last_seen_at: LastSeen
    active_days_14: ActiveDays14
    active_days_30: ActiveDays30
    health: Band
    owner: Owner


class ContactPage(Closed):
    data: Annotated[list[ContactSummary], Meta(description="At most `limit` contacts, in `sort` order.")]
    next_cursor: NextCursor


class AccountPage(Closed):
    data: Annotated[list[AccountSummary], Meta(description="At most `limit` accounts, in `sort` order.")]
    next_cursor: NextCursor


# -- timelines -------------------------------------------------------------------------------


class Event(Closed):
    id: Annotated[int, Meta(ge=1, description="The server's id of the event.")]
    event_uid: EventName
    kind: Kind
    contact_uid: str
    account_uid: AttributedTo
    params: Annotated[dict[str, Any], Meta(description="As sent.")]
    created_at: CreatedAt
    received_at: ReceivedAt
    message_id: MessageId
    geo: Annotated[EventGeo | None, Meta(description="Where it was sent from; null when it carried no address.")]
    agent: Annotated[
        EventAgent | None, Meta(description="What it was sent with; null when no user agent could be read.")
    ]


class EventPage(Closed):
    data: Annotated[list[Event], Meta(description="At most `limit` events, newest first (by created_at, then id).")]
    next_cursor: NextCursor


# -- export: what the importer reads back (one object per line of ndjson; a row of csv) --------


class ExportContact(Closed):
    contact_uid: str
    aliases: list[str]
    params: Params
    accounts: Annotated[list[str], Meta(description="Its accounts' uids.")]
    first_seen_at: At
    last_seen_at: LastSeen
    mrr_history: MrrHistory


class ExportAccount(Closed):
    account_uid: str
    params: Params
    first_seen_at: At
    last_seen_at: LastSeen
    mrr_history: MrrHistory


class ExportEvent(Closed):
    contact_uid: str
    event_uid: EventName
    kind: Kind
    account_uid: AttributedTo
    params: dict[str, Any]
    created_at: CreatedAt
    received_at: ReceivedAt
    message_id: MessageId
    # Its enrichment as stored, flat (what `geo` and `agent` show in a timeline); all null for
    # an event without address or agent, or not enriched.
    ip_scope: Annotated[Scope | None, Meta(description="What its address was; null without one.")]
    country: Annotated[CountryCode | None, Meta(description="ISO 3166-1 alpha-2.")]
    region: Text
    city: Text
    latitude: Latitude
    longitude: Longitude
    browser: Text
    browser_version: Text
    os: Text
    os_version: Text
    device: Device


# -- revenue (docs/revenue.md) ---------------------------------------------------------------


class UnitMovement(Closed, kw_only=True, omit_defaults=True):
    """One unit's move: an account's or a contact's, by its uid (exactly one of the two)."""

    account_uid: str | UnsetType = UNSET
    contact_uid: str | UnsetType = UNSET
    from_: Annotated[Money, Meta(description="MRR when the period opens.")] = field(name="from")
    to: Annotated[Money, Meta(description="MRR when it closes.")]


class RevenueMovement(Closed):
    total: Annotated[Money, Meta(description="The sum of the units' movements, a positive amount.")]
    count: Count
    units: Annotated[
        list[
            Annotated[
                UnitMovement,
                Meta(extra_json_schema={"oneOf": [{"required": ["account_uid"]}, {"required": ["contact_uid"]}]}),
            ]
        ],
        Meta(description="Largest movement first."),
    ]


class RevenueMovements(Closed):
    """revenue.MOVEMENTS, in that order."""

    new: RevenueMovement
    reactivation: RevenueMovement
    expansion: RevenueMovement
    contraction: RevenueMovement
    churn: RevenueMovement


class RevenuePeriod(Closed):
    start: Annotated[Day, Meta(description="The first local day of the period.")]
    end: Annotated[Day, Meta(description="The local day after its last (the next period's start).")]
    start_at: Annotated[At, Meta(description="start's local midnight.")]
    end_at: Annotated[At, Meta(description="end's local midnight.")]
    start_mrr: Annotated[Money, Meta(description="MRR when it opens.")]
    mrr: Annotated[Money, Meta(description="MRR when it closes.")]
    arr: Annotated[Money, Meta(description="12 × mrr.")]
    start_customers: Annotated[int, Meta(ge=0, description="Units with MRR above 0 when it opens.")]
    customers: Annotated[int, Meta(ge=0, description="The same when it closes.")]
    net_new_mrr: Annotated[
        float, Meta(description="new + reactivation + expansion - contraction - churn (= mrr - start_mrr).")
    ]
    movements: RevenueMovements


class IgnoredMrr(Closed, kw_only=True, omit_defaults=True):
    """A stored mrr the report leaves out (revenue.stored_mrr): its owner, when, and the value as
    text, since it may be no JSON number at all (Infinity, NaN)."""

    account_uid: str | UnsetType = UNSET
    contact_uid: str | UnsetType = UNSET
    effective_at: At
    mrr: Annotated[str, Meta(description="The stored value, as text.")]


class RevenueReport(Closed, kw_only=True):
    """GET /v1/revenue."""

    from_: Annotated[Day, Meta(description="The first day reported.")] = field(name="from")
    to: Annotated[Day, Meta(description="The last day reported (included).")]
    interval: Interval
    timezone: Annotated[str, Meta(description="The project's time zone, in which days are cut.")]
    periods: Annotated[list[RevenuePeriod], Meta(min_length=1)]
    ignored: Annotated[
        list[IgnoredMrr],
        Meta(
            description=f"Stored mrr values out of range (not a number from 0 to {MAX_MRR}), left out of every figure."
        ),
    ]


# -- errors ----------------------------------------------------------------------------------


class Error(Struct, omit_defaults=True):
    """Every error answer (errors.ApiError.body). Open: a refused batch adds keys to it."""

    error: Annotated[str, Meta(description="The message (read by the Ruby client).")]
    code: Annotated[str, Meta(extra_json_schema={"enum": [*CODES.values(), "error"]})]
    message: Annotated[str, Meta(description="The message (read by the Python client).")]
    field: Annotated[str | UnsetType, Meta(description="The field at fault, e.g. contact_uid or batch[2].params.")] = (
        UNSET
    )
    rule: Annotated[str | UnsetType, Meta(description="The rule it breaks: required, string, max_length, json...")] = (
        UNSET
    )


# The components api/openapi.py generates, each under its class name.
READ_MODELS: tuple[type[Struct], ...] = (
    MrrChange,
    HealthDays,
    PulseNow,
    ContactSummary,
    AccountSummary,
    ContactPage,
    AccountPage,
    Contact,
    Account,
    Event,
    EventPage,
    ExportContact,
    ExportAccount,
    ExportEvent,
    RevenueMovement,
    RevenuePeriod,
    RevenueReport,
    Error,
)

EXAMPLES: dict[str, Any] = {
    "Error": {
        "error": "contact_uid is required",
        "code": "bad_request",
        "message": "contact_uid is required",
        "field": "contact_uid",
        "rule": "required",
    },
}


def schema_components(ref_template: str) -> dict[str, Any]:
    """The JSON Schemas of READ_MODELS and of every Struct they hold, by name."""
    _, components = msgspec.json.schema_components(READ_MODELS, ref_template=ref_template)
    for name, example in EXAMPLES.items():
        components[name]["example"] = example
    return components
