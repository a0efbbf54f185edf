"""The journal's append thread (ingest/journal_append.py `JournalAppend`): every submission is
answered once its group is on disk, a failed append answers its group with the failure and the
thread goes on, and a failure after the append (counting it) still answers 201."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from salesmachine_server.errors import StoreUnavailable
from salesmachine_server.ingest.journal import Journal
from salesmachine_server.ingest.journal_append import JournalAppend
from tests.fast.test_journal_entries import submission


def run(journal: Journal, **patch: object) -> list[object]:
    """Submit three submissions at once, then one more, on a started JournalAppend: the outcome
    of each (None: appended, else the exception). A submission never answered fails the test
    after 10 s rather than hanging it."""

    async def go() -> list[object]:
        appender = JournalAppend(journal)
        for name, value in patch.items():
            setattr(appender, name, value)
        await appender.start()
        try:
            together = [appender.submit(submission(1, f"c{i}", "used")) for i in range(3)]
            first = await asyncio.wait_for(asyncio.gather(*together, return_exceptions=True), 10)
            late = appender.submit(submission(1, "late", "used"))
            second = await asyncio.wait_for(asyncio.gather(late, return_exceptions=True), 10)
        finally:
            await appender.stop()
        return [*first, *second]

    return asyncio.run(go())


def test_every_submission_is_answered_once_on_disk(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    assert run(journal) == [None, None, None, None]
    assert journal.depth().items == 4 and journal.acknowledged() >= 1


def test_a_failed_append_answers_its_group_with_503s_and_the_thread_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    real_append = journal.append
    calls = []

    def append_failing_first(entries: list) -> int:  # type: ignore[type-arg]
        calls.append(entries)
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        return real_append(entries)

    monkeypatch.setattr(journal, "append", append_failing_first)
    outcomes = run(journal)
    failed = [o for o in outcomes if o is not None]
    assert failed and all(isinstance(o, StoreUnavailable) for o in failed)
    assert outcomes[-1] is None  # the submission after the failure is appended
    assert journal.depth().items == outcomes.count(None)


def test_a_failure_after_the_append_still_answers_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")

    def counting_fails(_group: object) -> None:
        raise RuntimeError("a metrics file went away")

    assert run(journal, _count=counting_fails) == [None, None, None, None]
    assert journal.depth().items == 4
