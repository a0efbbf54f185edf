"""Two server processes on one database, receiving interleaved aliases, updates and events of
the same contacts: afterwards every uid resolves to exactly one contact and no event is missing."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import Project, ServerProcess

GROUPS = 12
UIDS_PER_GROUP = 4


@pytest.fixture
def second_server(server: ServerProcess, tmp_path: Path) -> Iterator[ServerProcess]:
    other = ServerProcess(server.database_url, tmp_path / "second.log").start()
    yield other
    other.stop()


def operations(rng: random.Random) -> list[dict]:
    """Per group: alias edges that connect all its uids (plus redundant ones), contact
    updates and events on every uid, shuffled together across groups."""
    ops: list[dict] = []
    for g in range(GROUPS):
        uids = [f"g{g}-u{i}" for i in range(UIDS_PER_GROUP)]
        edges = [(uids[i], uids[i + 1]) for i in range(UIDS_PER_GROUP - 1)]
        edges += [tuple(rng.sample(uids, 2)) for _ in range(3)]
        ops += [{"method": "alias", "contact_uid": a, "alias": b} for a, b in edges]
        for uid in uids:
            ops.append(
                {"method": "contact", "contact_uid": uid, "params": {f"from_{uid}": True, "account_uid": f"acct-{g}"}}
            )
            ops += [
                {"method": "event", "contact_uid": uid, "event_uid": "did", "messageId": str(uuid.uuid4())}
                for _ in range(6)
            ]
    rng.shuffle(ops)
    return ops


def test_two_processes_never_split_or_lose_a_contact(
    project: Project, server: ServerProcess, second_server: ServerProcess
) -> None:
    rng = random.Random(20261126)
    ops = operations(rng)
    chunks: list[list[dict]] = []
    while ops:
        size = rng.randint(1, 8)
        chunks.append(ops[:size])
        ops = ops[size:]
    bases = [server.base_url, second_server.base_url]

    def send(index: int) -> list[str]:
        chunk = chunks[index]
        with httpx.Client(base_url=bases[index % 2], auth=(project.token, ""), timeout=60) as http:
            if len(chunk) == 1:  # single calls and batches both
                op = dict(chunk[0])
                path = {"alias": "/v1/alias", "contact": "/v1/contact", "event": "/v1/track/event"}[op.pop("method")]
                response = http.post(path, json=op)
            else:
                response = http.post("/v1/batch", json=chunk)
        assert response.status_code == 201, response.text
        return [op["messageId"] for op in chunk if "messageId" in op]

    with ThreadPoolExecutor(max_workers=16) as pool:
        acknowledged = [mid for ids in pool.map(send, range(len(chunks))) for mid in ids]

    stored = project.stored
    assert stored.count("contacts") == GROUPS
    for g in range(GROUPS):
        ids = {stored.contact_id(f"g{g}-u{i}") for i in range(UIDS_PER_GROUP)}
        assert len(ids) == 1 and None not in ids, f"group {g} split into {ids}"
        contact = stored.contact(f"g{g}-u0")
        assert contact is not None
        assert contact["uids"] == {f"g{g}-u{i}" for i in range(UIDS_PER_GROUP)}
        assert contact["params"] == {f"from_g{g}-u{i}": True for i in range(UIDS_PER_GROUP)}
        assert contact["accounts"] == {f"acct-{g}"}
        assert len(contact["events"]) == 6 * UIDS_PER_GROUP
    stored_ids = [row[0] for row in stored.rows("SELECT message_id FROM events WHERE project_id = :project")]
    assert sorted(stored_ids) == sorted(acknowledged)
    orphans = stored.rows(
        "SELECT count(*) FROM contacts c WHERE c.project_id = :project "
        "AND NOT EXISTS (SELECT 1 FROM contact_uids u WHERE u.contact_id = c.id)"
    )
    assert orphans[0][0] == 0
