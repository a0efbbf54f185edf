"""Erasure receipts, kept as they were returned (domain/receipts.py signs them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, insert

from salesmachine_server.store.db.schema import erasure_receipts


def keep(conn: Connection, project_id: int, erased_at: datetime, receipt: dict[str, Any]) -> None:
    conn.execute(
        insert(erasure_receipts).values(
            project_id=project_id, erased_at=erased_at, document=orjson.dumps(receipt).decode()
        )
    )
