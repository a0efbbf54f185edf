"""How the dashboard writes amounts and times (web/formatting.py, domain/currencies.py), and the
currency and renewal settings' one validation (domain/project_settings.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from salesmachine_server.domain.currencies import MINOR_UNITS, format_amount
from salesmachine_server.domain.project_settings import (
    ProjectSettings,
    SettingsRefused,
    changed,
    from_stored,
    to_stored,
)
from salesmachine_server.web.formatting import exact_time, iso_time, readable_day, readable_time
from salesmachine_server.web.templating import environment

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)  # 16:30 in Paris


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (1234.5, "USD", "$1,234.50"),
        (250, "USD", "$250"),
        (250.0, "EUR", "€250"),
        (8720, "GBP", "£8,720"),
        (1234567.891, "USD", "$1,234,567.89"),
        (-80, "USD", "-$80"),
        (-0.001, "USD", "$0"),
        (1500.4, "JPY", "¥1,500"),
        (12.3456, "KWD", "KWD\u00a012.346"),
        (80, "CHF", "CHF\u00a080"),
        (Decimal("0.1") + Decimal("0.2"), "USD", "$0.30"),
        (None, "USD", "—"),
        ("250", "USD", "—"),
        (True, "USD", "—"),
        (float("nan"), "USD", "—"),
        (Decimal("NaN"), "USD", "—"),
        (1e25, "USD", "$10,000,000,000,000,000,000,000,000"),
        (1.7e308, "EUR", None),
    ],
)
def test_an_amount_is_written_with_its_symbol_and_digit_groups(value: Any, currency: str, shown: str | None) -> None:
    if shown is None:  # the largest float: every digit, grouped, and no failure to round it
        written = format_amount(value, currency)
        assert written.startswith("€170,000,") and len(written.replace(",", "")) == 1 + 309
        return
    assert format_amount(value, currency) == shown


def test_every_page_writes_amounts_in_the_projects_currency() -> None:
    template = environment.from_string("{{ 1234.5|money }} {{ none|money }}")
    assert template.render(currency="EUR") == "€1,234.50 —"
    assert template.render() == "$1,234.50 —"  # a page outside a project: the default


@pytest.mark.parametrize(
    ("before", "shown"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1, seconds=5), "1 minute ago"),
        (timedelta(minutes=59), "59 minutes ago"),
        (timedelta(hours=3, minutes=10), "3 hours ago"),
        (timedelta(hours=13), "today, 03:30"),
        (timedelta(hours=20), "yesterday, 20:30"),
        (timedelta(days=1, hours=16), "yesterday, 00:30"),  # Paris, not UTC: the 4th
        (timedelta(days=2), "3 Dec 2026, 16:30"),
        (timedelta(days=400), "31 Oct 2025, 16:30"),
        (timedelta(days=-3), "8 Dec 2026, 16:30"),  # to come: the date
    ],
)
def test_a_time_is_relative_while_recent_and_absolute_in_the_projects_zone_after(before: timedelta, shown: str) -> None:
    assert readable_time(NOW - before, PARIS, now=NOW) == shown
    # Stored times are naive UTC: read the same.
    assert readable_time((NOW - before).replace(tzinfo=None), PARIS, now=NOW) == shown


def test_the_exact_time_is_in_the_title_and_iso_in_the_datetime_attribute() -> None:
    at = datetime(2026, 3, 1, 9, 30, 5)
    assert exact_time(at, PARIS) == "Sunday 1 March 2026, 10:30:05 (Europe/Paris)"
    assert iso_time(at) == "2026-03-01T09:30:05Z"
    assert iso_time(at.replace(tzinfo=PARIS)) == "2026-03-01T08:30:05Z"
    markup = environment.from_string(
        '{% from "macros.html" import moment with context %}{{ moment(at) }}|{{ moment(none) }}'
    )
    assert markup.render(at=at, tz=PARIS) == (
        '<time datetime="2026-03-01T09:30:05Z" title="Sunday 1 March 2026, 10:30:05 (Europe/Paris)">'
        "1 Mar 2026, 10:30</time>|never"
    )


@pytest.mark.parametrize(
    ("day", "shown"),
    [
        (date(2026, 12, 5), "today"),
        (date(2026, 12, 4), "yesterday"),
        (date(2026, 12, 1), "4 days ago"),
        (date(2026, 11, 20), "20 Nov 2026"),
        (date(2026, 12, 6), "tomorrow"),
        (date(2026, 12, 10), "in 5 days"),
        (date(2027, 1, 30), "30 Jan 2027"),
    ],
)
def test_a_day_is_relative_while_near(day: date, shown: str) -> None:
    assert readable_day(day, date(2026, 12, 5)) == shown


def test_currency_and_renewal_attribute_are_settings_with_defaults() -> None:
    assert ProjectSettings().currency == "USD" and ProjectSettings().renewal_attribute is None
    settings = changed(ProjectSettings(), {"currency": " eur ", "renewal_attribute": "params.renewal_date"})
    assert (settings.currency, settings.renewal_attribute) == ("EUR", "renewal_date")
    stored = to_stored(settings)
    assert stored["currency"] == "EUR" and stored["renewal_attribute"] == "renewal_date"
    assert from_stored(stored) == settings
    back = changed(settings, {"currency": None, "renewal_attribute": ""})
    assert (back.currency, back.renewal_attribute) == ("USD", None)
    assert "renewal_attribute" not in to_stored(back)
    # A stored code this version does not know reads as the default rather than failing a page.
    assert from_stored({"currency": "XYZ"}).currency == "USD"
    assert len(MINOR_UNITS) > 150


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"currency": "DOLLARS"}, "currency", "iso_4217"),
        ({"currency": "XYZ"}, "currency", "iso_4217"),
        ({"currency": 840}, "currency", "iso_4217"),
        ({"renewal_attribute": "renewal>date"}, "renewal_attribute", "attribute"),
        ({"renewal_attribute": "x" * 101}, "renewal_attribute", "attribute"),
        ({"renewal_attribute": ["renewal_date"]}, "renewal_attribute", "attribute"),
    ],
)
def test_a_bad_currency_or_attribute_is_refused_naming_field_and_rule(
    change: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(SettingsRefused) as refused:
        changed(ProjectSettings(), change)
    assert [(r.field, r.rule) for r in refused.value.refusals] == [(field, rule)]
    assert field in refused.value.refusals[0].message
