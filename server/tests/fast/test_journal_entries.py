"""A journal entry holds the submissions of one project that one append took together
(ingest/journal_append.py `entries_of`, ingest/journal_codec.py), in the order they came; an
entry written by a server before that (one submission, version 1) is still read and applied."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from salesmachine_server.domain.messages import parse_item
from salesmachine_server.ingest import journal_codec
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.ingest.journal import Journal, NewEntry, journal_path
from salesmachine_server.ingest.journal_append import entries_of
from tests.fast.conftest import InProcess
from tests.support import Project

NOW = datetime(2026, 12, 5, 10, 0, 0, 123456)


def submission(project_id: int, contact_uid: str, event: str, seconds: int = 0, tz: str = "UTC") -> Submission:
    at = NOW + timedelta(seconds=seconds)
    message = parse_item({"contact_uid": contact_uid, "event_uid": event}, "event", at)
    rejection = {
        "project_id": project_id,
        "received_at": at,
        "path": "/v1/track/event",
        "item_index": None,
        "raw": "{}",
        "code": "bad_request",
        "field": "contact_uid",
        "reason": "required",
    }
    return Submission(project_id, at, [message], [rejection] if event == "refused" else [], timezone=tz)


def test_an_append_makes_one_entry_per_project_holding_its_submissions_in_order() -> None:
    group = [
        submission(1, "a", "first"),
        submission(2, "b", "elsewhere", seconds=1, tz="Europe/Paris"),
        submission(1, "c", "refused", seconds=2),
        submission(1, "a", "third", seconds=3),
    ]
    entries = entries_of(group)
    assert [(e.project_id, e.items) for e in entries] == [(1, 4), (2, 1)]  # messages and refusals
    assert entries[0].received_at == journal_codec.micros(NOW) / 1e6  # the lag counts from the first
    parts = journal_codec.decode(entries[0].body)
    assert [(p.received_at, [m.event_name for m in p.messages]) for p in parts] == [
        (NOW, ["first"]),
        (NOW + timedelta(seconds=2), ["refused"]),
        (NOW + timedelta(seconds=3), ["third"]),
    ]
    assert parts[1].rejections == group[2].rejections
    assert parts[0].messages == group[0].messages  # every field, to the microsecond
    [other] = journal_codec.decode(entries[1].body)
    assert other.timezone == "Europe/Paris" and other.messages == group[1].messages


def test_an_entry_of_version_1_is_read_as_one_submission() -> None:
    old = version_1_body(submission(1, "a", "before_the_upgrade"))
    [part] = journal_codec.decode(old)
    assert part.received_at == NOW and part.timezone == "UTC"
    assert [m.event_name for m in part.messages] == ["before_the_upgrade"]


def test_the_projector_applies_entries_of_both_versions(inprocess: InProcess, project: Project) -> None:
    journal = Journal(journal_path(inprocess.database_url))
    one = submission(project.id, "upgraded", "written_before")
    many = [submission(project.id, "upgraded", f"together_{i}", seconds=1 + i) for i in range(3)]
    journal.append([NewEntry(project.id, journal_codec.micros(NOW) / 1e6, 1, version_1_body(one)), *entries_of(many)])
    contact = project.stored.contact("upgraded")
    assert contact is not None
    names = [e["name"] for e in project.stored.events(contact["id"])]
    assert names == ["written_before", "together_0", "together_1", "together_2"]


def version_1_body(s: Submission) -> bytes:
    """An entry as the server wrote it before version 2: [1, received_at, timezone, messages, rejections]."""
    _version, [[received, timezone, messages, rejections]] = msgspec.msgpack.decode(journal_codec.encode([s]))
    return msgspec.msgpack.encode([1, received, timezone, messages, rejections])
