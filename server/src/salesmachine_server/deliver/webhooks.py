"""Webhooks and Slack messages: one JSON POST each, to an address checked as it is sent.

The URL's host is resolved and every address checked (deliver/addresses.py) just before the
request, and the connection goes to the address that was checked: the request is made to the
IP itself, with the name in the Host header and, for https, as the TLS server name (SNI) and
the name the certificate must carry. A resolver that changes its answer between the check and
the connection (DNS rebinding) changes nothing. No proxy from the environment (it would
connect elsewhere), no redirect followed (a 3xx counts as not delivered: the receiver's
address has moved, and the user should see it).

Only a 2xx answer counts as delivered; any other answer, a timeout or a refused connection is
tried again later (deliver/backoff.py). A refused address is failed at once.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from salesmachine_server import __version__
from salesmachine_server.deliver.addresses import AddressRefused, Resolved, Unresolvable, resolve
from salesmachine_server.deliver.outcome import KEPT_ANSWER_CHARS, KEPT_BODY_CHARS, Sent, cut
from salesmachine_server.deliver.signing import HEADER, signature_header
from salesmachine_server.deliver.tls import tls_context

USER_AGENT = f"Salesmachine-Deliveries/{__version__}"
DELIVERY_HEADER = "Salesmachine-Delivery"  # the delivery's id: the same on every retry


def send_webhook(
    delivery_id: int,
    target: dict[str, Any],
    payload: dict[str, Any],
    *,
    allow_private: bool,
    timeout: float,
    ca_file: str = "",
) -> Sent:
    body = orjson.dumps(payload)
    headers = {
        DELIVERY_HEADER: str(delivery_id),
        HEADER: signature_header(str(target["secret"]), int(time.time()), body),
    }
    return post_json(str(target["url"]), body, headers, allow_private=allow_private, timeout=timeout, ca_file=ca_file)


def send_slack(
    delivery_id: int,
    target: dict[str, Any],
    payload: dict[str, Any],
    *,
    allow_private: bool,
    timeout: float,
    ca_file: str = "",
) -> Sent:
    """An incoming webhook of Slack takes `{"text": ...}` (and its other message fields) as JSON."""
    body = orjson.dumps(payload)
    return post_json(
        str(target["url"]), body, {}, allow_private=allow_private, timeout=timeout, secret_path=True, ca_file=ca_file
    )


def post_json(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float,
    secret_path: bool = False,
    ca_file: str = "",
) -> Sent:
    """POST `body` to `url` (checked, pinned: the module docstring). `secret_path`: the URL's last
    segment is its secret (a Slack hook's), left out of what the log keeps."""
    sent_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    request = {
        "method": "POST",
        "url": shown_url(url, secret_path=secret_path),
        "headers": sent_headers,
        "body": cut(body.decode("utf-8", "replace"), KEPT_BODY_CHARS),
    }
    try:
        resolved = resolve(url, allow_private=allow_private)
    except Unresolvable as exc:
        return Sent(request, error=exc.reason)
    except AddressRefused as exc:
        return Sent(request, error=f"address refused: {exc.reason}", permanent=True)
    request["address"] = resolved.addresses[0]
    last: Sent | None = None
    for address in resolved.addresses:  # the next one only when this one cannot be connected to
        try:
            status, answer = _post_to(resolved, address, body, sent_headers, timeout, ca_file)
        except httpx.ConnectError as exc:
            last = Sent({**request, "address": address}, error=f"could not connect to {address}: {_words(exc)}")
            continue
        except httpx.TimeoutException as exc:
            return Sent({**request, "address": address}, error=f"no answer within {timeout:g} s ({_words(exc)})")
        except httpx.HTTPError as exc:
            return Sent({**request, "address": address}, error=f"{type(exc).__name__}: {_words(exc)}")
        request["address"] = address
        if 200 <= status < 300:
            return Sent(request, status, answer)
        return Sent(request, status, answer, error=f"the receiver answered {status}")
    assert last is not None
    return last


def _post_to(
    resolved: Resolved, address: str, body: bytes, headers: dict[str, str], timeout: float, ca_file: str
) -> tuple[int, str]:
    """POST to `address` as if to the URL's host; (status, the start of the answer)."""
    url = httpx.URL(resolved.url)
    netloc = url.netloc.decode("ascii").rsplit("@", 1)[-1]  # the Host header: name and port, no credentials
    extensions = {"sni_hostname": resolved.host} if url.scheme == "https" else {}
    verify = tls_context(ca_file) if url.scheme == "https" else True
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=verify) as client:
        request = client.build_request(
            "POST",
            url.copy_with(host=address),
            content=body,
            headers={**headers, "Host": netloc},
            extensions=extensions,
        )
        response = client.send(request, stream=True)
        try:
            answer = b""
            for chunk in response.iter_bytes():
                answer += chunk
                if len(answer) >= KEPT_ANSWER_CHARS:
                    break
        finally:
            response.close()
    return response.status_code, cut(answer.decode("utf-8", "replace"), KEPT_ANSWER_CHARS)


def shown_url(url: str, *, secret_path: bool = False) -> str:
    """The URL as the log shows it: no credentials, no query values, and when `secret_path` (a
    Slack hook: `/services/T…/B…/<token>`) its last path segment left out. A webhook's secret is
    never in it."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    if ":" in host:
        host = f"[{host}]"
    path = parts.path
    if secret_path and path.count("/") > 1:
        path = path.rsplit("/", 1)[0] + "/…"
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, host + port, path, query, ""))


def _words(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
