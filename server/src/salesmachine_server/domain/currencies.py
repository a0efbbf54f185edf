"""The project's currency (ISO 4217) and amounts written in it: "$1,234.50", "€250", "CHF 80".

A project states its currency once (a project setting, domain/project_settings.py); every
amount the dashboard shows is written by `format_amount`, so a page never shows a bare number
where a sum of money is meant. The API keeps answering numbers: a currency is how a person
reads them, not part of the data.

The codes are ISO 4217's currencies in circulation (funds, metals and test codes left out),
each with its minor unit (digits after the point: 0 for JPY, 3 for KWD). The symbols are the
ones English texts use (Unicode CLDR's "en" locale): a code whose symbol is shared or unknown
to most readers is written as the code itself, before the amount.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal

DEFAULT_CURRENCY = "USD"

# Code -> digits of its minor unit.
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        [
            "AED",
            "AFN",
            "ALL",
            "AMD",
            "ANG",
            "AOA",
            "ARS",
            "AUD",
            "AWG",
            "AZN",
            "BAM",
            "BBD",
            "BDT",
            "BGN",
            "BMD",
            "BND",
            "BOB",
            "BRL",
            "BSD",
            "BTN",
            "BWP",
            "BYN",
            "BZD",
            "CAD",
            "CDF",
            "CHF",
            "CNY",
            "COP",
            "CRC",
            "CUP",
            "CVE",
            "CZK",
            "DKK",
            "DOP",
            "DZD",
            "EGP",
            "ERN",
            "ETB",
            "EUR",
            "FJD",
            "FKP",
            "GBP",
            "GEL",
            "GHS",
            "GIP",
            "GMD",
            "GTQ",
            "GYD",
            "HKD",
            "HNL",
            "HTG",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "IRR",
            "JMD",
            "KES",
            "KGS",
            "KHR",
            "KPW",
            "KYD",
            "KZT",
            "LAK",
            "LBP",
            "LKR",
            "LRD",
            "LSL",
            "MAD",
            "MDL",
            "MGA",
            "MKD",
            "MMK",
            "MNT",
            "MOP",
            "MRU",
            "MUR",
            "MVR",
            "MWK",
            "MXN",
            "MYR",
            "MZN",
            "NAD",
            "NGN",
            "NIO",
            "NOK",
            "NPR",
            "NZD",
            "PAB",
            "PEN",
            "PGK",
            "PHP",
            "PKR",
            "PLN",
            "QAR",
            "RON",
            "RSD",
            "RUB",
            "SAR",
            "SBD",
            "SCR",
            "SDG",
            "SEK",
            "SGD",
            "SHP",
            "SLE",
            "SOS",
            "SRD",
            "SSP",
            "STN",
            "SVC",
            "SYP",
            "SZL",
            "THB",
            "TJS",
            "TMT",
            "TOP",
            "TRY",
            "TTD",
            "TWD",
            "TZS",
            "UAH",
            "USD",
            "UYU",
            "UZS",
            "VED",
            "VES",
            "WST",
            "XCD",
            "XCG",
            "YER",
            "ZAR",
            "ZMW",
            "ZWG",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}

# Symbols written before the amount with no space; any other code is written as "CHF 80".
SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "CN¥",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "HKD": "HK$",
    "MXN": "MX$",
    "TWD": "NT$",
    "XCD": "EC$",
    "BRL": "R$",
    "INR": "₹",
    "KRW": "₩",
    "ILS": "₪",
    "VND": "₫",
    "PHP": "₱",
}

RULE = "an ISO 4217 currency code such as USD, EUR or GBP"


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def symbol(code: str) -> str:
    """What stands before an amount: "$", or the code and a no-break space ("CHF\u00a0")."""
    return SYMBOLS.get(code, f"{code}\u00a0")


def format_amount(value: object, currency: str = DEFAULT_CURRENCY) -> str:
    """An amount as a person reads it: its currency's symbol, digits grouped by thousands, and
    cents only when there are some (a whole amount reads "$250", not "$250.00"); negative
    amounts with a minus before the symbol. "—" when there is no amount (None, not a number)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if isinstance(value, Decimal) and not value.is_finite():
        return "—"
    digits = MINOR_UNITS.get(currency, 2)
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    # Precision for every digit of the amount (1.7e308 has 309), so that rounding never fails.
    context = Context(prec=max(28, amount.adjusted() + digits + 2))
    rounded = abs(amount).quantize(Decimal(1).scaleb(-digits), context=context)
    places = 0 if rounded == rounded.to_integral_value() else digits
    sign = "-" if amount < 0 and rounded != 0 else ""
    return f"{sign}{symbol(currency)}{rounded:,.{places}f}"
