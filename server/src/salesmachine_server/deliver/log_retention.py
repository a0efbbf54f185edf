"""How long the delivery log keeps what was sent: `SALESMACHINE_DELIVERY_LOG_DAYS` after a
delivery was queued (30 by default; 0 keeps it for ever), then a delivery delivered or failed
goes with its attempts. A periodic task of `serve`, hourly, beside retention (app.py); pending
deliveries stay, whatever their age. The log holds what playbooks sent about customers: it is
personal data kept for a purpose (seeing what was sent, resending), not for ever (docs/privacy.md).
"""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine

from salesmachine_server.store.records.deliveries import prune_finished
from salesmachine_server.store.records.projects import utcnow


def prune_delivery_log(writer: Engine, days: int, stop: threading.Event) -> str:
    """Delete the finished deliveries queued more than `days` ago; what was done, in words."""
    if days <= 0 or stop.is_set():
        return ""
    removed = prune_finished(writer, utcnow() - timedelta(days=days))
    return f"{removed} deliveries older than {days} days removed from the log" if removed else ""
