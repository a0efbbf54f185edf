"""`salesmachine enrich --backfill`: enrich the events stored before enrichment existed (or
while it was turned off, or imported), in batches of one transaction each.

Resumable and idempotent: an event is done when its `enrichment` column is set, in the same
transaction as its location and agent, so an interrupted run loses at most its current batch
and a second run finds nothing left to do. The partial index ix_events_unenriched holds only
the events still to do, so finding them costs nothing once they are few. The IP storage mode
applies here too: with `truncated` or `off`, the addresses of the events enriched are truncated
or removed after being located, as new events' are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, bindparam, func, select, update

from salesmachine_server.enrich.events import Enricher
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.write.event_insert import ENRICHMENT_COLUMNS
from salesmachine_server.store.db.schema import events
BATCH = 2000


@dataclass
class BackfillReport:
    events: int = 0  # events enriched
    located: int = 0  # of which with an address
    with_agent: int = 0  # of which with a user agent
    addresses_changed: int = 0  # visit_ip truncated or removed (IP storage mode)
    batches: int = 0


def pending(engines: Engines) -> int:
    """Events not enriched yet."""
    with engines.reader.connect() as conn:
        return conn.execute(select(func.count()).select_from(events).where(events.c.enrichment.is_(None))).scalar_one()


def backfill(engines: Engines, enricher: Enricher, batch: int = BATCH,
             progress: Callable[[BackfillReport], None] | None = None) -> BackfillReport:
    report = BackfillReport()
    after = 0
    while True:
        with engines.writer.begin() as conn:
            rows = conn.execute(
                select(events.c.id, events.c.params)
                .where(events.c.enrichment.is_(None), events.c.id > after)
                .order_by(events.c.id)
                .limit(batch)
            ).all()
            if not rows:
                return report
            plain, with_params = [], []
            for event_id, params in rows:
                params = dict(params)
                before = params.get("visit_ip")
                enrichment = enricher.event(params)
                assert enrichment is not None
                values = {"b_id": event_id, **{f"b_{name}": value
                                               for name, value in zip(ENRICHMENT_COLUMNS, enrichment.columns())}}
                report.located += enrichment.location is not None
                report.with_agent += enrichment.agent is not None
                if params.get("visit_ip") != before:
                    report.addresses_changed += 1
                    with_params.append(values | {"b_params": params})
                else:
                    plain.append(values)
            if plain:
                conn.execute(_update(with_params=False), plain)
            if with_params:
                conn.execute(_update(with_params=True), with_params)
            after = rows[-1].id
            report.events += len(rows)
            report.batches += 1
        if progress is not None:
            progress(report)


def _update(with_params: bool):  # type: ignore[no-untyped-def]
    values = {name: bindparam(f"b_{name}", type_=events.c[name].type) for name in ENRICHMENT_COLUMNS}
    if with_params:
        values["params"] = bindparam("b_params", type_=events.c.params.type)
    # `enrichment IS NULL` again: a backfill running at the same time has not done it since.
    return (update(events)
            .where(events.c.id == bindparam("b_id", type_=Integer), events.c.enrichment.is_(None))
            .values(**values))
