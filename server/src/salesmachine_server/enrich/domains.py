"""Which company an account is: its web domain.

In order: the account's `domain`, else the host of its `website_url` (the API document's key;
`website` and `url` are read too), else the e-mail domain of its contacts when every contact
with a company address has the same one. Addresses at free-mail providers (gmail.com,
outlook.com, ...) say nothing about the company and are ignored; contacts at two different
companies leave the account without a domain rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
PARAM_KEYS = ("domain", "website_url", "website", "url")

# Free and ISP mail: an address there is a person's, not their company's.
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.co.jp",
        "yahoo.com.br",
        "ymail.com",
        "rocketmail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.es",
        "hotmail.it",
        "outlook.com",
        "outlook.fr",
        "outlook.de",
        "live.com",
        "live.fr",
        "live.co.uk",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "aim.com",
        "protonmail.com",
        "proton.me",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "zoho.com",
        "zohomail.com",
        "fastmail.com",
        "fastmail.fm",
        "hey.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "gmx.fr",
        "gmx.at",
        "web.de",
        "t-online.de",
        "freenet.de",
        "mail.com",
        "email.com",
        "inbox.com",
        "yandex.com",
        "yandex.ru",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "list.ru",
        "inbox.ru",
        "rambler.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "sohu.com",
        "yeah.net",
        "naver.com",
        "daum.net",
        "hanmail.net",
        "free.fr",
        "orange.fr",
        "wanadoo.fr",
        "laposte.net",
        "sfr.fr",
        "libero.it",
        "virgilio.it",
        "tiscali.it",
        "alice.it",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "ntlworld.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "shaw.ca",
        "rogers.com",
        "sympatico.ca",
        "bigpond.com",
        "optusnet.com.au",
        "telstra.com",
        "xtra.co.nz",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "ig.com.br",
        "rediffmail.com",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
    ]
)


def host_of(value: Any) -> str | None:
    """The domain a `domain` or URL value names, lower-cased, without `www.`; None if none."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().lower()
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.rstrip(".").removeprefix("www.")
    return host if _DOMAIN.match(host) else None


def domain_from_params(params: dict[str, Any]) -> str | None:
    for key in PARAM_KEYS:
        host = host_of(params.get(key))
        if host is not None:
            return host
    return None


def email_domain(email: Any) -> str | None:
    """The company domain of an address; None for free mail or what is not an address."""
    if not isinstance(email, str) or email.count("@") != 1:
        return None
    domain = email.strip().rsplit("@", 1)[1].lower().rstrip(".")
    if not _DOMAIN.match(domain) or domain in FREE_MAIL:
        return None
    return domain


def domain_from_emails(emails: Iterable[Any]) -> str | None:
    """The one company domain the addresses agree on, or None (none, or several)."""
    found = {domain for domain in map(email_domain, emails) if domain is not None}
    return found.pop() if len(found) == 1 else None


def account_domain(params: dict[str, Any], contact_emails: Iterable[Any] = ()) -> str | None:
    return domain_from_params(params) or domain_from_emails(contact_emails)
