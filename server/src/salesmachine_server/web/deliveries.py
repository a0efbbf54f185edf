"""The dashboard's delivery log: every webhook, Slack message and e-mail of the project, newest
first, each with its attempts (the request, the answer, the error), a Resend button, and a form
to send a test to an endpoint. Shown from the read API's Structs (api/delivery_models.py), so a
secret is never on the page: targets are shaped by deliver/shown.py, attempts were recorded
without secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.api import delivery_models
from salesmachine_server.api.delivery_models import Delivery, DeliveryAttempt
from salesmachine_server.deliver.addresses import AddressRefused
from salesmachine_server.deliver.queue import DeliveryRefused
from salesmachine_server.deliver.samples import enqueue_sample
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read.deliveries import DeliveryQuery, deliveries_page
from salesmachine_server.store.records.deliveries import CHANNELS, STATUSES, resend
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.web.access import Dashboard, dashboard, page_handler
from salesmachine_server.web.forms import checked_form

PAGE = 50


@dataclass(frozen=True)
class Shown:
    """A delivery as the page shows it: the Struct, and its JSON pretty-printed once here."""

    delivery: Delivery
    payload: str
    attempts: list[tuple[DeliveryAttempt, str]]  # each attempt with its request, pretty-printed


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} hours"
    return f"{seconds:g} seconds"


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


async def _page(dash: Dashboard, values: dict[str, Any], status_code: int = 200) -> Response:
    params = dash.request.query_params
    status = params.get("status")
    status = status if status in STATUSES else None
    before = params.get("before", "")
    query = DeliveryQuery(
        status=status, before_id=int(before) if before.isdigit() and len(before) <= 18 else None, limit=PAGE
    )
    rows, more = await dash.run(lambda conn: deliveries_page(conn, dash.project.id, query))
    now = utcnow()
    window = app_state(dash.request).settings.delivery_retry_window_seconds
    shown = []
    for row in rows:
        delivery = delivery_models.delivery(row, now, window)
        attempts = [(attempt, _pretty(attempt.request)) for attempt in delivery.attempt_log]
        shown.append(Shown(delivery, _pretty(delivery.payload), attempts))
    return await dash.page(
        "deliveries.html",
        "deliveries",
        {
            "deliveries": shown,
            "status": status,
            "statuses": STATUSES,
            "channels": CHANNELS,
            "older": rows[-1].id if more and rows else None,
            "retry_window": _duration(window),
            "resent": params.get("resent"),
            "queued": params.get("queued"),
            "errors": [],
            "form": {},
            **values,
        },
        status=status_code,
    )


@page_handler
async def deliveries_page_view(request: Request) -> Response:
    return await _page(await dashboard(request), {})


@page_handler
async def resend_delivery(request: Request) -> Response:
    dash = await dashboard(request)
    await checked_form(request, dash.session.csrf_token)
    delivery_id = int(request.path_params["did"])
    found = await on_thread(resend, dash.engines.writer, dash.project.id, delivery_id, utcnow())
    if not found:
        return await _page(dash, {"errors": [f"This project has no delivery {delivery_id}."]}, 404)
    return RedirectResponse(dash.url(f"/deliveries?resent={delivery_id}"), status_code=303)


@page_handler
async def send_test(request: Request) -> Response:
    """The "Send a test" form: a sample delivery to the endpoint typed (deliver/samples.py)."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    channel = form.get("channel", "")
    if channel not in CHANNELS:
        return await _page(dash, {"errors": ["Choose a webhook, a Slack URL or an e-mail address."], "form": form}, 400)
    target: dict[str, str] = (
        {"to": form.get("to", "").strip()} if channel == "email" else {"url": form.get("url", "").strip()}
    )
    if channel == "webhook":
        target["secret"] = form.get("secret", "")
    try:
        delivery_id = await on_thread(
            enqueue_sample,
            dash.engines.writer,
            dash.project.id,
            dash.project.name,
            channel,
            target,
            utcnow(),
            allow_private=app_state(request).settings.delivery_allow_private_networks,
        )
    except AddressRefused as refused:
        return await _page(dash, {"errors": [f"Refused: {refused.reason}."], "form": form}, 400)
    except DeliveryRefused as refused:
        return await _page(dash, {"errors": [f"Refused: {refused.message}."], "form": form}, 400)
    return RedirectResponse(dash.url(f"/deliveries?queued={delivery_id}"), status_code=303)
