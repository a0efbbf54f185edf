"""A journal entry holds the submissions of one project that one append took together
(ingest/journal_append.py `entries_of`, ingest/journal_codec.py), in the order they came; the
entries written by servers before (one submission, version 1; messages as lists, version 2),
which a journal may hold when its server is upgraded, are still read and applied."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from salesmachine_server.domain.enrichment import Agent, Enrichment, Location
from salesmachine_server.domain.messages import Message, parse_item
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


def test_an_entry_of_version_2_is_read_as_it_was_written() -> None:
    enriched = submission(1, "a", "located")
    enriched.messages[0].enrichment = Enrichment(
        Location("public", "FR"), Agent("Firefox", "120", "Linux", None, "desktop")
    )
    group = [enriched, submission(1, "b", "refused", seconds=1)]
    parts = journal_codec.decode(version_2_body(group))
    assert [(p.received_at, p.timezone, p.messages, p.rejections) for p in parts] == [
        (s.received_at, s.timezone, s.messages, s.rejections) for s in group
    ]


def test_the_projector_applies_entries_of_every_version(inprocess: InProcess, project: Project) -> None:
    journal = Journal(journal_path(inprocess.database_url))
    one = submission(project.id, "upgraded", "written_first")
    two = submission(project.id, "upgraded", "written_second", seconds=1)
    many = [submission(project.id, "upgraded", f"together_{i}", seconds=2 + i) for i in range(3)]
    at = journal_codec.micros(NOW) / 1e6
    journal.append(
        [
            NewEntry(project.id, at, 1, version_1_body(one)),
            NewEntry(project.id, at + 1, 1, version_2_body([two])),
            *entries_of(many),
        ]
    )
    contact = project.stored.contact("upgraded")
    assert contact is not None
    names = [e["name"] for e in project.stored.events(contact["id"])]
    assert names == ["written_first", "written_second", "together_0", "together_1", "together_2"]


def version_1_body(s: Submission) -> bytes:
    """An entry as the server wrote it before version 2: [1, received_at, timezone, messages, rejections]."""
    _version, [part] = msgspec.msgpack.decode(version_2_body([s]))
    return msgspec.msgpack.encode([1, *part])


def version_2_body(group: list[Submission]) -> bytes:
    """An entry as the server wrote it before version 3: each message a list of its fields, its
    time in integer microseconds, its enrichment the lists of its location's and agent's values."""
    return msgspec.msgpack.encode(
        [
            2,
            [
                [
                    journal_codec.micros(s.received_at),
                    s.timezone,
                    [_version_2_message(m) for m in s.messages],
                    [r | {"received_at": journal_codec.micros(r["received_at"])} for r in s.rejections],
                ]
                for s in group
            ],
        ]
    )


def _version_2_message(m: Message) -> list[object]:
    enrichment = None
    if m.enrichment is not None:
        location, agent = m.enrichment.location, m.enrichment.agent
        enrichment = [
            None if location is None else list(location.columns),
            None if agent is None else list(agent.columns),
        ]
    occurred = None if m.occurred_at is None else journal_codec.micros(m.occurred_at)
    return [str(m.kind), m.contact_uid, m.account_uid, m.event_name, m.alias, m.params, occurred, m.message_id,
            enrichment, m.account_given, m.import_key]  # fmt: skip
