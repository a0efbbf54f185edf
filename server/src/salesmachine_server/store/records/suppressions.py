"""The suppressed uids of a project (as hashes: domain/uid_hashes.py), and what they stopped."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from salesmachine_server.store.db.schema import rejected_items, suppressions

# The reason a refused or dropped write naming an erased uid is recorded with (its payload is not).
SUPPRESSED_REASON = "names an erased person (suppressed)"


def suppression_counts(conn: Connection, project_id: int) -> dict[str, int]:
    """How many uids are suppressed, and how many writes naming one were refused or dropped."""
    uids = conn.execute(
        select(func.count()).select_from(suppressions).where(suppressions.c.project_id == project_id)
    ).scalar_one()
    counted: dict[str, int] = dict(
        conn.execute(
            select(rejected_items.c.code, func.count())
            .where(rejected_items.c.project_id == project_id, rejected_items.c.reason == SUPPRESSED_REASON)
            .group_by(rejected_items.c.code)
        )
        .tuples()
        .all()
    )
    return {
        "suppressed_uids": uids,
        "refused_writes": counted.get("conflict", 0),
        "dropped_writes": counted.get("dropped", 0),
    }


def suppressed_hashes(conn: Connection, project_id: int) -> frozenset[str]:
    return frozenset(
        conn.execute(select(suppressions.c.uid_hash).where(suppressions.c.project_id == project_id)).scalars()
    )
