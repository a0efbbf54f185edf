"""What a note and a task are, and the rules their input keeps (docs/work.md).

A work item is about a customer: an account or a contact (`subject`), by its id. The rules are
here, once, for the API and the dashboard alike; a broken one raises `WorkItemError` naming the
field and the rule, which api/ answers with a 400 and the dashboard shows beside its form.
"""

from __future__ import annotations

from datetime import date

SUBJECTS = ("account", "contact")
OPEN = "open"
DONE = "done"
DISMISSED = "dismissed"
STATUSES = (OPEN, DONE, DISMISSED)
MAX_TITLE = 500
MAX_NOTE = 20_000


class WorkItemError(ValueError):
    """Input a note or a task cannot take: the field and the rule it breaks, and why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


def checked_subject(subject: str, field: str = "subject") -> str:
    if subject not in SUBJECTS:
        raise WorkItemError(field, "one_of", f"{field} is one of {', '.join(SUBJECTS)}, not {subject!r}")
    return subject


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        raise WorkItemError(field, "required", f"{field} is required")
    if not isinstance(value, str):
        raise WorkItemError(field, "string", f"{field} must be a string")
    cleaned = value.strip()
    if not cleaned:
        raise WorkItemError(field, "required", f"{field} must not be empty")
    if len(cleaned) > limit:
        raise WorkItemError(field, "max_length", f"{field} has at most {limit} characters")
    # PostgreSQL's text cannot hold NUL; what both engines keep must be the same.
    if "\x00" in cleaned:
        raise WorkItemError(field, "no_nul", f"{field} must not contain the NUL character")
    return cleaned


def checked_title(value: object, field: str = "title") -> str:
    """A task's title: trimmed, on one line, 1 to 500 characters."""
    return " ".join(_text(value, field, MAX_TITLE).split())


def checked_body(value: object, field: str = "body") -> str:
    """A note's text: trimmed, 1 to 20,000 characters, its lines kept."""
    return _text(value, field, MAX_NOTE)


def checked_status(value: object, field: str = "status") -> str:
    if value not in STATUSES:
        raise WorkItemError(field, "one_of", f"{field} is one of {', '.join(STATUSES)}, not {value!r}")
    return str(value)


def checked_due(value: object, field: str = "due_on") -> date | None:
    """A due day, `YYYY-MM-DD`, or None (null or an empty string: no due day)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WorkItemError(field, "date", f"{field} is a day, YYYY-MM-DD, or null")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise WorkItemError(field, "date", f"{field} is a day, YYYY-MM-DD, not {value!r}") from None
    if not 1900 <= day.year <= 9999:
        raise WorkItemError(field, "date", f"{field} must be a day between the years 1900 and 9999")
    return day
