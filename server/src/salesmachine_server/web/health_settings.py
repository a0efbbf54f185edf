"""Health settings: the project's health model, edited, backtested as a draft beside the saved
one, then saved (docs/health.md).

Two ways to edit, one draft: a form for the common case (the accounts' rule for every stage:
active days for good and for bad, and an event that must not go missing), and the whole
document as JSON for everything else (stages, status conditions, contacts, other signals).
The form writes into the document in the editor (both are one HTML form), so what the form
cannot show is kept. Either way the document is checked by `HealthModel.parse`, the one check of
PUT /v1/settings/health, and a refusal is shown at its field and rule.

"Backtest draft" answers the same page with the draft kept in the editor and two backtests side
by side, the saved model's and the draft's (project/health_backtest.py, the API's run), over
the range asked for. Nothing is saved until "Save", whose form carries the draft it was shown
with. Every form is a POST with the session's CSRF token; no script is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.api.backtest import parse_range
from salesmachine_server.domain.backtest import LEADS
from salesmachine_server.domain.health_model import DocumentError, HealthModel
from salesmachine_server.errors import ApiError
from salesmachine_server.project.health_backtest import BacktestRun, run_backtest
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read.health_models import in_force
from salesmachine_server.store.records.health_models import save_model
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.web.access import Dashboard, dashboard, page_handler
from salesmachine_server.web.forms import checked_form


class Refusal(Exception):
    """Why a draft cannot be used: where in the document (or which form field), the rule, why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Quick:
    """The accounts' rule for every stage, as the common-case form shows it. `other` says what
    the form does not show (it is kept as it is)."""

    good_days: int | str
    good_at_least: int | str
    bad_days: int | str
    bad_at_most: int | str
    bad_event: str
    bad_event_days: int | str
    other: bool


def pretty(document: dict[str, Any]) -> str:
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def quick_of(document: dict[str, Any]) -> Quick:
    """The form's values from a document's accounts rule with `"stage": null`."""
    rule = _catch_all(document) or {}
    good = [s for s in rule.get("good") or [] if isinstance(s, dict)]
    bad = [s for s in rule.get("bad") or [] if isinstance(s, dict)]
    active_good = next((s for s in good if s.get("signal") == "active_days" and "at_least" in s), None)
    active_bad = next((s for s in bad if s.get("signal") == "active_days" and "at_most" in s), None)
    event_bad = next((s for s in bad if s.get("signal") == "event" and s.get("at_most") == 0), None)
    shown = [s for s in (active_good, active_bad, event_bad) if s is not None]
    return Quick(
        good_days=(active_good or {}).get("days", 14),
        good_at_least=(active_good or {}).get("at_least", 5),
        bad_days=(active_bad or {}).get("days", 14),
        bad_at_most=(active_bad or {}).get("at_most", 0),
        bad_event=(event_bad or {}).get("event", ""),
        bad_event_days=(event_bad or {}).get("days", 21),
        other=len(good) + len(bad) != len(shown),
    )


def _catch_all(document: dict[str, Any]) -> dict[str, Any] | None:
    accounts = document.get("accounts")
    rules = accounts.get("rules") if isinstance(accounts, dict) else None
    if not isinstance(rules, list):
        return None
    return next((r for r in rules if isinstance(r, dict) and r.get("stage") is None), None)


def apply_quick(base: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """`base` with its accounts' rule for every stage set from the form: the form's signals in
    place of the ones it shows, the others kept. Raises Refusal naming the form field."""
    numbers = {}
    for name, low in (("good_days", 1), ("good_at_least", 0), ("bad_days", 1), ("bad_at_most", 0)):
        numbers[name] = _whole(form.get(name, ""), name, low)
    event = form.get("bad_event", "").strip()
    good = [{"signal": "active_days", "days": numbers["good_days"], "at_least": numbers["good_at_least"]}]
    bad: list[dict[str, Any]] = [
        {"signal": "active_days", "days": numbers["bad_days"], "at_most": numbers["bad_at_most"]}
    ]
    if event:
        bad.append(
            {
                "signal": "event",
                "event": event,
                "days": _whole(form.get("bad_event_days", ""), "bad_event_days", 1),
                "at_most": 0,
            }
        )
    document: dict[str, Any] = orjson.loads(orjson.dumps(base))  # a deep copy
    accounts = document.setdefault("accounts", {})
    if not isinstance(accounts, dict):
        raise Refusal("accounts", "object", "accounts must be an object: fix it in the document")
    rules = accounts.setdefault("rules", [])
    if not isinstance(rules, list):
        raise Refusal("accounts.rules", "list", "accounts.rules must be a list: fix it in the document")
    rule = _catch_all(document)
    if rule is None:
        rule = {"stage": None, "good": [], "bad": []}
        rules.append(rule)
    rule["good"] = good + [s for s in rule.get("good") or [] if not _shown_signal(s, "good")]
    rule["bad"] = bad + [s for s in rule.get("bad") or [] if not _shown_signal(s, "bad")]
    return document


def _shown_signal(signal: Any, side: str) -> bool:
    if not isinstance(signal, dict):
        return False
    if side == "good":
        return signal.get("signal") == "active_days" and "at_least" in signal
    return (signal.get("signal") == "active_days" and "at_most" in signal) or (
        signal.get("signal") == "event" and signal.get("at_most") == 0
    )


def _whole(text: str, name: str, low: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise Refusal(name, "integer", f"{name.replace('_', ' ')} must be a whole number") from None
    if value < low:
        raise Refusal(name, "minimum", f"{name.replace('_', ' ')} must be {low} or more")
    return value


def parse_draft(text: str) -> tuple[dict[str, Any], HealthModel]:
    """The document typed in the editor and its model; Refusal at the field and rule."""
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise Refusal("document", "json", f"the document is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise Refusal("document", "object", "the document must be a JSON object")
    return document, checked(document)


def checked(document: dict[str, Any]) -> HealthModel:
    try:
        return HealthModel.parse(document)
    except DocumentError as exc:
        raise Refusal(exc.field, exc.rule, exc.message) from None


@dataclass(frozen=True)
class Comparison:
    """The saved model's backtest and the draft's, row by row, for the template."""

    saved: BacktestRun
    draft: BacktestRun

    def rows(self) -> list[dict[str, Any]]:
        saved, draft = self.saved.result, self.draft.result
        rows: list[dict[str, Any]] = [
            _row(
                "churned",
                "Accounts that churned",
                len(saved.churned),
                len(draft.churned),
                [c.uid for c in saved.churned],
                [c.uid for c in draft.churned],
                None,
            ),
        ]
        for lead in LEADS:
            for key, label in (("bad", "bad"), ("bad_or_average", "bad or average")):
                s, d = getattr(saved.flagged[lead], key), getattr(draft.flagged[lead], key)
                rows.append(
                    _row(
                        f"flagged-{lead}-{key}",
                        f"{label.capitalize()} {lead} days before",
                        len(s),
                        len(d),
                        list(s),
                        list(d),
                        "more",
                    )
                )
        rows.append(
            _row(
                "median",
                "Median days bad before churning",
                saved.median_days_bad_before_churn,
                draft.median_days_bad_before_churn,
                [],
                [],
                "more",
            )
        )
        rows.append(
            _row(
                "false-alarms",
                "False alarms (bad 30+ days while paying, no churn)",
                len(saved.false_alarms),
                len(draft.false_alarms),
                [a.uid for a in saved.false_alarms],
                [a.uid for a in draft.false_alarms],
                "fewer",
            )
        )
        return rows


def _row(
    key: str,
    label: str,
    saved: float | None,
    draft: float | None,
    saved_uids: list[str],
    draft_uids: list[str],
    better: str | None,
) -> dict[str, Any]:
    """One figure of both backtests; `better` says which way the draft improves on the saved."""
    verdict = None
    if better is not None and saved is not None and draft is not None and saved != draft:
        verdict = "better" if (draft > saved) == (better == "more") else "worse"
    return {
        "key": key,
        "label": label,
        "saved": saved,
        "draft": draft,
        "saved_uids": saved_uids,
        "draft_uids": draft_uids,
        "verdict": verdict,
    }


async def _page(
    dash: Dashboard,
    document: dict[str, Any],
    *,
    editor: str | None = None,
    refusal: Refusal | None = None,
    comparison: Comparison | None = None,
    dates: dict[str, str] | None = None,
    draft: bool = False,
    status: int = 200,
) -> Response:
    return await dash.page(
        "health_settings.html",
        "settings",
        {
            "document": pretty(document),
            "editor": editor if editor is not None else pretty(document),
            "quick": quick_of(_shown_draft(editor, document)),
            "refusal": refusal,
            "comparison": comparison,
            "dates": dates or {},
            "draft": draft,
            "saved": dash.request.query_params.get("saved") == "1",
            "names": {**comparison.saved.names, **comparison.draft.names} if comparison else {},
        },
        status=status,
    )


def _shown_draft(editor: str | None, saved: dict[str, Any]) -> dict[str, Any]:
    """The document the form shows: the draft in the editor when it reads as one, else the saved."""
    if editor is None:
        return saved
    try:
        draft = orjson.loads(editor)
    except orjson.JSONDecodeError:
        return saved
    return draft if isinstance(draft, dict) else saved


async def _saved_document(dash: Dashboard) -> dict[str, Any]:
    project_id = dash.project.id
    return await dash.run(lambda conn: in_force(conn, project_id).model.to_document())


@page_handler
async def health_settings_page(request: Request) -> Response:
    dash = await dashboard(request)
    return await _page(dash, await _saved_document(dash))


@page_handler
async def health_settings_submit(request: Request) -> Response:
    """Backtest the draft (the form's, or the editor's) or save it."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    dates = {name: form.get(name, "").strip() for name in ("from", "to")}
    editor = form.get("document", "")
    action, _, source = form.get("do", "backtest:document").partition(":")
    try:
        if source == "quick":
            base, _ = parse_draft(editor)
            document = apply_quick(base, form)
            model = checked(document)
            editor = pretty(document)
        else:
            document, model = parse_draft(editor)
    except Refusal as refusal:
        return await _page(
            dash, await _saved_document(dash), editor=editor, refusal=refusal, dates=dates, draft=True, status=400
        )
    if action == "save":
        await save(dash, model)
        return RedirectResponse(dash.url("/settings/health?saved=1"), status_code=303)
    try:
        first, last = parse_range({k: v for k, v in dates.items() if v}, dash.window.today)
    except ApiError as exc:
        wrong = Refusal(exc.field or "range", exc.rule or "range", exc.message)
        return await _page(
            dash, await _saved_document(dash), editor=editor, refusal=wrong, dates=dates, draft=True, status=400
        )
    project_id, zone = dash.project.id, dash.zone

    def both(conn: Connection) -> tuple[dict[str, Any], Comparison]:
        saved = in_force(conn, project_id).model
        return saved.to_document(), Comparison(
            run_backtest(conn, project_id, saved, first, last, zone),
            run_backtest(conn, project_id, model, first, last, zone),
        )

    saved_document, comparison = await dash.run(both)
    shown = {"from": first.isoformat(), "to": last.isoformat()}
    return await _page(dash, saved_document, editor=editor, comparison=comparison, dates=shown, draft=True)


async def save(dash: Dashboard, model: HealthModel) -> None:
    """As PUT /v1/settings/health saves: a new version in force, noted in the audit log; the
    server's health task rebuilds the history with it."""
    await on_thread(
        save_model, dash.engines.writer, dash.project.id, model.to_document(), f"user:{dash.session.email}", utcnow()
    )
