"""A project's settings: its time zone, its health thresholds, whether writes made with the
token alone must prove who they are (identity verification), how long events are kept
(retention, domain/retention.py), and what becomes of a write naming an erased person
(`suppressed_writes`: refused, or dropped; docs/privacy.md), the currency its amounts are in
(`currency`, ISO 4217, domain/currencies.py) and the attribute of accounts that holds their
renewal date (`renewal_attribute`, e.g. `renewal_date`: the home page's renewals).

They are stored as one JSON document per project (`projects.settings`), in this shape, every
key optional (a missing one takes its default):

    {"timezone": "Europe/Paris", "identity_verification": true,
     "health": {"window_days": 14, "good_above": 4, "bad_at_most": 0}, "retention_days": 365}

`from_stored` reads such a document into `ProjectSettings`; `changed` is the one validation of a
change, shared by `salesmachine projects configure` and the dashboard's settings form, so that
the same bad value is refused with the same (field, rule, message) wherever it is typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from salesmachine_server.domain.currencies import DEFAULT_CURRENCY, is_currency
from salesmachine_server.domain.currencies import RULE as CURRENCY_RULE
from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.list_query import is_whole_number
from salesmachine_server.domain.retention import FIELD as RETENTION
from salesmachine_server.domain.retention import MAX_DAYS, parse_retention_days, retention_days
from salesmachine_server.domain.retention import RULE as RETENTION_RULE
from salesmachine_server.domain.timezones import DEFAULT, is_valid, zone

# The bounds of each health threshold: a window longer than a year, or a count of active days
# above it, describes no customer.
# What a write naming an erased person gets: refused (409), or answered and not stored.
SUPPRESSED_WRITES = "suppressed_writes"
REFUSE, DROP = "refuse", "drop"

CURRENCY, RENEWAL = "currency", "renewal_attribute"
# An attribute name as the list filter language reads it (domain/list_query.py): no operator,
# no "&", no control character; a "params." before it is the same attribute.
_ATTRIBUTE = re.compile(r"[^<>=!&\x00-\x1f\x7f]{1,100}")
ATTRIBUTE_RULE = "an attribute name of 1 to 100 characters without <, >, =, ! or &"

THRESHOLDS = {"window_days": (1, 365), "good_above": (0, 365), "bad_at_most": (0, 365)}


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    timezone: str = DEFAULT
    health: HealthRule = field(default_factory=HealthRule)
    identity_verification: bool = False
    retention_days: int | None = None  # None: events are kept forever
    suppressed_writes: str = REFUSE  # or DROP: what a write naming an erased uid gets
    currency: str = DEFAULT_CURRENCY  # ISO 4217: how the dashboard writes amounts
    renewal_attribute: str | None = None  # the accounts' attribute holding their renewal date

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str  # where in the document: "timezone", "health.window_days", ...
    rule: str
    message: str


class SettingsRefused(ValueError):
    """A change that was not applied, with every reason at once (a form shows them all)."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__("; ".join(refusal.message for refusal in refusals))
        self.refusals = refusals


def from_stored(document: dict[str, Any]) -> ProjectSettings:
    """The settings a stored document holds. Values were checked when set; a time zone that
    this machine no longer knows (tzdata changes) is applied as UTC, as it always was."""
    return ProjectSettings(
        timezone=zone(document.get("timezone")).key,
        health=HealthRule.of(document),
        identity_verification=bool(document.get("identity_verification")),
        retention_days=retention_days(document),
        suppressed_writes=DROP if document.get(SUPPRESSED_WRITES) == DROP else REFUSE,
        currency=currency
        if isinstance(currency := document.get(CURRENCY), str) and is_currency(currency)
        else DEFAULT_CURRENCY,
        renewal_attribute=renewal if isinstance(renewal := document.get(RENEWAL), str) and renewal else None,
    )


def to_stored(settings: ProjectSettings) -> dict[str, Any]:
    """The document to store: every setting, defaults included (what is stored is what applies),
    but for retention, suppressed writes and the renewal attribute, stored only when set
    (absent: kept forever, refused, no renewals)."""
    rule = settings.health
    stored: dict[str, Any] = {
        "timezone": settings.timezone,
        "identity_verification": settings.identity_verification,
        "health": {"window_days": rule.window_days, "good_above": rule.good_above, "bad_at_most": rule.bad_at_most},
        CURRENCY: settings.currency,
    }
    if settings.renewal_attribute is not None:
        stored[RENEWAL] = settings.renewal_attribute
    if settings.retention_days is not None:
        stored[RETENTION] = settings.retention_days
    if settings.suppressed_writes != REFUSE:
        stored[SUPPRESSED_WRITES] = settings.suppressed_writes
    return stored


def applied(settings: ProjectSettings, change: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a change named, as they now stand (typed, as stored): what the audit log
    keeps of a change, whatever form it was typed in (None: back to the default, absent)."""
    stored = to_stored(settings)
    return {name: stored.get(name) for name in change}


def changed(current: ProjectSettings, change: Mapping[str, Any]) -> ProjectSettings:
    """`current` with `change` applied: a part of the stored document (`{"health":
    {"good_above": "6"}}`), whose values may be typed or text as a form sends them; a value of
    None puts the setting back to its default. Raises `SettingsRefused` naming every value
    refused."""
    refusals: list[Refusal] = []
    known = {"timezone", "identity_verification", "health", RETENTION, SUPPRESSED_WRITES, CURRENCY, RENEWAL}
    for name in sorted(change.keys() - known):
        refusals.append(Refusal(name, "known_setting", f"there is no setting named {name!r}"))
    timezone = current.timezone
    if "timezone" in change:
        timezone = _timezone(change["timezone"], refusals)
    identity_verification = current.identity_verification
    if "identity_verification" in change:
        identity_verification = _flag(change["identity_verification"], refusals)
    health = current.health
    if "health" in change:
        health = _health(current.health, change["health"], refusals)
    retention = current.retention_days
    if RETENTION in change:
        retention = _retention(change[RETENTION], retention, refusals)
    suppressed = current.suppressed_writes
    if SUPPRESSED_WRITES in change:
        mode = change[SUPPRESSED_WRITES]
        if mode is None:
            suppressed = REFUSE
        elif mode in (REFUSE, DROP):
            suppressed = str(mode)
        else:
            refusals.append(Refusal(SUPPRESSED_WRITES, "one_of", f"suppressed_writes must be {REFUSE} or {DROP}"))
    currency = current.currency
    if CURRENCY in change:
        currency = _currency(change[CURRENCY], current.currency, refusals)
    renewal = current.renewal_attribute
    if RENEWAL in change:
        renewal = _attribute(change[RENEWAL], current.renewal_attribute, refusals)
    if refusals:
        raise SettingsRefused(refusals)
    return ProjectSettings(
        timezone=timezone,
        health=health,
        identity_verification=identity_verification,
        retention_days=retention,
        suppressed_writes=suppressed,
        currency=currency,
        renewal_attribute=renewal,
    )


def _currency(value: object, current: str, refusals: list[Refusal]) -> str:
    """A code as typed, in any case ("eur"); None or "" puts back the default (USD)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_CURRENCY
    code = value.strip().upper() if isinstance(value, str) else None
    if code is None or not is_currency(code):
        refusals.append(Refusal(CURRENCY, "iso_4217", f"currency must be {CURRENCY_RULE}, got {value!r}"))
        return current
    return code


def _attribute(value: object, current: str | None, refusals: list[Refusal]) -> str | None:
    """An accounts' attribute name ("renewal_date" or "params.renewal_date"); None or "": none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    name = value.strip() if isinstance(value, str) else None
    if name is not None and name.startswith("params."):
        name = name[len("params.") :]
    if name is None or not _ATTRIBUTE.fullmatch(name):
        refusals.append(Refusal(RENEWAL, "attribute", f"renewal_attribute must be {ATTRIBUTE_RULE}, got {value!r}"))
        return current
    return name


def _retention(value: object, current: int | None, refusals: list[Refusal]) -> int | None:
    """Days as typed ("30", "none", "") or as a number; None keeps events forever."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_retention_days(value)
        except ValueError as refused:
            refusals.append(Refusal(RETENTION, "whole_number", str(refused)))
            return current
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        refusals.append(Refusal(RETENTION, "whole_number", f"{RETENTION_RULE}, got {value!r}"))
        return current
    return value


def _timezone(value: object, refusals: list[Refusal]) -> str:
    if value is None:
        return DEFAULT
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or not is_valid(name):
        refusals.append(Refusal("timezone", "time_zone", f"unknown time zone {name!r}"))
        return DEFAULT
    return name


def _flag(value: object, refusals: list[Refusal]) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        refusals.append(Refusal("identity_verification", "boolean", "identity verification must be true or false"))
        return False
    return value


def _health(current: HealthRule, value: object, refusals: list[Refusal]) -> HealthRule:
    if value is None:
        return HealthRule()
    if not isinstance(value, Mapping):
        refusals.append(Refusal("health", "object", "health must be an object of thresholds"))
        return current
    thresholds = {
        "window_days": current.window_days,
        "good_above": current.good_above,
        "bad_at_most": current.bad_at_most,
    }
    refused = False
    for name in sorted(value.keys() - THRESHOLDS.keys()):
        refusals.append(Refusal(f"health.{name}", "known_setting", f"there is no health threshold named {name!r}"))
        refused = True
    for name, (low, high) in THRESHOLDS.items():
        if name not in value:
            continue
        number = getattr(HealthRule(), name) if value[name] is None else _whole_number(value[name], low, high)
        if number is None:
            message = f"{name.replace('_', ' ')} must be a whole number from {low} to {high}"
            refusals.append(Refusal(f"health.{name}", "whole_number", message))
            refused = True
        else:
            thresholds[name] = number
    if not refused and thresholds["good_above"] < thresholds["bad_at_most"]:
        refusals.append(
            Refusal("health.good_above", "not_below_bad", "'good: more than' must not be below 'bad: at most'")
        )
    return HealthRule(**thresholds)


def _whole_number(value: object, low: int, high: int) -> int | None:
    """An int from low to high, typed or as text: ASCII digits only (str.isdigit() also takes
    "²", which int() refuses), counted before int() is called (int() refuses thousands of
    digits)."""
    if isinstance(value, str):
        text = value.strip()
        if not is_whole_number(text):
            return None
        digits = text.lstrip("0") or "0"
        if len(digits) > len(str(high)):
            return None
        value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= high else None
