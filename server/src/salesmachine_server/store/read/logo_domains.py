"""Whether any of some projects has an account of a given domain: who may see that domain's logo.

An account's domain is not stored: account_domains derives it from the account's params
(`domain`, `website_url`, ...) or from its contacts' company e-mail addresses. So the question is
asked in two steps, each narrowed in SQL by the domain's text and settled by that same code, so
that a logo is served exactly where the list pages show it:
1. accounts whose params mention the domain anywhere;
2. accounts with a contact whose address ends in `@domain`.
Neither step has an index to use: each reads the projects' accounts (or contacts) once, which
a logo's answer, cached by the browser for a day, can afford.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Text, cast, func, select

from salesmachine_server.enrich.domains import domain_from_params
from salesmachine_server.store.db.schema import accounts, contacts, memberships
from salesmachine_server.store.read.json_params import param_text
from salesmachine_server.store.read.profiles import account_domains


def projects_have_domain(conn: Connection, project_ids: Sequence[int], domain: str) -> bool:
    """`domain`: lower-case letters, digits, dots and hyphens only (no LIKE wildcard in it)."""
    if not project_ids:
        return False
    in_projects = accounts.c.project_id.in_(list(project_ids))
    mentioned = conn.execute(
        select(accounts.c.params).where(in_projects, func.lower(cast(accounts.c.params, Text)).like(f"%{domain}%"))
    )
    if any(domain_from_params(params) == domain for (params,) in mentioned):
        return True
    email = func.lower(param_text(conn.dialect.name, contacts.c.params, "email"))
    by_email = conn.execute(
        select(accounts.c.id, accounts.c.params)
        .select_from(
            accounts.join(memberships, memberships.c.account_id == accounts.c.id).join(
                contacts, contacts.c.id == memberships.c.contact_id
            )
        )
        .where(in_projects, contacts.c.project_id.in_(list(project_ids)), email.like(f"%@{domain}"))
        .distinct()
    ).all()
    return domain in account_domains(conn, [(row.id, row.params) for row in by_email]).values()
