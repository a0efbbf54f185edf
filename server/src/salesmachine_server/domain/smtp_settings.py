"""A project's SMTP server, through which its e-mail deliveries go: what it is, and the one
validation of a change, shared by `PUT /v1/settings/smtp` and the dashboard's settings form.

A change is a document, every key optional but `host` and `from` when none was set before:

    {"host": "smtp.example.com", "port": 587, "username": "alerts", "password": "...",
     "from": "Salesmachine <alerts@example.com>", "security": "starttls"}

`security` is `starttls` (port 587: a plain connection upgraded, the default), `ssl` (port 465:
TLS from the first byte) or `none` (a relay on the same machine). The password is kept to be
used and never shown back: a change without `password` (or with an empty one typed into the
form) keeps the current one; `"password": null` removes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parseaddr

from salesmachine_server.domain.list_query import is_whole_number
from salesmachine_server.domain.project_settings import Refusal, SettingsRefused

SECURITIES = ("starttls", "ssl", "none")
FIELDS = ("host", "port", "username", "password", "from", "security")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    from_address: str
    port: int = 587
    username: str = ""
    password: str = ""
    security: str = "starttls"

    def shown(self) -> dict[str, object]:
        """What may be shown back: everything but the password, which is only said to be set."""
        return {
            "configured": True,
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "password_set": bool(self.password),
            "from": self.from_address,
            "security": self.security,
        }


NOT_CONFIGURED: dict[str, object] = {
    "configured": False,
    "host": None,
    "port": None,
    "username": None,
    "password_set": False,
    "from": None,
    "security": None,
}


def changed_smtp(
    current: SmtpSettings | None, change: Mapping[str, object], *, keep_empty_password: bool = False
) -> SmtpSettings:
    """`current` with `change` applied (module docstring); SettingsRefused naming every value
    refused. `keep_empty_password`: an empty password keeps the current one (the form's field
    is empty unless one is typed: the password is never sent to the browser)."""
    refusals: list[Refusal] = []
    for name in sorted(set(change) - set(FIELDS)):
        refusals.append(Refusal(name, "known_setting", f"there is no SMTP setting named {name!r}"))
    base = current or SmtpSettings(host="", from_address="")
    host = _text(change, "host", base.host, 255, refusals, required=True)
    if host and any(c.isspace() or c in "/@" for c in host):
        refusals.append(Refusal("host", "host", "host must be a host name or address, without a scheme or path"))
    from_address = _text(change, "from", base.from_address, 320, refusals, required=True)
    if from_address and "@" not in parseaddr(from_address)[1]:
        refusals.append(Refusal("from", "email", "from must be an e-mail address, e.g. alerts@example.com"))
    username = _text(change, "username", base.username, 255, refusals)
    password = base.password
    if "password" in change:
        typed = change["password"]
        if typed is None:
            password = ""
        elif not isinstance(typed, str) or len(typed) > 1000 or "\n" in typed or "\r" in typed:
            refusals.append(Refusal("password", "string", "password must be a string of at most 1000 characters"))
        elif typed or not keep_empty_password:
            password = typed
    port = base.port
    if "port" in change:
        port = _port(change["port"], refusals)
    security = base.security
    if "security" in change:
        value = change["security"]
        if value not in SECURITIES:
            refusals.append(Refusal("security", "one_of", f"security must be one of {', '.join(SECURITIES)}"))
        else:
            security = str(value)
    if refusals:
        raise SettingsRefused(refusals)
    return replace(
        base,
        host=host,
        port=port,
        username=username,
        password=password,
        from_address=from_address,
        security=security,
    )


def _text(
    change: Mapping[str, object], name: str, current: str, limit: int, refusals: list[Refusal], required: bool = False
) -> str:
    if name not in change:
        if required and not current:
            refusals.append(Refusal(name, "required", f"{name} is required"))
        return current
    value = change[name]
    if value is None:
        value = ""
    if not isinstance(value, str):
        refusals.append(Refusal(name, "string", f"{name} must be a string"))
        return current
    value = value.strip()
    if required and not value:
        refusals.append(Refusal(name, "required", f"{name} is required"))
    elif len(value) > limit or "\n" in value or "\r" in value:
        refusals.append(Refusal(name, "max_length", f"{name} must be one line of at most {limit} characters"))
    return value


def _port(value: object, refusals: list[Refusal]) -> int:
    if isinstance(value, str) and is_whole_number(value.strip()) and len(value.strip()) <= 5:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        refusals.append(Refusal("port", "range", "port must be a whole number from 1 to 65535"))
        return 587
    return value
