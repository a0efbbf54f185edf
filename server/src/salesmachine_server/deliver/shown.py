"""A delivery's target as it may be shown (the API, the dashboard, the command line): its URL
without credentials, query values or a Slack hook's token, whether it is signed, never the
secret itself."""

from __future__ import annotations

from typing import Any

from salesmachine_server.deliver.webhooks import shown_url


def shown_target(channel: str, target: dict[str, Any]) -> dict[str, Any]:
    url = target.get("url")
    return {
        "url": shown_url(url, secret_path=channel == "slack") if isinstance(url, str) else None,
        "to": target.get("to") if channel == "email" else None,
        "signed": channel == "webhook" and bool(target.get("secret")),
    }
