"""What the work-items endpoints answer (docs/work.md): a task, a page of tasks, a note, a list
of notes, an owner. Closed msgspec Structs as api/models.py's, whose schemas api/work_openapi.py
generates into /openapi.json."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from salesmachine_server.api.models import At, Closed, Day, NextCursor, Owner, one_of
from salesmachine_server.domain.work_items import STATUSES

if TYPE_CHECKING:
    Status = str
else:
    Status = one_of(STATUSES)


class Task(Closed, kw_only=True, omit_defaults=True):
    """A task; its customer by account_uid or contact_uid (exactly one of the two)."""

    id: Annotated[int, Meta(ge=1)]
    title: str
    status: Annotated[Status, Meta(description="open, done or dismissed.")]
    account_uid: str | UnsetType = UNSET
    contact_uid: Annotated[str | UnsetType, Meta(description="The uid the contact was first known by.")] = UNSET
    name: Annotated[str | None, Meta(description="The customer's params.name (a contact's e-mail); null if none.")]
    assignee: Annotated[str | None, Meta(description="The assignee's e-mail address; null when unassigned.")]
    due_on: Annotated[Day | None, Meta(description="The day it is due; null when none.")]
    overdue: Annotated[bool, Meta(description="Open, and due before today in the project's time zone.")]
    playbook_id: Annotated[int | None, Meta(description="The playbook that made it; null when a person did.")]
    created_at: At
    completed_at: Annotated[At | None, Meta(description="When it was marked done or dismissed; null while open.")]


class TaskPage(Closed):
    data: Annotated[
        list[Task], Meta(description="Due soonest first: overdue first, without a due day last, then as created.")
    ]
    next_cursor: NextCursor


class Note(Closed, kw_only=True, omit_defaults=True):
    """A note on an account or a contact."""

    id: Annotated[int, Meta(ge=1)]
    account_uid: str | UnsetType = UNSET
    contact_uid: str | UnsetType = UNSET
    author: Annotated[str, Meta(description="Its author's e-mail address, or API when written through the API.")]
    body: str
    created_at: At
    updated_at: Annotated[At, Meta(description="When it was last edited (created_at if never).")]


class NotePage(Closed):
    data: Annotated[list[Note], Meta(description="Newest first.")]
    next_cursor: NextCursor


class AccountOwner(Closed):
    account_uid: str
    owner: Owner


class ContactOwner(Closed):
    contact_uid: str
    owner: Owner


WORK_MODELS: tuple[type[msgspec.Struct], ...] = (Task, TaskPage, Note, NotePage, AccountOwner, ContactOwner)


def schema_components(ref_template: str) -> dict[str, Any]:
    task_one_of = {"oneOf": [{"required": ["account_uid"]}, {"required": ["contact_uid"]}]}
    _, components = msgspec.json.schema_components(WORK_MODELS, ref_template=ref_template)
    components["Task"].update(task_one_of)
    components["Note"].update(task_one_of)
    return components
