"""A playbook: one JSON document saying when (a trigger, optional conditions) to do what
(actions) for which customers, once each or every time (docs/playbooks.md).

```json
{"name": "Payment failed", "enrollment": "every_time", "subject": "account",
 "trigger": {"type": "event", "event": "payment_failed", "where": "amount>100"},
 "conditions": "mrr>1000",
 "actions": [{"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_..."},
             {"type": "task", "title": "Call {{account.name}}", "due_in_days": 2}],
 "enabled": true}
```

Parsed here and only here: `parse_playbook` returns a frozen `Playbook` or raises
`PlaybookError` naming the field (a dotted path such as `actions[1].due_in_days`) and the rule,
which the API answers as a 400 and the dashboard's builder shows beside the document. What needs
I/O to check (a webhook address resolving to a private network, a user who is a member of the
project) is checked by the caller, after this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from salesmachine_server.domain.list_query import (
    CONTROL,
    QueryError,
    Subject,
    parse_list_query,
    read_term,
    split_terms,
)
from salesmachine_server.domain.playbook_templates import TemplateError, parse_template

ENROLLMENTS = ("once", "every_time")
SUBJECTS = ("account", "contact")
BANDS_TO = ("bad", "good", "average", "any")
CHANGES = ("entered", "left")
MOVEMENTS = ("churn", "contraction", "expansion", "any")
STATUSES = ("paying", "churned", "trial", "free")
MAX_NAME = 200
MAX_ACTIONS = 20
MAX_DAYS = 3650
MAX_TEXT = 4000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Trigger kinds by how they fire (project/playbook_runner.py):
# carried by the write path's trigger inbox, in the transaction of the data;
INBOX_TRIGGERS = ("event", "mrr")
# read from health_history's live rows above the runner's watermark;
HISTORY_TRIGGERS = ("health", "status", "stage")
# evaluated by looking at who matches now, periodically and when the day turns.
SCAN_TRIGGERS = ("segment", "pulse_stale", "renewal")
TRIGGER_TYPES = INBOX_TRIGGERS + HISTORY_TRIGGERS + SCAN_TRIGGERS
ACTION_TYPES = ("task", "set_owner", "webhook", "slack", "email")


class PlaybookError(ValueError):
    """A playbook document that cannot be read: the field and the rule it breaks, and why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Trigger:
    """What starts a playbook. Only the fields of its type are set (the others keep defaults)."""

    type: str
    event: str | None = None  # event: its name
    where: str = ""  # event: conditions on its params, in the terms of the list language
    to: str | None = None  # health: the band entered, or "any" change of band
    status: str | None = None  # status
    stage: str | None = None  # stage
    change: str = "entered"  # status, stage, segment: entered or left
    segment: str | None = None  # segment: a saved segment's name
    movement: str | None = None  # mrr: churn, contraction, expansion, any
    at_least: float = 0.0  # mrr: the size of the move, in the project's currency
    within_days: int | None = None  # renewal
    field: str = "renewal_date"  # renewal: the param holding the date

    @property
    def listens_to_event(self) -> str | None:
        return self.event if self.type == "event" else None

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type}
        if self.type == "event":
            doc["event"] = self.event
            if self.where:
                doc["where"] = self.where
        elif self.type == "health":
            doc["to"] = self.to
        elif self.type in ("status", "stage", "segment"):
            doc[self.type] = getattr(self, self.type)
            doc["change"] = self.change
        elif self.type == "mrr":
            doc["movement"] = self.movement
            doc["at_least"] = self.at_least
        elif self.type == "renewal":
            doc["within_days"] = self.within_days
            doc["field"] = self.field
        return doc

    def matches_params(self, params: dict[str, Any]) -> bool:
        """Whether an event's params meet `where` (every term holds)."""
        return all(_term_holds(term, params) for term in _where_terms(self.where))

    def matches_move(self, before: float | None, after: float | None) -> bool:
        """Whether an mrr change from `before` to `after` is the movement this trigger wants."""
        old, new = before or 0.0, after or 0.0
        kind = movement(old, new)
        if kind is None:
            return False
        return (self.movement in ("any", kind)) and abs(new - old) >= self.at_least


@dataclass(frozen=True)
class State:
    """A customer's state as the health history holds it (store/read/health_states.py)."""

    status: str
    stage: str | None
    band: str | None


def change_detail(trigger: Trigger, before: State | None, after: State) -> dict[str, Any] | None:
    """What a health, status or stage trigger sees in a change of state from `before` (None:
    the customer's first state) to `after`: None when it does not fire on it, else the change,
    for the webhook body and the run's record."""
    if trigger.type == "health":
        was = None if before is None else before.band
        if trigger.to == "any":
            fires = before is not None and was != after.band
        else:
            fires = after.band == trigger.to and was != trigger.to
        return {"from": was, "to": after.band} if fires else None
    if trigger.type not in ("status", "stage"):
        return None
    wanted = trigger.status if trigger.type == "status" else trigger.stage
    was = None if before is None else getattr(before, trigger.type)
    now = getattr(after, trigger.type)
    if trigger.change == "entered":
        fires = now == wanted and was != wanted
    else:
        fires = before is not None and was == wanted and now != wanted
    return {"from": was, "to": now} if fires else None


def movement(before: float, after: float) -> str | None:
    """The move from one mrr to the next, as domain/revenue.py names moves (None: none counted)."""
    if before > 0 and after <= 0:
        return "churn"
    if before > 0 and after < before:
        return "contraction"
    if before > 0 and after > before:
        return "expansion"
    return None


@dataclass(frozen=True)
class Action:
    type: str
    title: str = ""  # task (a template)
    due_in_days: int = 0  # task
    assignee: str = "owner"  # task: "owner" or a user's e-mail
    user: str | None = None  # set_owner: a user's e-mail
    url: str | None = None  # webhook, slack
    secret: str | None = None  # webhook
    text: str = ""  # slack, email, webhook (optional "message"): a template
    to: str | None = None  # email: an address, or "owner"
    subject: str = ""  # email (a template)

    def to_document(self) -> dict[str, Any]:
        if self.type == "task":
            return {"type": "task", "title": self.title, "due_in_days": self.due_in_days, "assignee": self.assignee}
        if self.type == "set_owner":
            return {"type": "set_owner", "user": self.user}
        if self.type == "webhook":
            doc: dict[str, Any] = {"type": "webhook", "url": self.url, "secret": self.secret}
            if self.text:
                doc["message"] = self.text
            return doc
        if self.type == "slack":
            return {"type": "slack", "url": self.url, "text": self.text}
        return {"type": "email", "to": self.to, "subject": self.subject, "text": self.text}

    def user_emails(self) -> list[str]:
        """The dashboard users this action names, which must be members of the project."""
        if self.type == "task" and self.assignee != "owner":
            return [self.assignee]
        if self.type == "set_owner" and self.user is not None:
            return [self.user]
        return []


@dataclass(frozen=True)
class Playbook:
    name: str
    enrollment: str
    subject: str
    trigger: Trigger
    conditions: str
    actions: tuple[Action, ...]
    enabled: bool = True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def once(self) -> bool:
        return self.enrollment == "once"

    @property
    def list_subject(self) -> Subject:
        return Subject.ACCOUNTS if self.subject == "account" else Subject.CONTACTS

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "name": self.name,
            "enrollment": self.enrollment,
            "subject": self.subject,
            "trigger": self.trigger.to_document(),
            "conditions": self.conditions,
            "actions": [action.to_document() for action in self.actions],
            "enabled": self.enabled,
        }
        if self.description:
            doc["description"] = self.description
        return doc

    def user_emails(self) -> list[str]:
        return [email for action in self.actions for email in action.user_emails()]

    def delivery_urls(self) -> list[tuple[str, str]]:
        """(field, url) of each outbound address, for the caller's address check."""
        return [(f"actions[{i}].url", a.url) for i, a in enumerate(self.actions) if a.url is not None]


def parse_playbook(document: Any) -> Playbook:
    """The playbook `document` says; PlaybookError naming the first field that is wrong."""
    doc = _object(document, "playbook")
    _known(doc, "", {"name", "enrollment", "subject", "trigger", "conditions", "actions", "enabled", "description"})
    name = _text(doc.get("name"), "name", MAX_NAME)
    enrollment = _one_of(doc.get("enrollment", "once"), "enrollment", ENROLLMENTS)
    subject = _one_of(doc.get("subject", "account"), "subject", SUBJECTS)
    trigger = _trigger(doc.get("trigger"))
    conditions = _conditions(doc.get("conditions", ""), subject)
    actions_value = doc.get("actions")
    if not isinstance(actions_value, list) or not actions_value:
        raise PlaybookError("actions", "required", "actions is a list of at least one action")
    if len(actions_value) > MAX_ACTIONS:
        raise PlaybookError("actions", "max_items", f"a playbook has at most {MAX_ACTIONS} actions")
    actions = tuple(_action(value, f"actions[{i}]", trigger) for i, value in enumerate(actions_value))
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise PlaybookError("enabled", "boolean", "enabled is true or false")
    description = doc.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_TEXT:
        raise PlaybookError("description", "text", f"description is text of at most {MAX_TEXT} characters")
    return Playbook(name, enrollment, subject, trigger, conditions, actions, enabled, description)


def _trigger(value: Any) -> Trigger:
    doc = _object(value, "trigger")
    kind = _one_of(doc.get("type"), "trigger.type", TRIGGER_TYPES)
    if kind == "event":
        _known(doc, "trigger.", {"type", "event", "where"})
        event = _text(doc.get("event"), "trigger.event", 255)
        where = _where(doc.get("where", ""))
        return Trigger(kind, event=event, where=where)
    if kind == "health":
        _known(doc, "trigger.", {"type", "to"})
        return Trigger(kind, to=_one_of(doc.get("to", "bad"), "trigger.to", BANDS_TO))
    if kind in ("status", "stage"):
        _known(doc, "trigger.", {"type", kind, "change"})
        change = _one_of(doc.get("change", "entered"), "trigger.change", CHANGES)
        if kind == "status":
            return Trigger(kind, status=_one_of(doc.get("status"), "trigger.status", STATUSES), change=change)
        return Trigger(kind, stage=_text(doc.get("stage"), "trigger.stage", 200), change=change)
    if kind == "segment":
        _known(doc, "trigger.", {"type", "segment", "change"})
        change = _one_of(doc.get("change", "entered"), "trigger.change", CHANGES)
        return Trigger(kind, segment=_text(doc.get("segment"), "trigger.segment", 200), change=change)
    if kind == "mrr":
        _known(doc, "trigger.", {"type", "movement", "at_least"})
        moved = _one_of(doc.get("movement", "any"), "trigger.movement", MOVEMENTS)
        at_least = doc.get("at_least", 0)
        if isinstance(at_least, bool) or not isinstance(at_least, (int, float)) or not 0 <= at_least < 10**12:
            raise PlaybookError("trigger.at_least", "number", "at_least is a number from 0 (the size of the move)")
        return Trigger(kind, movement=moved, at_least=float(at_least))
    if kind == "pulse_stale":
        _known(doc, "trigger.", {"type"})
        return Trigger(kind)
    _known(doc, "trigger.", {"type", "within_days", "field"})
    within = _days(doc.get("within_days"), "trigger.within_days", minimum=0)
    param = doc.get("field", "renewal_date")
    if not isinstance(param, str) or not param or len(param) > 255:
        raise PlaybookError("trigger.field", "text", "field names the param holding the renewal date")
    return Trigger(kind, within_days=within, field=param.removeprefix("params."))


def _action(value: Any, at: str, trigger: Trigger) -> Action:
    doc = _object(value, at)
    kind = _one_of(doc.get("type"), f"{at}.type", ACTION_TYPES)
    if kind == "task":
        _known(doc, f"{at}.", {"type", "title", "due_in_days", "assignee"})
        title = _template(doc.get("title"), f"{at}.title", trigger, 500)
        due = _days(doc.get("due_in_days", 0), f"{at}.due_in_days", minimum=0)
        assignee = doc.get("assignee", "owner")
        if assignee != "owner":
            assignee = _email(assignee, f"{at}.assignee", 'assignee is "owner" or a dashboard user\'s e-mail')
        return Action(kind, title=title, due_in_days=due, assignee=assignee)
    if kind == "set_owner":
        _known(doc, f"{at}.", {"type", "user"})
        return Action(kind, user=_email(doc.get("user"), f"{at}.user", "user is a dashboard user's e-mail"))
    if kind == "webhook":
        _known(doc, f"{at}.", {"type", "url", "secret", "message"})
        secret = doc.get("secret")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 255:
            raise PlaybookError(f"{at}.secret", "secret", "secret is text of 8 to 255 characters (it signs the body)")
        message = _template(doc.get("message", ""), f"{at}.message", trigger, MAX_TEXT, required=False)
        return Action(kind, url=_url(doc.get("url"), f"{at}.url"), secret=secret, text=message)
    if kind == "slack":
        _known(doc, f"{at}.", {"type", "url", "text"})
        text = _template(doc.get("text"), f"{at}.text", trigger, MAX_TEXT)
        return Action(kind, url=_url(doc.get("url"), f"{at}.url"), text=text)
    _known(doc, f"{at}.", {"type", "to", "subject", "text"})
    to = doc.get("to")
    if to != "owner":
        to = _email(to, f"{at}.to", 'to is an e-mail address, or "owner"')
    subject = _template(doc.get("subject"), f"{at}.subject", trigger, 500)
    text = _template(doc.get("text", ""), f"{at}.text", trigger, MAX_TEXT, required=False)
    return Action(kind, to=to, subject=subject, text=text)


# -- conditions --------------------------------------------------------------------------


def _conditions(value: Any, subject: str) -> str:
    """The list filter language, as GET /v1/accounts takes it (filters only)."""
    text = _query_text(value, "conditions")
    list_subject = Subject.ACCOUNTS if subject == "account" else Subject.CONTACTS
    for term_text in split_terms(text):
        term = read_term(term_text)
        if term is not None and term.field in CONTROL:
            raise PlaybookError("conditions", "filters_only", f"conditions are filters; {term.field} is not one")
    try:
        parse_list_query(text, list_subject)
    except QueryError as exc:
        raise PlaybookError("conditions", exc.rule, f"conditions: {exc.message} ({exc.field})") from None
    return text


def _where(value: Any) -> str:
    """An event's conditions on its params: `amount>100&plan=pro` (every term holds)."""
    text = _query_text(value, "trigger.where")
    for term_text in split_terms(text):
        term = read_term(term_text)
        if term is None or not term.field.removeprefix("params."):
            raise PlaybookError(
                "trigger.where", "filter", f"cannot read {term_text!r}: write key=value, key>value, ..."
            )
    return text


def _query_text(value: Any, at: str) -> str:
    if isinstance(value, list):  # ["mrr>1000", "plan=pro"]: the terms, one a string
        if not all(isinstance(v, str) for v in value):
            raise PlaybookError(at, "filter", f"{at} is a query string, or a list of terms as strings")
        value = "&".join(value)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise PlaybookError(at, "filter", f"{at} is a query string of the list filter language (mrr>1000&plan=pro)")
    return value


def _where_terms(where: str) -> list[tuple[str, str, str]]:
    terms = []
    for text in split_terms(where):
        term = read_term(text)
        assert term is not None  # parse_playbook checked
        terms.append((term.field.removeprefix("params."), term.op, term.value))
    return terms


def _term_holds(term: tuple[str, str, str], params: dict[str, Any]) -> bool:
    key, op, wanted = term
    value = params.get(key)
    if wanted == "" and op in ("=", "!="):  # key= missing, key!= present
        return (value is None) == (op == "=")
    if value is None:
        return op == "!="
    left: Any = value
    right: Any = wanted
    number = _as_number(wanted)
    if number is not None and _as_number(value) is not None:
        left, right = _as_number(value), number
    else:
        left = _as_text(value)
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        return bool({">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op])
    except TypeError:
        return False


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def renewal_day(params: dict[str, Any], key: str) -> date | None:
    """The renewal date a param holds (an ISO date or time, or epoch seconds), else None."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 10**11:
        return datetime.utcfromtimestamp(value).date()
    return None


# -- small readers -------------------------------------------------------------------------


def _object(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PlaybookError(at, "object", f"{at} is a JSON object")
    return value


def _known(doc: dict[str, Any], prefix: str, names: set[str]) -> None:
    for key in doc:
        if key not in names:
            where = prefix.rstrip(".") or "the playbook"
            raise PlaybookError(
                f"{prefix}{key}", "unknown_field", f"{where} has no field {key!r} (it takes {', '.join(sorted(names))})"
            )


def _text(value: Any, at: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PlaybookError(at, "required", f"{at} is required text")
    if len(value) > limit or "\x00" in value:
        raise PlaybookError(at, "text", f"{at} is at most {limit} characters, without NUL")
    return value.strip()


def _one_of(value: Any, at: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise PlaybookError(at, "one_of", f"{at} is one of {', '.join(choices)}")
    return str(value)


def _days(value: Any, at: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DAYS:
        raise PlaybookError(at, "days", f"{at} is a whole number of days from {minimum} to {MAX_DAYS}")
    return value


def _email(value: Any, at: str, message: str) -> str:
    if not isinstance(value, str) or len(value) > 320 or not _EMAIL.match(value.strip()):
        raise PlaybookError(at, "email", message)
    return value.strip().lower()


def _url(value: Any, at: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/?#]+", value) or len(value) > 2000:
        raise PlaybookError(at, "url", f"{at} is an http:// or https:// address")
    return value


def _template(value: Any, at: str, trigger: Trigger, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    text = _text(value, at, limit) if required else value
    if not isinstance(text, str) or len(text) > limit:
        raise PlaybookError(at, "text", f"{at} is text of at most {limit} characters")
    try:
        parse_template(text, with_event=trigger.type == "event")
    except TemplateError as exc:
        raise PlaybookError(at, "template", f"{at}: {exc}") from None
    return text
