"""One erasure as the API, the dashboard and the CLI all run it: remove (store/write/erasure.py),
sign a receipt (domain/receipts.py), keep it and log who asked (store/records/audit_log.py).

Blocking: run it on a thread (serving/threads.py). The receipt is returned and kept; it names
the uids only by their hashes, so neither it nor the audit log brings the person back.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from salesmachine_server.domain.receipts import receipt_key, sign
from salesmachine_server.domain.uid_hashes import Kind, suppression_key, uid_hash
from salesmachine_server.serving.suppressed_uids import TTL_SECONDS
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.records import audit_log, erasure_receipts
from salesmachine_server.store.write.erasure import erase_account, erase_contact


def erase(
    engines: Engines, server_key: bytes, project_id: int, kind: Kind, uid: str, actor: str
) -> dict[str, Any] | None:
    """Erase the contact or account `uid` of a project; its signed receipt, or None when the
    project has no such uid. `actor` says who asked: "user:<email>", "api:<token>", "cli:<login>"."""
    started = _now()
    hasher = functools.partial(uid_hash, suppression_key(server_key))
    erase_one = erase_contact if kind == "contact" else erase_account
    # Once suppressed, every process sees it within TTL_SECONDS; a write checked just before
    # has been committed well within the margin, and the last transaction removes it too.
    erased = erase_one(engines.writer, project_id, uid, hasher, started, settle=TTL_SECONDS + 0.5)
    if erased is None:
        return None
    finished = _now()
    receipt = sign(
        receipt_key(server_key),
        {
            "receipt": "erasure",
            "project_id": project_id,
            "kind": kind,
            "uid_hashes": erased.uid_hashes,
            "removed": erased.counts,
            "started_at": _iso(started),
            "erased_at": _iso(finished),
            "by": actor,
        },
    )
    with engines.writer.begin() as conn:
        erasure_receipts.keep(conn, project_id, finished, receipt)
        audit_log.record(
            conn,
            project_id,
            actor,
            audit_log.ERASURE,
            {"kind": kind, "uid_hashes": erased.uid_hashes, "removed": erased.counts},
            finished,
        )
    return receipt


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds") + "Z"
