"""Playbooks over HTTP, with the project token and secret (as the read API):
GET /v1/playbooks, POST /v1/playbooks, GET and PUT /v1/playbooks/{id}, and
POST /v1/playbooks/preview (who a document would enroll now, saved or not).

A document is read by domain/playbooks.py (a 400 names field and rule); what needs the store or
the network is checked here: the users it names are members of the project, the saved segment
it names exists, and its webhook and Slack addresses are not private (deliver/addresses.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api.context import read_context
from salesmachine_server.api.render import json_answer
from salesmachine_server.deliver.addresses import AddressRefused, Unresolvable, check_url
from salesmachine_server.deliver.webhooks import shown_url
from salesmachine_server.domain.playbooks import Playbook, PlaybookError, parse_playbook
from salesmachine_server.errors import ApiError
from salesmachine_server.project.playbook_preview import Preview, preview
from salesmachine_server.project.playbook_runner import segment_filters
from salesmachine_server.serving.project_context import ProjectContext
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records.playbooks import (
    StoredPlaybook,
    create_playbook,
    find_playbook,
    list_playbooks,
    members_missing,
    replace_playbook,
)

MAX_DOCUMENT_BYTES = 256 * 1024
# What an answer or a page shows for a webhook's secret; sent back as it is, the saved secret stays.
KEPT = "(kept)"


async def playbooks_list(request: Request) -> Response:
    context = await read_context(request)
    stored = await context.run(lambda conn: list_playbooks(conn, context.project.id))
    return json_answer({"playbooks": [stored_answer(s) for s in stored]})


async def playbook_create(request: Request) -> Response:
    context = await read_context(request)
    playbook = await checked_playbook(context, await _document(request))
    playbook_id = await on_thread(create_playbook, context.engines.writer, context.project.id, playbook)
    return json_answer(await _one(context, playbook_id), status=201)


async def playbook_get(request: Request) -> Response:
    context = await read_context(request)
    return json_answer(await _one(context, _path_id(request)))


async def playbook_replace(request: Request) -> Response:
    context = await read_context(request)
    playbook_id = _path_id(request)
    saved = await context.run(lambda conn: find_playbook(conn, context.project.id, playbook_id))
    if saved is None:
        raise ApiError(404, f"this project has no playbook {playbook_id}", field="id", rule="exists")
    playbook = await checked_playbook(context, restore_kept(await _document(request), saved.playbook))
    if not await on_thread(replace_playbook, context.engines.writer, context.project.id, playbook_id, playbook):
        raise ApiError(404, f"this project has no playbook {playbook_id}", field="id", rule="exists")
    return json_answer(await _one(context, playbook_id))


async def playbook_preview(request: Request) -> Response:
    context = await read_context(request)
    playbook = await checked_playbook(context, await _document(request), check_addresses=False)
    found = await context.run(lambda conn: preview(conn, context.project.id, playbook, context.window))
    return json_answer(preview_answer(found))


async def checked_playbook(context: ProjectContext, document: Any, *, check_addresses: bool = True) -> Playbook:
    """The document read, and what it names checked against the store and the network."""
    try:
        playbook = parse_playbook(document)
        await check_references(context, playbook, check_addresses=check_addresses)
    except PlaybookError as exc:
        raise ApiError(400, exc.message, field=exc.field, rule=exc.rule) from None
    return playbook


async def check_references(context: ProjectContext, playbook: Playbook, *, check_addresses: bool) -> None:
    """PlaybookError for a user who is not a member, a segment that does not exist, an address
    deliveries may not reach (shared with the dashboard's builder)."""
    project_id = context.project.id
    emails = playbook.user_emails()
    missing = await context.run(lambda conn: members_missing(conn, project_id, emails))
    if missing:
        index = next(i for i, a in enumerate(playbook.actions) if missing[0] in a.user_emails())
        field = "assignee" if playbook.actions[index].type == "task" else "user"
        raise PlaybookError(
            f"actions[{index}].{field}", "member", f"{missing[0]} is not a dashboard user of this project"
        )
    trigger = playbook.trigger
    if trigger.type == "segment":
        segment = trigger.segment or ""
        found = await context.run(lambda conn: segment_filters(conn, project_id, playbook.subject, segment))
        if found is None:
            raise PlaybookError(
                "trigger.segment", "exists", f"no saved segment of {playbook.subject}s is named {segment!r}"
            )
    if check_addresses:
        for field, url in playbook.delivery_urls():
            try:
                await on_thread(check_url, url)
            except Unresolvable:
                pass  # not resolvable now (deliver/addresses.py): checked again when sent
            except AddressRefused as exc:
                raise PlaybookError(field, exc.rule, f"{field}: {exc}") from None


def shown_document(playbook: Playbook) -> dict[str, Any]:
    """The document as answers and pages show it: a webhook's secret as KEPT, a URL without its
    credentials, query values or a Slack hook's token (deliver/webhooks.py shown_url), as the
    delivery log shows them. Sent back unchanged, `restore_kept` puts the saved values back."""
    document = playbook.to_document()
    for action in document["actions"]:
        if action.get("url") is not None:
            action["url"] = shown_url(action["url"])
        if action["type"] == "webhook":
            action["secret"] = KEPT
    return document


def restore_kept(document: Any, saved: Playbook) -> Any:
    """`document` with the saved URL and secret of each webhook or Slack action it sends back as
    shown (matched by type and shown URL)."""
    if not isinstance(document, dict) or not isinstance(document.get("actions"), list):
        return document
    actions = []
    for action in document["actions"]:
        if isinstance(action, dict):
            old = next(
                (
                    a
                    for a in saved.actions
                    if a.type == action.get("type") and a.url is not None and shown_url(a.url) == action.get("url")
                ),
                None,
            )
            if old is not None:
                action = {**action, "url": old.url}
                if old.type == "webhook" and action.get("secret") == KEPT:
                    action["secret"] = old.secret
        actions.append(action)
    return {**document, "actions": actions}


def stored_answer(stored: StoredPlaybook) -> dict[str, Any]:
    return {
        "id": stored.id,
        **shown_document(stored.playbook),
        "enrolled": stored.enrolled,
        "last_run_at": stored.last_run_at,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }


def preview_answer(found: Preview) -> dict[str, Any]:
    return {
        "basis": found.basis,
        "explanation": found.explanation,
        "count": len(found.customers),
        "truncated": found.truncated,
        "customers": [
            {"subject": c.subject, f"{c.subject}_uid": c.uid, "name": c.name, "mrr": c.mrr, "why": c.why}
            for c in found.customers
        ],
    }


async def _one(context: ProjectContext, playbook_id: int) -> dict[str, Any]:
    stored = await context.run(lambda conn: find_playbook(conn, context.project.id, playbook_id))
    if stored is None:
        raise ApiError(404, f"this project has no playbook {playbook_id}", field="id", rule="exists")
    return stored_answer(stored)


def _path_id(request: Request) -> int:
    value = request.path_params["id"]
    if not str(value).isascii() or not str(value).isdigit() or not 0 < int(value) < 2**63:
        raise ApiError(400, "a playbook id is a positive whole number", field="id", rule="integer")
    return int(value)


async def _document(request: Request) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, f"a playbook document is at most {MAX_DOCUMENT_BYTES} bytes", field="body", rule="size")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", field="body", rule="json") from None
