"""The rows revenue is computed from (`mrr_changes`, and the accounts of paying contacts), and
the dashboard home's revenue report over them, remembered between requests.

`mrr_rows` and `accounts_of_paying_contacts` are what GET /v1/revenue, the revenue page and the
home page all read, so the three cannot disagree on a month's MRR (domain/revenue.py computes).

`home_reports` is `revenue.report(revenue.revenue_units(mrr_rows(...), accounts_of...), cuts)`
with the same figures, but fast on a large project: reading 20,000 rows of history and walking
them costs 200-400 ms, too much for a page opened all day. It keeps, per database and project,
the account-owned rows and the last report, and on each call reads only what can have changed:

- Account-owned rows are only ever added (accounts are never merged, renamed or deleted), so
  the kept ones stay right as long as the project's account rows with an id up to the highest
  kept are still exactly those kept: their count and the sum of their ids (one index-only
  query) say so. Rows added since are read by id and merged in; anything else (a row committed
  late under a lower id, on PostgreSQL) reads them all again.
- Contact-owned rows change when contacts merge (their contact_id, and the contact_uid they are
  reported under), as do the memberships of paying contacts: both are read on every call, and
  are few where accounts carry revenue (none at all when every payer has an account).
- The report is computed again when the contact-owned rows, the paying contacts' accounts or
  the periods changed. When only accounts' rows were added, only those accounts' histories
  are walked again and put in place of their old ones in the last report (`_with_added`), so
  the first read after a change of mrr costs about what the others do.

This holds while no row of mrr_changes is updated or deleted in place but by a merge of
contacts; whatever comes to do so (erasing an account, say) must be taught here first.
"""

from __future__ import annotations

import heapq
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from salesmachine_server.domain import revenue
from salesmachine_server.store.db.schema import accounts, contacts, memberships, mrr_changes


def mrr_rows(conn: Connection, project_id: int) -> list[revenue.MrrRow]:
    """The project's whole mrr history, oldest first (ties in the order recorded)."""
    query = (
        select(accounts.c.account_uid, contacts.c.contact_uid, mrr_changes.c.mrr, mrr_changes.c.effective_at)
        .select_from(
            mrr_changes.outerjoin(accounts, accounts.c.id == mrr_changes.c.account_id).outerjoin(
                contacts, contacts.c.id == mrr_changes.c.contact_id
            )
        )
        .where(mrr_changes.c.project_id == project_id)
        .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
    )
    rows = []
    for account_uid, contact_uid, mrr, effective_at in conn.execute(query):
        owner = (
            revenue.Unit("account", account_uid) if account_uid is not None else revenue.Unit("contact", contact_uid)
        )
        rows.append(revenue.MrrRow(owner, mrr, effective_at))
    return rows


def accounts_of_paying_contacts(conn: Connection, project_id: int) -> dict[str, set[str]]:
    """contact_uid -> account_uids, for the contacts that have mrr history."""
    paying = select(mrr_changes.c.contact_id).where(
        mrr_changes.c.project_id == project_id, mrr_changes.c.contact_id.is_not(None)
    )
    query = (
        select(contacts.c.contact_uid, accounts.c.account_uid)
        .select_from(
            memberships.join(contacts, contacts.c.id == memberships.c.contact_id).join(
                accounts, accounts.c.id == memberships.c.account_id
            )
        )
        .where(memberships.c.project_id == project_id, memberships.c.contact_id.in_(paying))
    )
    found: dict[str, set[str]] = defaultdict(set)
    for contact_uid, account_uid in conn.execute(query):
        found[contact_uid].add(account_uid)
    return found


# -- the home page's report, remembered ------------------------------------------------------

# (effective_at, id, row): mrr_rows' order, as a key the rows of two reads merge by.
Keyed = tuple[datetime, int, revenue.MrrRow]


@dataclass(frozen=True)
class _Report:
    """A report, the histories it walked, and what else it was computed from: the rows no
    account owns, the accounts of paying contacts, the periods."""

    source: tuple[Any, ...]
    histories: dict[revenue.Unit, revenue.History]
    reports: list[revenue.PeriodReport]


@dataclass(frozen=True)
class _Kept:
    """One project's account-owned rows up to `max_id` (`count` of them, ids summing to
    `id_sum`), and the last report computed with them."""

    rows: list[Keyed]
    count: int
    id_sum: int
    max_id: int
    report: _Report | None = None


_kept: weakref.WeakKeyDictionary[Engine, dict[int, _Kept]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def home_reports(conn: Connection, project_id: int, cuts: Sequence[revenue.Period]) -> list[revenue.PeriodReport]:
    """`revenue.report(revenue.revenue_units(mrr_rows(...), accounts_of_paying_contacts(...)), cuts)`,
    the same figures; read-only, as the next call may be handed the same report."""
    with _lock:
        previous = _kept.get(conn.engine, {}).get(project_id)
    kept, added = _account_rows(conn, project_id, previous)
    contact_rows = _rows(conn, (mrr_changes.c.project_id == project_id) & mrr_changes.c.account_id.is_(None))
    accounts_of = accounts_of_paying_contacts(conn, project_id)
    source = (tuple(contact_rows), sorted((uid, sorted(found)) for uid, found in accounts_of.items()), list(cuts))
    last = (
        previous.report
        if previous is not None and previous.report is not None and previous.report.source == source
        else None
    )
    report = None
    if last is not None and added is not None:
        report = last if not added else _with_added(last, kept, added, accounts_of)
    if report is None:
        merged = heapq.merge(kept.rows, contact_rows) if contact_rows else kept.rows
        histories = revenue.revenue_units([row for _, _, row in merged], accounts_of)
        report = _Report(source, histories, revenue.report(histories, cuts))
    if report is not kept.report:
        kept = replace(kept, report=report)
    with _lock:
        _kept.setdefault(conn.engine, {})[project_id] = kept
    return report.reports


def _with_added(last: _Report, kept: _Kept, added: list[Keyed], accounts_of: dict[str, set[str]]) -> _Report | None:
    """`last` with the histories of the accounts that have `added` rows walked again, or None
    when the change can reach further: an account a paying contact belongs to (whether the
    contact carries revenue depends on it) or a row whose account is gone.

    The same figures as a report computed anew: a unit's opening value and movements depend on
    its own history only, sums of money are exact in any order, and each period's movements
    are in one total order (amount, then unit)."""
    changed = {row.owner for _, _, row in added}
    uids = {unit.uid for unit in changed}
    cuts = [report.period for report in last.reports]
    if (
        not cuts
        or any(unit.kind != "account" for unit in changed)
        or any(not uids.isdisjoint(found) for found in accounts_of.values())
    ):
        return None
    fresh = revenue.revenue_units([row for _, _, row in kept.rows if row.owner in changed], {})
    before = revenue.report({unit: last.histories[unit] for unit in changed if unit in last.histories}, cuts)
    after = revenue.report(fresh, cuts)
    histories = {unit: history for unit, history in last.histories.items() if unit not in changed}
    histories.update(fresh)
    start_mrr = last.reports[0].start_mrr - before[0].start_mrr + after[0].start_mrr
    start_customers = last.reports[0].start_customers - before[0].start_customers + after[0].start_customers
    reports = []
    for was, now in zip(last.reports, after, strict=True):
        movements = {}
        for kind, listed in was.movements.items():
            movements[kind] = [m for m in listed if m.unit not in changed]
            if now.movements[kind]:
                movements[kind] += now.movements[kind]
                movements[kind].sort(key=lambda m: (-m.amount, m.unit))
        this = revenue.PeriodReport(was.period, start_mrr, start_customers, movements)
        reports.append(this)
        start_mrr, start_customers = this.mrr, this.customers
    return _Report(last.source, histories, reports)


def _account_rows(conn: Connection, project_id: int, kept: _Kept | None) -> tuple[_Kept, list[Keyed] | None]:
    """The project's account-owned rows now, and those added since `kept`: `kept` itself and
    [] when none was, or all rows read again and None when the kept ones are not all still
    there (or nothing was kept)."""
    owned = (mrr_changes.c.project_id == project_id) & mrr_changes.c.account_id.is_not(None)
    if kept is not None:
        count, id_sum = conn.execute(
            select(func.count(), func.coalesce(func.sum(mrr_changes.c.id), 0)).where(
                owned, mrr_changes.c.id <= kept.max_id
            )
        ).one()
        if (count, int(id_sum)) == (kept.count, kept.id_sum):
            added = _rows(conn, owned & (mrr_changes.c.id > kept.max_id))
            if not added:
                return kept, []
            grown = _Kept(
                list(heapq.merge(kept.rows, added)),
                kept.count + len(added),
                kept.id_sum + sum(row_id for _, row_id, _ in added),
                max(row_id for _, row_id, _ in added),
                kept.report,
            )
            return grown, added
    rows = _rows(conn, owned)
    ids = [row_id for _, row_id, _ in rows]
    return _Kept(rows, len(ids), sum(ids), max(ids, default=0)), None


def _rows(conn: Connection, condition: Any) -> list[Keyed]:
    """Rows of mrr_changes in mrr_rows' order, each owned as mrr_rows owns it."""
    query = (
        select(
            mrr_changes.c.effective_at,
            mrr_changes.c.id,
            accounts.c.account_uid,
            contacts.c.contact_uid,
            mrr_changes.c.mrr,
        )
        .select_from(
            mrr_changes.outerjoin(accounts, accounts.c.id == mrr_changes.c.account_id).outerjoin(
                contacts, contacts.c.id == mrr_changes.c.contact_id
            )
        )
        .where(condition)
        .order_by(mrr_changes.c.effective_at, mrr_changes.c.id)
    )
    return [
        (
            at,
            row_id,
            revenue.MrrRow(
                revenue.Unit("account", account_uid)
                if account_uid is not None
                else revenue.Unit("contact", contact_uid),
                mrr,
                at,
            ),
        )
        for at, row_id, account_uid, contact_uid, mrr in conn.execute(query)
    ]


NAMES_PER_QUERY = 500  # uids per IN (...) when looking up names


def names_of(conn: Connection, project_id: int, units: Iterable[revenue.Unit]) -> dict[revenue.Unit, str | None]:
    """The `name` param of each unit's account or contact (None when it has none)."""
    wanted: dict[str, list[str]] = {"account": [], "contact": []}
    for unit in units:
        wanted[unit.kind].append(unit.uid)
    found: dict[revenue.Unit, str | None] = {}
    for owner, table, column in (
        ("account", accounts, accounts.c.account_uid),
        ("contact", contacts, contacts.c.contact_uid),
    ):
        uids = wanted[owner]
        for i in range(0, len(uids), NAMES_PER_QUERY):
            chunk = uids[i : i + NAMES_PER_QUERY]
            rows = conn.execute(
                select(column, table.c.params).where(table.c.project_id == project_id, column.in_(chunk))
            )
            for uid, params in rows:
                name = (params or {}).get("name")
                found[revenue.Unit(owner, uid)] = name if isinstance(name, str) and name else None
    return found


def paying_accounts_of(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """The contact's accounts that have mrr history: where the revenue report counts the
    contact's revenue (docs/revenue.md, Revenue units), with each one's name and mrr now."""
    has_mrr = select(mrr_changes.c.id).where(mrr_changes.c.account_id == accounts.c.id).exists()
    rows = conn.execute(
        select(accounts.c.account_uid, accounts.c.params)
        .select_from(memberships.join(accounts, accounts.c.id == memberships.c.account_id))
        .where(memberships.c.contact_id == contact_id, has_mrr)
        .order_by(accounts.c.account_uid)
    )
    return [
        {"account_uid": uid, "name": (params or {}).get("name"), "mrr": (params or {}).get("mrr")}
        for uid, params in rows
    ]
