"""Sign-in throttling: how long an account, or a client address, must wait before trying again.

Counted per account (the address typed, known or not) and per client address (an IPv6 client
by its /64, which one host usually has whole). Within WINDOW, the first ACCOUNT_FREE failures
for an account (ADDRESS_FREE from one address) cost nothing; from then on each attempt waits
FIRST_WAIT after the latest failure, doubled for each further failure, at most WINDOW. An
attempt refused for waiting checks no password and counts nothing. A successful sign-in
forgives its account's failures, not its address's: they stay counted for their address, or an
account of the attacker's own would reset the count of the address it guesses others' from.

The rows are in the database, so that every server process on it keeps one count. An attempt
is written *before* its password is checked and deleted if the password was right: attempts
sent at once, to one process or several, see each other instead of all passing the check
before any failure is written.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from salesmachine_server.store.db.schema import sign_in_failures
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.users import normalise_email

WINDOW = timedelta(minutes=15)
ACCOUNT_FREE = 5
ADDRESS_FREE = 20
FIRST_WAIT = timedelta(seconds=30)


@dataclass(frozen=True)
class Attempt:
    """An attempt let through (`retry_after` 0, `row` its failure-until-proven-right), or refused
    (`retry_after` seconds to wait, nothing written)."""

    email: str | None
    address: str | None
    row: int | None
    retry_after: int


def account_key(email: str) -> str | None:
    """The account an attempt is for, as users stores it; None for what is not an address."""
    try:
        return normalise_email(email)
    except ValueError:
        return None


def address_key(ip: str | None) -> str | None:
    """The client's address as counted: IPv4 whole, IPv6 by its /64."""
    if not ip:
        return None
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def wait(failures: int, latest: datetime | None, free: int, now: datetime) -> float:
    """Seconds still to wait after `failures` in the window, the latest at `latest`."""
    if failures < free or latest is None:
        return 0.0
    delay = min(WINDOW, FIRST_WAIT * 2 ** min(failures - free, 16))
    return max(0.0, float((latest + delay - now).total_seconds()))


def _failures(conn: Connection, column: Any, value: str, since: datetime, own: int) -> tuple[int, datetime | None]:
    count, latest = conn.execute(
        select(func.count(), func.max(sign_in_failures.c.failed_at)).where(
            column == value, sign_in_failures.c.failed_at > since, sign_in_failures.c.id != own
        )
    ).one()
    return count, latest


def begin_attempt(engine: Engine, email: str, ip: str | None) -> Attempt:
    """Record an attempt for `email` from `ip`, or refuse it while the account or the address
    must wait."""
    account, address = account_key(email), address_key(ip)
    now = utcnow()
    since = now - WINDOW
    with engine.begin() as conn:
        # The rows this window no longer counts: the table holds about WINDOW of failures.
        conn.execute(sign_in_failures.delete().where(sign_in_failures.c.failed_at <= since))
        row = conn.execute(
            sign_in_failures.insert()
            .values(email=account, address=address, failed_at=now)
            .returning(sign_in_failures.c.id)
        ).scalar_one()
    with engine.connect() as conn:
        waits = [0.0]
        if account is not None:
            waits.append(wait(*_failures(conn, sign_in_failures.c.email, account, since, row), ACCOUNT_FREE, now))
        if address is not None:
            waits.append(wait(*_failures(conn, sign_in_failures.c.address, address, since, row), ADDRESS_FREE, now))
    if max(waits) > 0:
        _delete(engine, sign_in_failures.c.id == row)
        return Attempt(account, address, None, math.ceil(max(waits)))
    return Attempt(account, address, row, 0)


def succeeded(engine: Engine, attempt: Attempt) -> None:
    """The password was right: the attempt was no failure, and its account's are forgiven (kept
    for their addresses, no longer for the account)."""
    if attempt.row is None:
        return
    with engine.begin() as conn:
        conn.execute(sign_in_failures.delete().where(sign_in_failures.c.id == attempt.row))
        if attempt.email is not None:
            conn.execute(sign_in_failures.update().where(sign_in_failures.c.email == attempt.email).values(email=None))


def _delete(engine: Engine, condition: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sign_in_failures.delete().where(condition))
