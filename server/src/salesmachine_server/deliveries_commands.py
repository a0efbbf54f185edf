"""`salesmachine deliveries test`: send a sample webhook, Slack message or e-mail through the
queue of a project, to check an endpoint (and its address, its signature check, the project's
SMTP server) before a playbook relies on it. deliver/samples.py makes it; the running server's
sender sends it (docs/deliveries.md). Kept apart from cli.py, which registers the group.
"""

from __future__ import annotations

import time

import click
import msgspec
import orjson

from salesmachine_server.api import delivery_models
from salesmachine_server.deliver.addresses import AddressRefused
from salesmachine_server.deliver.queue import DeliveryRefused
from salesmachine_server.deliver.samples import enqueue_sample
from salesmachine_server.store.read.deliveries import delivery_detail
from salesmachine_server.store.records.projects import list_projects, utcnow
from salesmachine_server.user_commands import database_option


@click.group()
def deliveries() -> None:
    """Outbound deliveries: webhooks, Slack, e-mail (docs/deliveries.md)."""


@deliveries.command("test")
@click.option("--project", "project_name", required=True, help="the project whose queue and settings to use")
@click.option("--webhook", metavar="URL", help="send a signed sample webhook to URL (needs --secret)")
@click.option("--secret", help="the endpoint's signing secret, for --webhook")
@click.option("--slack", metavar="URL", help="post a sample message to a Slack incoming-webhook URL")
@click.option("--email", metavar="ADDRESS", help="send a sample e-mail through the project's SMTP server")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for the first attempt")
@database_option
def deliveries_test(
    project_name: str,
    webhook: str | None,
    secret: str | None,
    slack: str | None,
    email: str | None,
    wait: float,
    database_url: str | None,
) -> None:
    """Queue a sample delivery; the server sends it within seconds. Prints its id, or with
    --wait, the delivery and its attempts as JSON once the first attempt is made (exit 1 when
    it was not delivered)."""
    from salesmachine_server.cli import _open  # cli.py imports this module

    chosen = [(name, value) for name, value in (("webhook", webhook), ("slack", slack), ("email", email)) if value]
    if len(chosen) != 1:
        raise click.UsageError("give one of --webhook URL, --slack URL or --email ADDRESS")
    channel, where = chosen[0]
    if channel == "webhook" and not secret:
        raise click.UsageError("--webhook needs --secret (the secret the receiver checks signatures with)")
    target = {"to": where} if channel == "email" else {"url": where}
    if channel == "webhook":
        target["secret"] = str(secret)
    settings, engines = _open(database_url)
    try:
        project = next((p for p in list_projects(engines.reader) if p.name == project_name), None)
        if project is None:
            raise click.ClickException(f"no project is named {project_name!r} (salesmachine projects list)")
        try:
            delivery_id = enqueue_sample(
                engines.writer,
                project.id,
                project.name,
                channel,
                target,
                utcnow(),
                allow_private=settings.delivery_allow_private_networks,
            )
        except AddressRefused as refused:
            raise click.ClickException(f"refused: {refused.reason}") from None
        except DeliveryRefused as refused:
            raise click.ClickException(f"refused: {refused.message}") from None
        if wait <= 0:
            click.echo(f"delivery {delivery_id} queued: the server sends it within seconds")
            return
        deadline = time.monotonic() + wait
        while True:
            with engines.reader.connect() as conn:
                detail = delivery_detail(conn, project.id, delivery_id)
            assert detail is not None
            if detail.attempts or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
    finally:
        engines.dispose()
    shown = delivery_models.delivery(detail, utcnow(), settings.delivery_retry_window_seconds)
    click.echo(orjson.dumps(msgspec.to_builtins(shown), option=orjson.OPT_INDENT_2).decode())
    if detail.status != "delivered":
        raise SystemExit(1)
