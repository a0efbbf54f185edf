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

from salesmachine_server.enrich.events import Enricher
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.write.event_enrichment import Enriched, count_unenriched, set_enrichment, unenriched

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
        return count_unenriched(conn)


def backfill(
    engines: Engines, enricher: Enricher, batch: int = BATCH, progress: Callable[[BackfillReport], None] | None = None
) -> BackfillReport:
    report = BackfillReport()
    after = 0
    while True:
        with engines.writer.begin() as conn:
            rows = unenriched(conn, after, batch)
            if not rows:
                return report
            done: list[Enriched] = []
            for event_id, params in rows:
                params = dict(params)
                before = params.get("visit_ip")
                enrichment = enricher.event(params)
                assert enrichment is not None
                report.located += enrichment.location is not None
                report.with_agent += enrichment.agent is not None
                changed = params.get("visit_ip") != before
                report.addresses_changed += changed
                done.append((event_id, enrichment.columns(), params if changed else None))
            set_enrichment(conn, done)
            after = rows[-1][0]
            report.events += len(rows)
            report.batches += 1
        if progress is not None:
            progress(report)
