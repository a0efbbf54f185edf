"""The journal's depth, the projection's lag and the projector's rate, as Prometheus gauges read
from the journal when scraped (every worker reads the same file, so any worker answers alike)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from salesmachine_server.ingest.journal import Journal


class JournalCollector(Collector):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = self.journal.depth()
        yield GaugeMetricFamily(
            "salesmachine_journal_depth_items", "Items acknowledged and not yet applied to the store", depth.items
        )
        yield GaugeMetricFamily(
            "salesmachine_journal_depth_bytes", "Bytes of journal entries not yet applied to the store", depth.bytes
        )
        yield GaugeMetricFamily(
            "salesmachine_projection_lag_seconds",
            "Age of the oldest journal entry not yet applied to the store (0: none)",
            depth.lag_seconds,
        )
        yield GaugeMetricFamily(
            "salesmachine_projector_items_per_second", "Items the projector applied per second lately", depth.rate
        )
