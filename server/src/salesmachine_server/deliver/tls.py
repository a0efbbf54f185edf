"""The certificates deliveries trust: Mozilla's roots (certifi's, as httpx trusts by default), and
a company's own CA when `SALESMACHINE_DELIVERY_CA_FILE` names one (an internal SMTP server or
endpoint whose certificate no public CA signed). One context for webhooks, Slack and SMTP."""

from __future__ import annotations

import ssl

import certifi


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
