"""Configuration: defaults, overridden by the environment, overridden by the command line.

Every setting has one name, `SALESMACHINE_<NAME>` in the environment, and those an operator
changes per run also a flag `--<name>` on `salesmachine serve` (host, port, database, access log,
maintenance, rate limit). The one exception to the naming is the listening address:
`SALESMACHINE_LISTEN_HOST` and `SALESMACHINE_LISTEN_PORT` (see `env_name`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///./data/salesmachine.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8080
    # Limits on what one request may carry (docs/wire.md, Answers: 413 and 400).
    max_body_bytes: int = 5 * 1024 * 1024
    max_item_bytes: int = 64 * 1024
    max_batch_items: int = 2500
    # How many items one group commit may gather from concurrent requests.
    max_group_items: int = 5000
    # Seconds a client is told to wait (Retry-After) when the store is unreachable.
    retry_after_seconds: int = 5
    access_log: bool = False
    # uvicorn's HTTP/1.1 parser: "auto" (httptools, the fastest) or "h11". Neither can accept a
    # header line ended by a bare newline (docs/api.md, Credentials).
    http: str = "auto"
    # The request line and headers: answered 431 over this size, 408 when not complete this
    # many seconds after they started (slow clients must not hold connections; serving/http_protocol.py).
    max_head_bytes: int = 64 * 1024
    head_timeout_seconds: float = 30.0
    # Requests per second each project may make (a token bucket of `rate_limit_burst`); 0 is
    # off. Per project: shared through the database by the processes of one PostgreSQL
    # (serving/ratelimit.py).
    rate_limit: float = 0.0
    rate_limit_burst: int = 0
    # A bearer token /metrics then requires (`Authorization: Bearer <token>`, what Prometheus
    # sends with `authorization: {credentials: ...}`); empty: /metrics is open, as exporters are.
    metrics_token: str = ""
    # Answer every API call 503 (planned maintenance); /healthz still answers.
    maintenance: bool = False
    # The server key from which project secrets are derived (see keys.py): the environment's
    # SALESMACHINE_SECRET_KEY, else this file, created on first use.
    secret_key: str = ""
    key_file: str = "./data/server.key"
    # Reverse proxies whose X-Forwarded-For names the client (IPs and CIDRs, comma-separated),
    # for the visit_ip of browser writes (ingest/client_ip.py). Empty: the connection's address.
    trusted_proxies: str = ""
    # Enrichment (enrich/, docs/enrichment.md): derive location and browser of each event as it
    # is written ("off" leaves it to `salesmachine enrich --backfill`); a MaxMind-format .mmdb
    # file for cities (country needs none); what is kept of visit_ip: full, truncated or off.
    enrichment: bool = True
    geoip_db: str = ""
    ip_storage: str = "full"
    # Periodic work inside `serve` (serving/periodic.py): how often each process claims or renews
    # the leases of its tasks (another server takes a task over three of these after its holder
    # died), and how often retention (store/write/retention.py) deletes what projects keep no longer.
    periodic_check_seconds: float = 60.0
    retention_interval_seconds: float = 86_400.0
    # How often the health history (project/health_history.py) is brought up to date: the
    # customers the write path marked, the day turned, a rebuild after a model change. The
    # periodic check above bounds it from below.
    health_refresh_seconds: float = 60.0
    # Deliveries (deliver/, docs/deliveries.md). Webhook and Slack URLs that resolve to loopback,
    # private or link-local addresses are refused unless this is on (as GitLab's "allow requests
    # to the local network"); cloud metadata addresses are refused even then.
    delivery_allow_private_networks: bool = False
    # How often the sender looks for what is due (its lease is renewed as often).
    delivery_check_seconds: float = 1.0
    # Retries: base × 2^(attempt-1) seconds, with jitter, at most the cap, for the retry window
    # after the delivery was enqueued (or resent); then it is failed, and shown as such.
    delivery_backoff_base_seconds: float = 30.0
    delivery_backoff_max_seconds: float = 3_600.0
    delivery_retry_window_seconds: float = 86_400.0
    # One attempt's limit: connecting, sending and reading the answer (HTTP or SMTP).
    delivery_timeout_seconds: float = 10.0
    # Playbooks (project/playbook_runner.py): how often the runner looks at who matches a saved
    # segment, a stale Pulse or a renewal coming (and at once when a project's day turns).
    playbook_scan_seconds: float = 30.0
    # A PEM file of CA certificates trusted beside the public ones, for https endpoints and SMTP
    # servers whose certificates a company's own CA signed (deliver/tls.py).
    delivery_ca_file: str = ""
    # Days the delivery log keeps a delivered or failed delivery and its attempts (0: for ever).
    delivery_log_days: int = 30
    # The write path (docs/design.md, The write path): HTTP request workers sharing the port
    # (0: one per core); the journal file (empty: beside the SQLite file, or ./data/journal-<db>.sqlite
    # for PostgreSQL: ingest/journal.py) and the bytes it may hold not yet applied before writes
    # are answered 503; items the projector applies per store transaction; how long a read waits
    # for the writes acknowledged before it (then answers with Salesmachine-Read-Stale); the
    # projection lag over which /readyz answers 503; the projector's niceness (0-19: when the
    # request workers keep every core busy, how little of them the projector takes); how long a
    # small group waits for more before the projector applies it, unless a read waits for it
    # (0: never; project/projector.py `_gather`).
    workers: int = 0
    journal_path: str = ""
    journal_budget_bytes: int = 2 * 1024 * 1024 * 1024
    projector_group_items: int = 150_000
    projector_niceness: int = 10
    projector_gather_seconds: float = 1.0
    read_wait_seconds: float = 5.0
    ready_lag_seconds: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `SALESMACHINE_*` variables, then from explicit overrides (CLI flags)."""
        source: Mapping[str, str] = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = source.get(env_name(field.name))
            if raw is not None:
                values[field.name] = _parse(field.type, raw, field.name)
        for name, value in overrides.items():
            if value is None:
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):  # a flag's number
                try:
                    _check_number(name, value, str(value))
                except SettingsError as exc:  # named as it was given: the flag
                    flag = "--" + name.replace("_", "-")
                    raise SettingsError(str(exc).replace(env_name(name), flag, 1)) from None
            values[name] = value
        return cls(**values)


# The clients (Python, Ruby, PHP) read SALESMACHINE_HOST as the server's URL to send to. A shell
# that sets it for them must not make the server try to listen on "http://...": the listening
# address and port have names of their own.
_ENV_NAMES = {"host": "SALESMACHINE_LISTEN_HOST", "port": "SALESMACHINE_LISTEN_PORT"}


def env_name(setting: str) -> str:
    """The environment variable that holds a setting."""
    return _ENV_NAMES.get(setting, f"SALESMACHINE_{setting.upper()}")


class SettingsError(ValueError):
    """A `SALESMACHINE_*` variable whose value cannot be a setting's: the message names the
    variable and the rule (the CLI prints it instead of a traceback, cli.py)."""


# Words a boolean setting is read from; any other value is refused rather than read as false.
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# The range of each number setting: refused outside it rather than bent into it. A size or a
# count of 0 would refuse every request (a body of at most 0 bytes) or mean something no one
# meant (a projector group of 0 items applied one entry per transaction), a period of 0 would
# spin its loop; where 0 means something (off, no budget, for ever, one worker per core, one
# look), the setting's comment says so.
_RANGES: dict[str, tuple[float, float | None]] = {
    "port": (0, 65535),
    "projector_niceness": (0, 19),
    **dict.fromkeys(
        [
            "max_body_bytes",
            "max_item_bytes",
            "max_batch_items",
            "max_group_items",
            "max_head_bytes",
            "projector_group_items",
        ],
        (1, None),
    ),
    **dict.fromkeys(
        [
            "retry_after_seconds",
            "rate_limit",
            "rate_limit_burst",
            "delivery_log_days",
            "workers",
            "journal_budget_bytes",
            "projector_gather_seconds",
            "read_wait_seconds",
            "delivery_backoff_base_seconds",
            "delivery_backoff_max_seconds",
            "delivery_retry_window_seconds",
        ],
        (0, None),
    ),
}
# A float setting not named here (a period, a timeout, a lag) must be more than 0.


def _parse(type_name: object, raw: str, name: str) -> object:
    if type_name in ("int", int):
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{env_name(name)} must be an integer, got {raw!r}") from None
        _check_number(name, value, raw.strip())
        return value
    if type_name in ("float", float):
        try:
            number = float(raw)
        except ValueError:
            raise SettingsError(f"{env_name(name)} must be a number, got {raw!r}") from None
        _check_number(name, number, raw.strip())
        return number
    if type_name in ("bool", bool):
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise SettingsError(
                f"{env_name(name)} must be one of {', '.join(_TRUE)} or {', '.join(_FALSE[:-1])}, got {raw!r}"
            )
        return word in _TRUE
    return raw


def _check_number(name: str, value: float, shown: str) -> None:
    """A number setting's rules: a float finite, and more than 0 unless `_RANGES` names it;
    within its range where `_RANGES` gives one. `shown`: the value as it was written (-3, not
    the float's -3.0)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SettingsError(f"{env_name(name)} must be a finite number, got {shown!r}")
        if name not in _RANGES and value <= 0:
            raise SettingsError(f"{env_name(name)} must be more than 0, got {shown}")
    bounds = _RANGES.get(name)
    if bounds is None:
        return
    least, most = bounds
    if most is not None and not least <= value <= most:
        raise SettingsError(f"{env_name(name)} must be between {least} and {most}, got {shown}")
    if value < least:
        raise SettingsError(f"{env_name(name)} must be at least {least}, got {shown}")
