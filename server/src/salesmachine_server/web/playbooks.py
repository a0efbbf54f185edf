"""The dashboard's playbooks: the list (pause and enable from it) and the builder.

The builder edits the one JSON document the API takes (docs/playbooks.md), in parts: name,
enrollment and subject as fields, conditions in the list filter language, the trigger and the
actions as JSON with examples beside them; an error is shown at the part its field names. A
playbook is enabled only after its preview was shown for the very document being enabled: the
page carries the previewed document's digest, and "Save and enable" on another document shows
its preview first.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.api.playbooks import check_references, restore_kept, shown_document
from salesmachine_server.domain.playbooks import PlaybookError, parse_playbook
from salesmachine_server.project.playbook_preview import Preview, preview
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records.playbooks import (
    StoredPlaybook,
    create_playbook,
    find_playbook,
    list_playbooks,
    replace_playbook,
)
from salesmachine_server.web.access import Dashboard, PageNotFound, dashboard, page_handler
from salesmachine_server.web.forms import checked_form

EXAMPLE_TRIGGER = {"type": "health", "to": "bad"}
EXAMPLE_ACTIONS = [
    {"type": "task", "title": "Call {{account.name}}: health turned bad", "due_in_days": 2},
    {"type": "slack", "url": "https://hooks.slack.com/services/T000/B000/XXXX", "text": "{{account.name}} turned bad"},
]
TRIGGER_EXAMPLES = [
    {"type": "health", "to": "bad"},
    {"type": "status", "status": "churned", "change": "entered"},
    {"type": "stage", "stage": "Onboarding", "change": "left"},
    {"type": "segment", "segment": "Enterprise", "change": "entered"},
    {"type": "event", "event": "payment_failed", "where": "amount>100"},
    {"type": "mrr", "movement": "expansion", "at_least": 500},
    {"type": "pulse_stale"},
    {"type": "renewal", "within_days": 30, "field": "renewal_date"},
]
ACTION_EXAMPLES = [
    {"type": "task", "title": "Call {{account.name}}", "due_in_days": 2, "assignee": "owner"},
    {"type": "set_owner", "user": "ann@example.com"},
    {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_..."},
    {"type": "slack", "url": "https://hooks.slack.com/services/...", "text": "{{account.name}} ({{account.mrr}})"},
    {"type": "email", "to": "owner", "subject": "{{account.name}} needs you", "text": "..."},
]
# Which part of the builder shows an error about a field.
_PARTS = ("name", "enrollment", "subject", "conditions", "trigger", "actions", "enabled")


@page_handler
async def playbooks_page(request: Request) -> Response:
    dash = await dashboard(request)
    stored = await dash.run(lambda conn: list_playbooks(conn, dash.project.id))
    return await dash.page("playbooks.html", "playbooks", {"playbooks": stored, "describe": describe})


@page_handler
async def builder_page(request: Request) -> Response:
    dash = await dashboard(request)
    stored = await _stored(dash, request)
    if stored is None:
        parts = _parts_of(
            {
                "name": "",
                "enrollment": "once",
                "subject": "account",
                "conditions": "",
                "trigger": EXAMPLE_TRIGGER,
                "actions": EXAMPLE_ACTIONS,
                "enabled": False,
            }
        )
    else:
        parts = _parts_of(shown_document(stored.playbook))
        if request.query_params.get("enable") and not stored.playbook.enabled:
            # From the list's "Enable": who it would enroll, and the button that enables it.
            document = {**stored.playbook.to_document(), "enabled": True}
            playbook = parse_playbook(document)
            found = await dash.run(lambda conn: preview(conn, dash.project.id, playbook, dash.window))
            return await _builder(
                dash, stored, parts, None, found, _digest(playbook.to_document()), asked_to_enable=True
            )
    return await _builder(dash, stored, parts, None, None, "")


@page_handler
async def builder_submit(request: Request) -> Response:
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    stored = await _stored(dash, request)
    parts = {name: form.get(name, "") for name in ("name", "enrollment", "subject", "conditions", "trigger", "actions")}
    enable = form.get("action") == "enable"
    try:
        document = _document(parts, enabled=enable)
        if stored is not None:
            document = restore_kept(document, stored.playbook)
            if stored.playbook.description:  # not on the builder: kept as the API saved it
                document["description"] = stored.playbook.description
        playbook = parse_playbook(document)
        await check_references(dash.context, playbook, check_addresses=form.get("action") != "preview")
    except PlaybookError as exc:
        return await _builder(dash, stored, parts, exc, None, "", status=400)
    digest = _digest(playbook.to_document())
    if form.get("action") == "preview" or (enable and form.get("previewed") != digest):
        found = await dash.run(lambda conn: preview(conn, dash.project.id, playbook, dash.window))
        return await _builder(dash, stored, parts, None, found, digest, asked_to_enable=enable)
    if stored is None:
        await on_thread(create_playbook, dash.engines.writer, dash.project.id, playbook)
    else:
        await on_thread(replace_playbook, dash.engines.writer, dash.project.id, stored.id, playbook)
    return RedirectResponse(dash.url("/playbooks?saved=1"), status_code=303)


@page_handler
async def toggle_submit(request: Request) -> Response:
    """Pause an enabled playbook, or enable a paused one from the list (its preview was shown
    when it was built; the builder shows it again on the way)."""
    dash = await dashboard(request)
    await checked_form(request, dash.session.csrf_token)
    stored = await _stored(dash, request)
    if stored is None:
        raise PageNotFound("There is no such playbook.")
    if not stored.playbook.enabled:
        return RedirectResponse(dash.url(f"/playbooks/{stored.id}?enable=1"), status_code=303)
    document = {**stored.playbook.to_document(), "enabled": False}
    await on_thread(replace_playbook, dash.engines.writer, dash.project.id, stored.id, parse_playbook(document))
    return RedirectResponse(dash.url("/playbooks"), status_code=303)


async def _builder(
    dash: Dashboard,
    stored: StoredPlaybook | None,
    parts: dict[str, str],
    error: PlaybookError | None,
    found: Preview | None,
    digest: str,
    *,
    asked_to_enable: bool = False,
    status: int = 200,
) -> Response:
    error_part = None if error is None else next((p for p in _PARTS if error.field.startswith(p)), "name")
    return await dash.page(
        "playbook_builder.html",
        "playbooks",
        {
            "stored": stored,
            "parts": parts,
            "error": error,
            "error_part": error_part,
            "preview": found,
            "previewed": digest,
            "asked_to_enable": asked_to_enable,
            "trigger_examples": [_json(t, indent=False) for t in TRIGGER_EXAMPLES],
            "action_examples": [_json(a, indent=False) for a in ACTION_EXAMPLES],
        },
        status=status,
    )


async def _stored(dash: Dashboard, request: Request) -> StoredPlaybook | None:
    raw = request.path_params.get("bid")
    if raw is None:
        return None
    found = await dash.run(lambda conn: find_playbook(conn, dash.project.id, int(raw)))
    if found is None:
        raise PageNotFound("There is no such playbook.")
    return found


def _parts_of(document: dict[str, Any]) -> dict[str, str]:
    return {
        "name": str(document.get("name", "")),
        "enrollment": str(document.get("enrollment", "once")),
        "subject": str(document.get("subject", "account")),
        "conditions": str(document.get("conditions", "")),
        "trigger": _json(document.get("trigger", {})),
        "actions": _json(document.get("actions", [])),
    }


def _document(parts: dict[str, str], *, enabled: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": parts["name"],
        "enrollment": parts["enrollment"] or "once",
        "subject": parts["subject"] or "account",
        "conditions": parts["conditions"],
        "enabled": enabled,
    }
    for part in ("trigger", "actions"):
        try:
            document[part] = orjson.loads(parts[part] or "null")
        except orjson.JSONDecodeError as exc:
            raise PlaybookError(part, "json", f"{part} is not JSON: {exc}") from None
    return document


def _digest(document: dict[str, Any]) -> str:
    canonical = {k: v for k, v in document.items() if k != "enabled"}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _json(value: Any, *, indent: bool = True) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0).decode()


def describe(stored: StoredPlaybook) -> str:
    """The trigger in words, for the list."""
    t = stored.playbook.trigger
    words = {
        "event": f"event {t.event}" + (f" where {t.where}" if t.where else ""),
        "health": f"health turns {t.to}" if t.to != "any" else "health band changes",
        "status": f"status {t.change} {t.status}",
        "stage": f"stage {t.change} {t.stage}",
        "segment": f"segment {t.segment} {t.change}",
        "mrr": f"mrr {t.movement}" + (f" of at least {t.at_least:,.0f}" if t.at_least else ""),
        "pulse_stale": "Pulse goes stale",
        "renewal": f"renewal within {t.within_days} days",
    }
    text = words.get(t.type, t.type)
    if stored.playbook.conditions:
        text += f", if {stored.playbook.conditions}"
    return text
