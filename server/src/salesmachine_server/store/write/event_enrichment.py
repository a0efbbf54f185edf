"""Enrichment of events stored before it existed (enrich/backfill.py): the events still to do,
and their enrichment columns set.

An event is done when its `enrichment` column is set; the partial index ix_events_unenriched
holds only the events still to do, so finding them costs nothing once they are few."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Integer, Update, bindparam, func, select, update

from salesmachine_server.store.db.schema import events
from salesmachine_server.store.write.event_insert import ENRICHMENT_COLUMNS

# (event id, values of ENRICHMENT_COLUMNS, its params when they changed, else None)
Enriched = tuple[int, Sequence[Any], dict[str, Any] | None]


def count_unenriched(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(events).where(events.c.enrichment.is_(None))).scalar_one()


def unenriched(conn: Connection, after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
    """(id, params) of the first `limit` events not enriched whose id is above `after`, by id."""
    rows = conn.execute(
        select(events.c.id, events.c.params)
        .where(events.c.enrichment.is_(None), events.c.id > after)
        .order_by(events.c.id)
        .limit(limit)
    ).all()
    return [(event_id, params) for event_id, params in rows]


def set_enrichment(conn: Connection, rows: Sequence[Enriched]) -> None:
    """Each event's enrichment columns (and its params when given), unless a backfill running at
    the same time did it first."""
    plain, with_params = [], []
    for event_id, columns, params in rows:
        values = {"b_id": event_id, **{f"b_{name}": value for name, value in zip(ENRICHMENT_COLUMNS, columns)}}
        if params is None:
            plain.append(values)
        else:
            with_params.append(values | {"b_params": params})
    if plain:
        conn.execute(_UPDATE[False], plain)
    if with_params:
        conn.execute(_UPDATE[True], with_params)


def _update(with_params: bool) -> Update:
    values = {name: bindparam(f"b_{name}", type_=events.c[name].type) for name in ENRICHMENT_COLUMNS}
    if with_params:
        values["params"] = bindparam("b_params", type_=events.c.params.type)
    # `enrichment IS NULL` again: a backfill running at the same time has not done it since.
    return (
        update(events)
        .where(events.c.id == bindparam("b_id", type_=Integer), events.c.enrichment.is_(None))
        .values(**values)
    )


_UPDATE = {with_params: _update(with_params) for with_params in (False, True)}
