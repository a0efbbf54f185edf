"""A Segment message -> the Salesmachine items it means (docs/segment.md, the mapping table).

Segment's spec (identify, track, page, screen, group, alias) is spoken by Segment's libraries
and their open-source twins (RudderStack, Jitsu). Each message becomes one to three items of
our own API, which then go through the same validation as items sent to our endpoints:
- identify -> a contact (`traits` as params); with `userId` and `anonymousId` both, first an
  alias, so that the anonymous history is the user's; with `traits.company.id` or
  `context.groupId`, the account too;
- track -> an event; page and screen -> a pageview;
- group -> an account (`traits` as params) and the contact's membership of it;
- alias -> an alias (`previousId` becomes another uid of `userId`'s contact).
A refusal names Segment's field (`userId`, `traits.mrr`), not the one of our item it became.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from salesmachine_server.domain.messages import MAX_UID_LENGTH, Invalid, Message, Refusal, parse_item, uid_string

TYPES = ("identify", "track", "page", "screen", "group", "alias")


@dataclass(frozen=True, slots=True)
class Meant:
    """One item of our API that a Segment message means, and that item parsed."""

    item: dict[str, Any]
    message: Message


@dataclass(slots=True)
class _Item:
    """An item being built, with the Segment field each of its fields came from."""

    kind: str
    body: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)

    def parse(self, received_at: datetime) -> Meant:
        try:
            return Meant(self.body, parse_item(self.body, self.kind, received_at))
        except Invalid as exc:
            error = exc.error
            raise Invalid(
                self._segment_field(error.field), error.rule, self._segment_text(error), error.status
            ) from None

    def _segment_field(self, ours: str) -> str:
        head, dot, rest = ours.partition(".")
        if ours in self.fields:
            return self.fields[ours]
        return self.fields.get(head, head) + dot + rest

    def _segment_text(self, error: Refusal) -> str:
        # The message names our field where it names one: say Segment's instead.
        theirs = self._segment_field(error.field)
        return error.message.replace(error.field, theirs, 1) if theirs != error.field else error.message


def is_segment_batch(payload: Any) -> bool:
    """Whether a `{"batch": [...]}` body is Segment's (items with `type`) rather than ours
    (items with `method`): Segment's when no item has a `method` and one has a `type`. A bare
    array, and any batch with a `method`, stay ours, so our clients see no change."""
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        return False
    objects = [item for item in payload["batch"] if isinstance(item, dict)]
    return not any("method" in item for item in objects) and any("type" in item for item in objects)


def is_segment_alias(payload: Any) -> bool:
    """Whether a body sent to /v1/alias is Segment's (`previousId`, `userId`) rather than ours
    (`contact_uid`, `alias`)."""
    if not isinstance(payload, dict) or any(key in payload for key in ("contact_uid", "unique_id", "alias")):
        return False
    return "previousId" in payload or "userId" in payload


def translate(
    message: Any, received_at: datetime, batch_type: str | None = None, batch_sent_at: Any = None
) -> list[Meant]:
    """The items a Segment message means, parsed, in the order they apply. `batch_type` is the
    type a single-message path implies (None in a batch: the message says it); `batch_sent_at`
    the batch's `sentAt`, for messages that carry none. Raises `Invalid` naming Segment's field."""
    if not isinstance(message, dict):
        raise Invalid("body", "object", "each Segment message must be a JSON object")
    kind = batch_type or _type(message)
    time_fields = _time(message, batch_sent_at)
    items = _BUILDERS[kind](message)
    message_id = _optional_id(message, "messageId")
    for role, item in items:
        item.body.update(time_fields[0])
        item.fields.update(time_fields[1])
        if message_id is not None:
            item.body["messageId"] = message_id if role == "" else derived_id(message_id, role)
    return [item.parse(received_at) for _, item in items]


def derived_id(message_id: str, role: str) -> str:
    """The message id of a second item of one message (`<messageId>/alias`): one message
    stored once means each of its items stored once. Hashed when it would be too long."""
    derived = f"{message_id}/{role}"
    if len(derived) <= MAX_UID_LENGTH:
        return derived
    return f"{role}/{hashlib.sha256(message_id.encode()).hexdigest()}"


# -- one builder per type: a list of (role, item), the role "" for the item that keeps the messageId


def _identify(message: dict[str, Any]) -> list[tuple[str, _Item]]:
    uid, uid_field = _who(message)
    # RudderStack's clients send an identify's traits as `context.traits`, which Segment's spec
    # also allows on any call: both are read, `traits` winning.
    context_traits = _context(message).get("traits")
    traits = {**(context_traits if isinstance(context_traits, dict) else {}), **_object(message, "traits")}
    _fill_name(traits)
    items: list[tuple[str, _Item]] = []
    user_id, anonymous_id = _optional_id(message, "userId"), _optional_id(message, "anonymousId")
    if user_id is not None and anonymous_id is not None and user_id != anonymous_id:
        alias = _Item(
            "alias", {"contact_uid": user_id, "alias": anonymous_id}, {"contact_uid": "userId", "alias": "anonymousId"}
        )
        items.append(("alias", alias))
    account_uid, account_field = _company_account(traits, message)
    if account_uid is not None:
        company = traits.get("company")
        if account_field == "traits.company.id" and isinstance(company, dict):
            del traits["company"]
            params = {key: value for key, value in company.items() if key != "id"}
            account = _Item(
                "account",
                {"account_uid": account_uid, "params": params},
                {"account_uid": account_field, "params": "traits.company"},
            )
            items.append(("account", account))
        traits["account_uid"] = account_uid
    contact = _Item("contact", {"contact_uid": uid, "params": traits}, {"contact_uid": uid_field, "params": "traits"})
    if account_field is not None:
        contact.fields["params.account_uid"] = account_field
    items.append(("", contact))
    return items


def _track(message: dict[str, Any]) -> list[tuple[str, _Item]]:
    uid, uid_field = _who(message)
    event = message.get("event")
    if event is None:
        raise Invalid("event", "required", "event is required on a track call")
    if not isinstance(event, str):
        raise Invalid("event", "string", "event must be a string")
    params, fields = _event_params(message, page=False)
    return [
        (
            "",
            _Item(
                "event",
                {"contact_uid": uid, "event_uid": event, "params": params},
                {"contact_uid": uid_field, "event_uid": "event", **fields},
            ),
        )
    ]


def _page(message: dict[str, Any]) -> list[tuple[str, _Item]]:
    uid, uid_field = _who(message)
    params, fields = _event_params(message, page=True)
    for key in ("name", "category"):
        value = message.get(key)
        if value is not None and key not in params:
            params[key] = value
    return [("", _Item("pageview", {"contact_uid": uid, "params": params}, {"contact_uid": uid_field, **fields}))]


def _group(message: dict[str, Any]) -> list[tuple[str, _Item]]:
    uid, uid_field = _who(message)
    group_id = _required_id(message, "groupId")
    traits = _object(message, "traits")
    account = _Item(
        "account", {"account_uid": group_id, "params": dict(traits)}, {"account_uid": "groupId", "params": "traits"}
    )
    member = _Item(
        "contact",
        {"contact_uid": uid, "params": {"account_uid": group_id}},
        {"contact_uid": uid_field, "params.account_uid": "groupId"},
    )
    return [("", account), ("member", member)]


def _alias(message: dict[str, Any]) -> list[tuple[str, _Item]]:
    user_id = _required_id(message, "userId")
    previous_id = _required_id(message, "previousId")
    return [
        (
            "",
            _Item(
                "alias",
                {"contact_uid": user_id, "alias": previous_id},
                {"contact_uid": "userId", "alias": "previousId"},
            ),
        )
    ]


_BUILDERS = {"identify": _identify, "track": _track, "page": _page, "screen": _page, "group": _group, "alias": _alias}


# -- the fields every message shares


def _type(message: dict[str, Any]) -> str:
    kind = message.get("type")
    if kind is None:
        raise Invalid("type", "required", "type is required on every message of a Segment batch")
    if not isinstance(kind, str) or kind not in TYPES:
        raise Invalid("type", "one_of", f"type must be one of {', '.join(TYPES)}; got {kind!r}"[:200])
    return kind


def _who(message: dict[str, Any]) -> tuple[str, str]:
    """The contact's uid: `userId`, else `anonymousId` (and the field it came from)."""
    user_id = _optional_id(message, "userId")
    if user_id is not None:
        _optional_id(message, "anonymousId")  # checked all the same
        return user_id, "userId"
    anonymous_id = _optional_id(message, "anonymousId")
    if anonymous_id is None:
        raise Invalid("userId", "required", "userId or anonymousId is required")
    return anonymous_id, "anonymousId"


def _optional_id(message: dict[str, Any], name: str) -> str | None:
    value = message.get(name)
    return None if value is None else uid_string(value, name)


def _required_id(message: dict[str, Any], name: str) -> str:
    value = _optional_id(message, name)
    if value is None:
        raise Invalid(name, "required", f"{name} is required")
    return value


def _object(message: dict[str, Any], name: str) -> dict[str, Any]:
    value = message.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(name, "object", f"{name} must be a JSON object")
    return value


def _context(message: dict[str, Any]) -> dict[str, Any]:
    return _object(message, "context")


def _time(message: dict[str, Any], batch_sent_at: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Time as Segment computes it: `timestamp` as sent; else `originalTimestamp`, corrected for
    the client's clock by `sentAt` (received - (sentAt - originalTimestamp)); else received."""
    if message.get("timestamp") is not None:
        return {"created_at": message["timestamp"]}, {"created_at": "timestamp"}
    if message.get("originalTimestamp") is not None:
        sent_at = message.get("sentAt", batch_sent_at)
        body = {"created_at": message["originalTimestamp"]}
        if sent_at is not None:
            body["sent_at"] = sent_at
        return body, {"created_at": "originalTimestamp", "sent_at": "sentAt"}
    return {}, {}


def _event_params(message: dict[str, Any], page: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """`properties`, with the visit fields the enrichment and the dashboard read filled from
    `context` when the properties do not set them; `context.groupId` names the account."""
    params = dict(_object(message, "properties"))
    context = _context(message)
    fields = {"params": "properties"}
    page_context = context.get("page")
    page_context = page_context if isinstance(page_context, dict) else {}
    visit = {
        "visit_ip": (context.get("ip"), "context.ip"),
        "visit_agent": (context.get("userAgent"), "context.userAgent"),
        "visit_url": (params.get("url") if page else None, "properties.url"),
        "referrer": (params.get("referrer") if page else None, "properties.referrer"),
    }
    if visit["visit_url"][0] is None:
        visit["visit_url"] = (page_context.get("url"), "context.page.url")
    if visit["referrer"][0] is None:
        visit["referrer"] = (page_context.get("referrer"), "context.page.referrer")
    for key, (value, source) in visit.items():
        if value is not None and params.get(key) is None:
            params[key] = value
            fields[f"params.{key}"] = source
    group_id = context.get("groupId")
    if group_id is not None and params.get("account_uid") is None:
        params["account_uid"] = group_id
        fields["params.account_uid"] = "context.groupId"
    return params, fields


def _company_account(traits: dict[str, Any], message: dict[str, Any]) -> tuple[str | None, str | None]:
    """The account an identify names: `traits.company.id`, else `context.groupId`. A company
    given only by its name names no account (two companies may share a name)."""
    company = traits.get("company")
    if isinstance(company, dict) and company.get("id") is not None:
        return uid_string(company["id"], "traits.company.id"), "traits.company.id"
    group_id = _context(message).get("groupId")
    if group_id is not None:
        return uid_string(group_id, "context.groupId"), "context.groupId"
    return None, None


def _fill_name(traits: dict[str, Any]) -> None:
    """Segment fills `name` from `firstName` and `lastName` when only those are given; so do we
    (the dashboard labels a contact by its name)."""
    if traits.get("name") is not None:
        return
    parts = [traits.get(key) for key in ("firstName", "lastName")]
    if any(isinstance(part, str) and part.strip() for part in parts):
        traits["name"] = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
