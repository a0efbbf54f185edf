"""The item pipeline: one decoded item -> an accepted `Message`, or a `Refusal` that names the
field and the rule (domain/messages.py). This is "accept" in the vocabulary of ingest/__init__.py.

Six steps, in this order, each a function below; the first refusal ends the item's way:
1. limit: an item over the item limit is refused before any work is spent on it;
2. parse: the item becomes a message (domain/messages.py: every key and form the field sends);
3. verify identity: on a project that verifies identity, a token-only write must prove the
   contact it speaks for (verification.py);
4. suppression: an item naming an erased person is refused (suppression.py; in the project's
   "drop" mode it passes here and is left out when the request is submitted);
5. visit IP: an event sent from a browser gets the browser's address (client_ip.py);
6. enrich: an event gets its location and user agent (enrich/events.py).

The write endpoints run all six (endpoints.py). The importer runs the same function with the
steps it has no input for left out (importer.py): no item limit (a row is as large as its file
makes it), no identity to verify (the command speaks with the operator's authority), no
browser, and no enrichment (an exported event comes back with the enrichment it had).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from salesmachine_server.domain.messages import Invalid, Message, MessageKind, Refusal, parse_item
from salesmachine_server.enrich.events import Enricher
from salesmachine_server.ingest.suppression import Suppression
from salesmachine_server.ingest.verification import Identity, check_identity


@dataclass(slots=True)
class Steps:
    """What the steps need besides the item. A step whose input is None is left out."""

    received_at: datetime  # naive UTC: an item without created_at happened then
    item_limit: int | None = None  # bytes of an item's JSON
    identity: Identity | None = None  # who wrote the items, for identity verification
    suppression: Suppression | None = None  # the project's erased uids
    visit_ip: str | None = None  # a browser's address (None: not a browser)
    enricher: Enricher | None = None
    browser_agent: str | None = None  # a browser's User-Agent: the agent of events without visit_agent


def accept(item: Any, kind: str, steps: Steps) -> Message | Refusal:
    """The steps run in order on one item. `kind` is the endpoint's: contact, account, event,
    pageview, alias, or batch (the item names its own `method`)."""
    try:
        limit(item, steps.item_limit)
        message = parse_item(item, kind, steps.received_at)
        verify_identity(item, message, steps.identity)
        refuse_suppressed(message, steps.suppression)
        fill_visit_ip(message, steps.visit_ip)
        enrich(message, steps.enricher, steps.browser_agent)
    except Invalid as refused:
        return refused.error
    return message


def limit(item: Any, max_bytes: int | None) -> None:
    if max_bytes is not None and len(item_json(item)) > max_bytes:
        raise Invalid("item", "max_size", f"an item may be at most {max_bytes} bytes")


def verify_identity(item: Any, message: Message, identity: Identity | None) -> None:
    if identity is not None:
        check_identity(item, message, identity)


def refuse_suppressed(message: Message, suppression: Suppression | None) -> None:
    if suppression is not None:
        suppression.refuse(message)


def fill_visit_ip(message: Message, ip: str | None) -> None:
    """Events and pageviews without a `visit_ip` get the browser's."""
    if ip and message.kind == MessageKind.EVENT and message.params.get("visit_ip") in (None, ""):
        message.params["visit_ip"] = ip


def enrich(message: Message, enricher: Enricher | None, browser_agent: str | None) -> None:
    if enricher is not None and message.kind == MessageKind.EVENT:
        message.enrichment = enricher.event(message.params, browser_agent)


def item_json(item: Any) -> bytes:
    """An item as JSON text, to measure it and to keep it when refused. orjson writes at most
    254 levels of nesting though it reads 1024: a deeper item goes through the standard
    library, and one too deep even for that is kept as a note saying so."""
    try:
        return orjson.dumps(item)
    except orjson.JSONEncodeError:
        try:
            return json.dumps(item, ensure_ascii=False).encode()
        except RecursionError:
            return b'"(not kept: nested too deeply)"'
