"""The health model: what status, lifecycle stage and health band a customer is in, and why.

One JSON document per project (GET and PUT /v1/settings/health, docs/health.md), for accounts
and for contacts separately:

- `trial_when`: a condition in the list filter language (domain/list_query.py); the status is
  `paying` while mrr > 0, `churned` once mrr was > 0 and is not any more, else `trial` when
  this condition holds and `free` when not.
- `stages`: ordered, each a name and a condition; a customer is in the LAST stage whose
  condition holds (none: no stage).
- `rules`: each for a stage (or `"stage": null`, for all the others): `bad` holds when any of
  its signals holds, `good` when all of its signals hold; bad is checked first, average otherwise.
  Churned customers and those never active have no band.

This module parses, writes back and explains; it does no I/O. How a customer's signals are
computed over days is domain/health_timeline.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from salesmachine_server.domain.health import AVERAGE, BAD, GOOD, HealthRule
from salesmachine_server.domain.list_query import (
    CONTROL,
    Filter,
    QueryError,
    Subject,
    parse_list_query,
    split_terms,
)

PAYING, CHURNED, TRIAL, FREE = "paying", "churned", "trial", "free"
STATUSES = (PAYING, CHURNED, TRIAL, FREE)
SUBJECTS = ("account", "contact")  # the words of health_history.subject
DOCUMENT_KEYS = {"account": "accounts", "contact": "contacts"}

SIGNALS = ("active_days", "event", "milestone", "attribute", "mrr_contraction", "pulse")
MAX_WINDOW_DAYS = 730  # a window of two years at most: the history's own horizon
DEFAULT_PULSE_STALE_AFTER_DAYS = 90
MAX_STAGES = 20
MAX_SIGNALS = 20


class DocumentError(ValueError):
    """A health document the server cannot use: where (a dotted path), the rule it breaks, why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Condition:
    """A condition in the list filter language, as written and as parsed (its filters, ANDed)."""

    text: str
    filters: tuple[Filter, ...]

    @classmethod
    def parse(cls, text: object, subject: str, where: str) -> Condition:
        if not isinstance(text, str) or not text.strip():
            raise DocumentError(where, "condition", f"{where} must be a condition such as plan=trial")
        terms = split_terms(text)
        for term in terms:
            name = term.split("=")[0].rstrip("<>!").strip()
            if name in CONTROL:
                raise DocumentError(where, "condition", f"{where}: {name} is not a condition (filters only)")
        try:
            query = parse_list_query(text, Subject.ACCOUNTS if subject == "account" else Subject.CONTACTS)
        except QueryError as exc:
            raise DocumentError(where, exc.rule, f"{where}: {exc.message}") from None
        if not query.filters:
            raise DocumentError(where, "condition", f"{where} must hold at least one filter, such as plan=trial")
        if any(one.field == "health" for one in query.filters):
            raise DocumentError(where, "no_health", f"{where}: a condition cannot use health, which it decides")
        return cls(text.strip(), tuple(query.filters))


@dataclass(frozen=True)
class Signal:
    """One signal of a rule. `kind` is one of SIGNALS; the other fields are those it takes."""

    kind: str
    days: int | None = None
    event: str | None = None
    at_least: int | None = None
    at_most: int | None = None
    done: bool | None = None
    condition: Condition | None = None

    def to_document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"signal": self.kind}
        if self.event is not None:
            out["event"] = self.event
        if self.days is not None:
            out["days"] = self.days
        if self.done is not None:
            out["done"] = self.done
        if self.condition is not None:
            out["condition"] = self.condition.text
        if self.at_least is not None:
            out["at_least"] = self.at_least
        if self.at_most is not None:
            out["at_most"] = self.at_most
        return out


@dataclass(frozen=True)
class Rule:
    stage: str | None
    good: tuple[Signal, ...]
    bad: tuple[Signal, ...]


@dataclass(frozen=True)
class Stage:
    name: str
    when: Condition


@dataclass(frozen=True)
class SubjectModel:
    """The status condition, stages and rules of accounts, or of contacts."""

    trial_when: Condition | None
    stages: tuple[Stage, ...]
    rules: tuple[Rule, ...]

    def rule_for(self, stage: str | None) -> Rule | None:
        """The rule of the customer's stage, else the one for every stage (`"stage": null`)."""
        fallback = None
        for rule in self.rules:
            if rule.stage is not None and rule.stage == stage:
                return rule
            if rule.stage is None and fallback is None:
                fallback = rule
        return fallback

    def signals(self) -> list[Signal]:
        return [signal for rule in self.rules for signal in (*rule.bad, *rule.good)]

    def conditions(self) -> list[Condition]:
        """Every condition the model evaluates: trial_when, each stage's, each attribute signal's."""
        found = [self.trial_when] if self.trial_when is not None else []
        found += [stage.when for stage in self.stages]
        found += [s.condition for s in self.signals() if s.condition is not None]
        return found

    def to_document(self) -> dict[str, Any]:
        return {
            "trial_when": self.trial_when.text if self.trial_when is not None else None,
            "stages": [{"name": stage.name, "when": stage.when.text} for stage in self.stages],
            "rules": [
                {
                    "stage": rule.stage,
                    "good": [s.to_document() for s in rule.good],
                    "bad": [s.to_document() for s in rule.bad],
                }
                for rule in self.rules
            ],
        }


@dataclass(frozen=True)
class HealthModel:
    accounts: SubjectModel
    contacts: SubjectModel
    pulse_stale_after_days: int = DEFAULT_PULSE_STALE_AFTER_DAYS

    def of(self, subject: str) -> SubjectModel:
        return self.accounts if subject == "account" else self.contacts

    @classmethod
    def default(cls) -> HealthModel:
        """Today's rule: active days in 14 days, good more than 4, bad 0 or fewer."""
        return cls.from_rule(HealthRule())

    @classmethod
    def from_rule(cls, rule: HealthRule) -> HealthModel:
        """The model of a project that never saved one: its settings' active-days thresholds
        (domain/health.py), `plan=trial` for trials, no stages."""
        rules = (
            Rule(
                stage=None,
                good=(Signal("active_days", days=rule.window_days, at_least=rule.good_above + 1),),
                bad=(Signal("active_days", days=rule.window_days, at_most=rule.bad_at_most),),
            ),
        )
        accounts = SubjectModel(Condition.parse("plan=trial", "account", "accounts.trial_when"), (), rules)
        contacts = SubjectModel(Condition.parse("plan=trial", "contact", "contacts.trial_when"), (), rules)
        return cls(accounts, contacts)

    @classmethod
    def parse(cls, document: object) -> HealthModel:
        """The model a document describes; DocumentError naming the first field that is wrong."""
        if not isinstance(document, Mapping):
            raise DocumentError("document", "object", "the health document must be a JSON object")
        _known(document, ("accounts", "contacts", "pulse_stale_after_days"), "")
        stale = document.get("pulse_stale_after_days", DEFAULT_PULSE_STALE_AFTER_DAYS)
        stale_days = _whole(stale, "pulse_stale_after_days", 1, MAX_WINDOW_DAYS)
        parts = {}
        for subject, key in DOCUMENT_KEYS.items():
            if key not in document:
                raise DocumentError(key, "required", f"{key} is required: its trial_when, stages and rules")
            parts[subject] = _subject_model(document[key], subject, key)
        return cls(parts["account"], parts["contact"], stale_days)

    def to_document(self) -> dict[str, Any]:
        return {
            "accounts": self.accounts.to_document(),
            "contacts": self.contacts.to_document(),
            "pulse_stale_after_days": self.pulse_stale_after_days,
        }


# -- parsing ---------------------------------------------------------------------------------


def _known(document: Mapping[str, Any], keys: Sequence[str], where: str) -> None:
    for key in document:
        if key not in keys:
            path = f"{where}.{key}" if where else str(key)
            raise DocumentError(path, "known_field", f"{path} is not a field here; the fields are {', '.join(keys)}")


def _whole(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DocumentError(where, "whole_number", f"{where} must be a whole number from {low} to {high}")
    return value


def _list(value: object, where: str, most: int) -> list[Any]:
    if not isinstance(value, list):
        raise DocumentError(where, "list", f"{where} must be a list")
    if len(value) > most:
        raise DocumentError(where, "at_most", f"{where} holds at most {most} entries")
    return value


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DocumentError(where, "object", f"{where} must be an object")
    return value


def _subject_model(value: object, subject: str, where: str) -> SubjectModel:
    part = _object(value, where)
    _known(part, ("trial_when", "stages", "rules"), where)
    trial = part.get("trial_when")
    trial_when = None if trial is None else Condition.parse(trial, subject, f"{where}.trial_when")
    stages: list[Stage] = []
    for i, raw in enumerate(_list(part.get("stages", []), f"{where}.stages", MAX_STAGES)):
        at = f"{where}.stages[{i}]"
        stage = _object(raw, at)
        _known(stage, ("name", "when"), at)
        name = stage.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
            raise DocumentError(f"{at}.name", "name", f"{at}.name must be a name of 1 to 200 characters")
        if any(s.name == name.strip() for s in stages):
            raise DocumentError(f"{at}.name", "unique", f"{at}.name: there is already a stage named {name!r}")
        stages.append(Stage(name.strip(), Condition.parse(stage.get("when"), subject, f"{at}.when")))
    rules: list[Rule] = []
    raw_rules = _list(part.get("rules"), f"{where}.rules", MAX_STAGES + 1)
    for i, raw in enumerate(raw_rules):
        at = f"{where}.rules[{i}]"
        rule = _object(raw, at)
        _known(rule, ("stage", "good", "bad"), at)
        stage_name = rule.get("stage")
        if stage_name is not None and not any(s.name == stage_name for s in stages):
            raise DocumentError(f"{at}.stage", "known_stage", f"{at}.stage names no stage of {where}.stages")
        if any(r.stage == stage_name for r in rules):
            raise DocumentError(f"{at}.stage", "unique", f"{at}.stage: there is already a rule for this stage")
        good = tuple(
            _signal(s, subject, f"{at}.good[{j}]")
            for j, s in enumerate(_list(rule.get("good", []), f"{at}.good", MAX_SIGNALS))
        )
        bad = tuple(
            _signal(s, subject, f"{at}.bad[{j}]")
            for j, s in enumerate(_list(rule.get("bad", []), f"{at}.bad", MAX_SIGNALS))
        )
        rules.append(Rule(stage_name, good, bad))
    if not any(r.stage is None for r in rules):
        raise DocumentError(f"{where}.rules", "fallback", f'{where}.rules needs one rule with "stage": null')
    return SubjectModel(trial_when, tuple(stages), tuple(rules))


# The fields each signal takes besides `signal`, and those it requires.
_SIGNAL_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "active_days": (("days", "at_least", "at_most"), ("days",)),
    "event": (("event", "days", "at_least", "at_most"), ("event", "days")),
    "milestone": (("event", "done"), ("event", "done")),
    "attribute": (("condition",), ("condition",)),
    "mrr_contraction": (("days",), ("days",)),
    "pulse": (("at_least", "at_most"), ()),
}


def _signal(value: object, subject: str, where: str) -> Signal:
    raw = _object(value, where)
    kind = raw.get("signal")
    if kind not in _SIGNAL_FIELDS:
        raise DocumentError(f"{where}.signal", "one_of", f"{where}.signal must be one of {', '.join(SIGNALS)}")
    fields, required = _SIGNAL_FIELDS[kind]
    _known(raw, ("signal", *fields), where)
    for name in required:
        if name not in raw:
            raise DocumentError(f"{where}.{name}", "required", f"{where}.{name} is required for a {kind} signal")
    days = _whole(raw["days"], f"{where}.days", 1, MAX_WINDOW_DAYS) if "days" in raw else None
    event = None
    if "event" in raw:
        event = raw["event"]
        if not isinstance(event, str) or not event or len(event) > 255 or "\x00" in event:
            raise DocumentError(f"{where}.event", "event", f"{where}.event must be an event name")
    done = None
    if "done" in raw:
        if not isinstance(raw["done"], bool):
            raise DocumentError(f"{where}.done", "boolean", f"{where}.done must be true or false")
        done = raw["done"]
    condition = Condition.parse(raw["condition"], subject, f"{where}.condition") if "condition" in raw else None
    at_least = at_most = None
    if "at_least" in fields:
        bound = 5 if kind == "pulse" else 1_000_000
        if ("at_least" in raw) == ("at_most" in raw):
            raise DocumentError(where, "one_bound", f"{where} takes one of at_least and at_most")
        if "at_least" in raw:
            at_least = _whole(raw["at_least"], f"{where}.at_least", 0, bound)
        else:
            at_most = _whole(raw["at_most"], f"{where}.at_most", 0, bound)
    return Signal(kind, days=days, event=event, at_least=at_least, at_most=at_most, done=done, condition=condition)


# -- judging one customer on one day -----------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the signals of one customer read on one day (domain/health_timeline.py fills it)."""

    active_days: Mapping[int, int] = field(default_factory=dict)  # window -> active days in it
    events: Mapping[tuple[str, int], int] = field(default_factory=dict)  # (name, window) -> times
    milestones: Mapping[str, bool] = field(default_factory=dict)  # name -> ever done by that day
    conditions: Mapping[str, bool] = field(default_factory=dict)  # condition text -> holds
    contractions: Mapping[int, bool] = field(default_factory=dict)  # window -> mrr fell in it
    pulse: int | None = None  # the score of the Pulse in force and not stale


def holds(signal: Signal, facts: Facts) -> bool:
    """Whether a signal holds for these facts (a missing Pulse holds no pulse signal)."""
    if signal.kind == "milestone":
        return facts.milestones.get(signal.event or "", False) == signal.done
    if signal.kind == "attribute":
        return signal.condition is not None and facts.conditions.get(signal.condition.text, False)
    if signal.kind == "mrr_contraction":
        return facts.contractions.get(signal.days or 0, False)
    value = _value(signal, facts)
    if value is None:
        return False
    return value >= signal.at_least if signal.at_least is not None else value <= (signal.at_most or 0)


def _value(signal: Signal, facts: Facts) -> int | None:
    if signal.kind == "active_days":
        return facts.active_days.get(signal.days or 0, 0)
    if signal.kind == "event":
        return facts.events.get((signal.event or "", signal.days or 0), 0)
    return facts.pulse


def describe(signal: Signal, facts: Facts) -> str:
    """The signal's value in words, e.g. "no `login` in 21 days", "0 active days of 14"."""
    if signal.kind == "active_days":
        n = facts.active_days.get(signal.days or 0, 0)
        return f"{n} active day{'' if n == 1 else 's'} of {signal.days}"
    if signal.kind == "event":
        n = facts.events.get((signal.event or "", signal.days or 0), 0)
        if n == 0:
            return f"no `{signal.event}` in {signal.days} days"
        return f"`{signal.event}` {n} time{'' if n == 1 else 's'} in {signal.days} days"
    if signal.kind == "milestone":
        done = facts.milestones.get(signal.event or "", False)
        return f"did `{signal.event}`" if done else f"never did `{signal.event}`"
    if signal.kind == "attribute":
        assert signal.condition is not None
        ok = facts.conditions.get(signal.condition.text, False)
        return f"`{signal.condition.text}`" if ok else f"not `{signal.condition.text}`"
    if signal.kind == "mrr_contraction":
        fell = facts.contractions.get(signal.days or 0, False)
        return f"mrr fell in the last {signal.days} days" if fell else f"mrr did not fall in {signal.days} days"
    if facts.pulse is None:
        return "no recent Pulse"
    return f"Pulse {facts.pulse} of 5"


def _need(signal: Signal) -> str:
    """What a good signal that does not hold asks for, e.g. "good needs at least 5"."""
    if signal.at_least is not None:
        return f"good needs at least {signal.at_least}"
    if signal.at_most is not None:
        return f"good needs at most {signal.at_most}"
    return "good needs it"


def band_of(rule: Rule | None, facts: Facts) -> str:
    """The band alone, as `judge` gives it: what a day's state needs unless it starts a new one
    (then its reason is written too)."""
    if rule is None:
        return AVERAGE
    if any(holds(s, facts) for s in rule.bad):
        return BAD
    if rule.good and all(holds(s, facts) for s in rule.good):
        return GOOD
    return AVERAGE


def judge(rule: Rule | None, facts: Facts) -> tuple[str, str]:
    """(band, reason) by a rule: bad when any bad signal holds, good when every good signal
    holds (a rule without good signals is never good), average otherwise."""
    if rule is None:
        return AVERAGE, "no rule applies"
    bad = [describe(s, facts) for s in rule.bad if holds(s, facts)]
    if bad:
        return BAD, "; ".join(bad)
    missing = [s for s in rule.good if not holds(s, facts)]
    if rule.good and not missing:
        return GOOD, "; ".join(describe(s, facts) for s in rule.good)
    if not rule.good:
        return AVERAGE, "no signal of bad; the rule has no good signals"
    return AVERAGE, "; ".join(f"{describe(s, facts)} ({_need(s)})" for s in missing)


__all__ = [
    "AVERAGE",
    "BAD",
    "CHURNED",
    "FREE",
    "GOOD",
    "PAYING",
    "STATUSES",
    "TRIAL",
    "Condition",
    "DocumentError",
    "Facts",
    "HealthModel",
    "Rule",
    "Signal",
    "Stage",
    "SubjectModel",
    "band_of",
    "describe",
    "holds",
    "judge",
]
