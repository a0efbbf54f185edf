"""A sample delivery, to check an endpoint before a playbook relies on it: what
`salesmachine deliveries test` and the delivery log's "Send a test" form enqueue.

It goes through the real queue and sender (address checks, signature, retries, the log), so
what the receiver gets, and what the log shows, is what a playbook's alert will be, with a body
that says it is a test (`"type": "test"`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from salesmachine_server.deliver.addresses import check_url
from salesmachine_server.deliver.queue import DeliveryRefused, check_delivery, enqueue


def sample_payload(channel: str, project_name: str, to: str, now: datetime) -> dict[str, Any]:
    sent_at = now.isoformat(timespec="seconds") + "Z"
    if channel == "slack":
        return {"text": f"A test message from Salesmachine (project {project_name}), sent {sent_at}."}
    if channel == "email":
        return {
            "to": to,
            "subject": f"Salesmachine test e-mail ({project_name})",
            "text": f"A test e-mail from Salesmachine (project {project_name}), sent {sent_at}.\n"
            "E-mails from playbooks will come the same way.",
        }
    return {"type": "test", "project": project_name, "sent_at": sent_at, "text": "A test delivery from Salesmachine."}


def enqueue_sample(
    engine: Engine,
    project_id: int,
    project_name: str,
    channel: str,
    target: dict[str, Any],
    now: datetime,
    *,
    allow_private: bool | None = None,
) -> int:
    """Check the target as a playbook's save does (AddressRefused, DeliveryRefused), then queue a
    sample delivery to it; its id."""
    if channel in ("webhook", "slack"):
        url = target.get("url")
        if not isinstance(url, str) or not url.strip():
            raise DeliveryRefused("url", "required", "a URL is required")
        check_url(url.strip(), allow_private=allow_private)
    payload = sample_payload(channel, project_name, str(target.get("to", "")), now)
    check_delivery(channel, target, payload)
    with engine.begin() as conn:
        return enqueue(conn, project_id, channel=channel, target=target, payload=payload)
