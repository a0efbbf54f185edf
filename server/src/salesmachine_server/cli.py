"""The `salesmachine` command: serve, migrate, projects."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from salesmachine_server import data_rights_commands, deliveries_commands, health_commands
from salesmachine_server.domain.project_settings import SettingsRefused, applied, to_stored
from salesmachine_server.domain.retention import FIELD as RETENTION_FIELD
from salesmachine_server.domain.retention import parse_retention_days
from salesmachine_server.enrich import backfill as enrich_backfill
from salesmachine_server.enrich.events import Enricher, enricher_from
from salesmachine_server.ingest.import_columns import parse_column_option
from salesmachine_server.ingest.importer import import_file
from salesmachine_server.ingest.journal import Journal, journal_path
from salesmachine_server.invocation import invoked_as
from salesmachine_server.keys import derive_secret, load_server_key
from salesmachine_server.settings import Settings, SettingsError
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.projects import Project, create_project, list_projects, update_settings
from salesmachine_server.store.write.contact_days import rebuild_contact_days, refresh_health_marks
from salesmachine_server.supervisor import Supervisor, listen, worker_count
from salesmachine_server.user_commands import Again, database_option, first_user, print_first_user, users


def _open(database_url: str | None) -> tuple[Settings, Engines]:
    settings = Settings.from_env(database_url=database_url)
    try:
        engines = open_engines(settings.database_url)
        migrate(engines)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return settings, engines


class _Commands(click.Group):
    """The command group: a `SALESMACHINE_*` variable that cannot be read stops any command
    with its message (the variable and the rule), not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Commands)
@click.version_option(package_name="salesmachine-server")
def main() -> None:
    """Self-hosted Salesmachine: a customer data and customer-success platform."""


@main.command()
@click.option("--host", default=None, help="address to listen on (default $SALESMACHINE_LISTEN_HOST, else 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port to listen on (default $SALESMACHINE_LISTEN_PORT, else 8080)")
@database_option
@click.option("--access-log/--no-access-log", default=None, help="log every request")
@click.option(
    "--first-project",
    is_flag=True,
    help="create a project named 'default' when there is none and print its credentials",
)
@click.option("--maintenance", is_flag=True, default=None, help="answer every API call 503 (Retry-After)")
@click.option("--rate-limit", type=float, default=None, help="requests per second per project (0: off)")
@click.option("--rate-limit-burst", type=int, default=None, help="requests a project may make at once")
@click.option(
    "--workers", type=click.IntRange(0, 256), default=None, help="HTTP worker processes (default: one per core)"
)
def serve(
    host: str | None,
    port: int | None,
    database_url: str | None,
    access_log: bool | None,
    first_project: bool,
    maintenance: bool | None,
    rate_limit: float | None,
    rate_limit_burst: int | None,
    workers: int | None,
) -> None:
    """Migrate the database and serve the API: request workers and the projector (supervisor.py)."""
    settings, engines = _open(database_url)
    settings = Settings.from_env(
        database_url=settings.database_url,
        host=host,
        port=port,
        access_log=access_log,
        maintenance=maintenance,
        rate_limit=rate_limit,
        rate_limit_burst=rate_limit_burst,
        workers=workers,
    )
    _enricher(settings)  # a missing .mmdb file or a bad IP storage mode stops the start, not a write
    created = None
    if first_project and not list_projects(engines.writer):
        created = create_project(engines.writer, "default", load_server_key(settings))
    # The commands the banner prints name the database the way this command was told it, so
    # that they reach the same one (a URL's password is not printed: it is redacted).
    again = Again(invoked_as(), f" --database {shlex.quote(_redact(database_url))}" if database_url else "")
    _print_banner(settings, engines, created, again)
    if first_project:
        print_first_user(first_user(engines), f"http://{settings.host}:{settings.port}", again)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engines.dispose()  # the processes below open their own (supervisor.py forks them)
    Journal(journal_path(settings.database_url, settings.journal_path)).close()  # made once, before they open it
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
    sys.exit(Supervisor(settings, sock).run())


def _enricher(settings: Settings, enabled: bool | None = None) -> Enricher:
    try:
        return enricher_from(settings, enabled)
    except (ValueError, OSError, RuntimeError) as exc:  # RuntimeError: maxminddb's InvalidDatabaseError
        raise click.UsageError(f"enrichment: {exc}") from None


main.add_command(users)
main.add_command(health_commands.health)
# Data rights (data_rights_commands.py): contacts erase, accounts erase, receipts verify.
for _group in (data_rights_commands.contacts, data_rights_commands.accounts, data_rights_commands.receipts):
    main.add_command(_group)
# Deliveries (deliveries_commands.py): deliveries test.
main.add_command(deliveries_commands.deliveries)


@main.command("migrate")
@database_option
def migrate_command(database_url: str | None) -> None:
    """Create or upgrade the database schema."""
    settings, engines = _open(database_url)
    engines.dispose()
    click.echo(f"database is up to date: {_redact(settings.database_url)}")


@main.command("enrich")
@click.option("--backfill", is_flag=True, help="enrich the events stored before enrichment (resumable, idempotent)")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=enrich_backfill.BATCH,
    show_default=True,
    help="events per transaction",
)
@database_option
def enrich_command(backfill: bool, batch_size: int, database_url: str | None) -> None:
    """Location and browser of stored events (docs/enrichment.md); without --backfill, count
    the events still to do."""
    settings, engines = _open(database_url)
    try:
        if not backfill:
            click.echo(
                f"{enrich_backfill.pending(engines)} events not enriched yet; "
                "`salesmachine enrich --backfill` enriches them"
            )
            return
        enricher = _enricher(settings, enabled=True)

        def progress(report: enrich_backfill.BackfillReport) -> None:
            click.echo(f"  {report.events} events enriched", err=True)

        report = enrich_backfill.backfill(engines, enricher, batch_size, progress)
    finally:
        engines.dispose()
    click.echo(
        f"enriched {report.events} events ({report.located} with an address, {report.with_agent} with a "
        f"user agent, {report.addresses_changed} addresses truncated or removed); none left to do"
    )


@main.group()
def projects() -> None:
    """Create and list projects (each has its own token, secret and data)."""


@projects.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@database_option
def projects_create(name: str, as_json: bool, database_url: str | None) -> None:
    """Create a project and print its token and secret (the secret is shown only now)."""
    settings, engines = _open(database_url)
    try:
        project, secret = create_project(engines.writer, name, load_server_key(settings))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engines.dispose()
    if as_json:
        click.echo(orjson.dumps({"id": project.id, "name": project.name, "token": project.token, "secret": secret}))
    else:
        click.echo(f"project: {project.name}\ntoken:   {project.token}\nsecret:  {secret}")


@projects.command("list")
@click.option("--json", "as_json", is_flag=True, help="print a JSON array")
@database_option
def projects_list(as_json: bool, database_url: str | None) -> None:
    """List projects with their tokens."""
    _settings, engines = _open(database_url)
    try:
        found = list_projects(engines.reader)
    finally:
        engines.dispose()
    if as_json:
        rows = [{"id": p.id, "name": p.name, "token": p.token, "created_at": p.created_at.isoformat()} for p in found]
        click.echo(orjson.dumps(rows))
        return
    for project in found:
        click.echo(f"{project.id}\t{project.name}\t{project.token}")


@projects.command("secret")
@click.argument("name")
@database_option
def projects_secret(name: str, database_url: str | None) -> None:
    """Print a project's secret (derived from the server key; see docs/security.md)."""
    settings, engines = _open(database_url)
    try:
        found = [p for p in list_projects(engines.reader) if p.name == name]
    finally:
        engines.dispose()
    if not found:
        raise click.ClickException(f"no project named {name!r}")
    secret = derive_secret(load_server_key(settings), found[0].token)
    if not found[0].secret_matches(secret):
        raise click.ClickException("this server key did not issue that project's secret (another key file?)")
    click.echo(secret)


class Unset:
    """An option not given (None is a value for --retention-days: none, keep forever)."""


def _retention_days(_ctx: click.Context, _param: click.Parameter, typed: str | None) -> int | Unset | None:
    if typed is None:
        return Unset()
    try:
        return parse_retention_days(typed)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@projects.command("configure")
@click.argument("name")
@click.option(
    "--identity-verification/--no-identity-verification",
    default=None,
    help="require user_hash on writes made with the token alone",
)
@click.option("--timezone", help="IANA time zone in which active days are counted, e.g. Europe/Paris")
# Thresholds are taken as text and checked by the dashboard's own rules (domain/project_settings),
# so that a bad value is refused in the same words in both places.
@click.option("--health-window", metavar="DAYS", help="days health looks back over, 1 to 365 (default 14)")
@click.option("--health-good-above", metavar="DAYS", help="good: more active days than this, 0 to 365 (default 4)")
@click.option("--health-bad-at-most", metavar="DAYS", help="bad: this many active days or fewer, 0 to 365 (default 0)")
@click.option(
    "--retention-days",
    metavar="N|none",
    callback=_retention_days,
    help="delete events and pageviews N days old (daily, by the server); none: keep them forever",
)
@click.option(
    "--currency", metavar="CODE", help="ISO 4217 code the dashboard writes amounts in, e.g. EUR (default USD)"
)
@click.option(
    "--renewal-attribute",
    metavar="NAME",
    help="the accounts' attribute holding their renewal date, e.g. renewal_date (empty: none)",
)
@database_option
def projects_configure(
    name: str,
    identity_verification: bool | None,
    timezone: str | None,
    health_window: str | None,
    health_good_above: str | None,
    health_bad_at_most: str | None,
    retention_days: int | Unset | None,
    currency: str | None,
    renewal_attribute: str | None,
    database_url: str | None,
) -> None:
    """Change a project's settings; prints them all, defaults included (without options: only
    prints them)."""
    change: dict[str, object] = {}
    if identity_verification is not None:
        change["identity_verification"] = identity_verification
    if timezone is not None:
        change["timezone"] = timezone
    health = {"window_days": health_window, "good_above": health_good_above, "bad_at_most": health_bad_at_most}
    if any(v is not None for v in health.values()):
        change["health"] = {k: v for k, v in health.items() if v is not None}
    if not isinstance(retention_days, Unset):
        change[RETENTION_FIELD] = retention_days  # None removes it: kept forever
    if currency is not None:
        change["currency"] = currency
    if renewal_attribute is not None:
        change["renewal_attribute"] = renewal_attribute  # "" removes it
    _settings, engines = _open(database_url)
    try:
        try:
            project = update_settings(engines.writer, name, change)
        except SettingsRefused as refused:
            raise click.UsageError(
                "\n".join(f"Invalid value for '{CONFIGURE_OPTIONS[r.field]}': {r.message}" for r in refused.refusals)
            ) from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        data_rights_commands.audit_settings_change(engines, project.id, applied(project.settings, change))
        if timezone is not None:  # recomputes the health marks too
            days = rebuild_contact_days(engines.writer, project.id, project.settings.timezone)
            click.echo(f"recounted active days in {project.settings.timezone}: {days} contact-days", err=True)
        elif health_good_above is not None or health_bad_at_most is not None:
            refresh_health_marks(engines.writer, project.id)
    finally:
        engines.dispose()
    # What the server applies: what was set, and the default of what was not (without options,
    # `configure` shows a newcomer the thresholds in force).
    click.echo(orjson.dumps(to_stored(project.settings)))


# The option of `projects configure` that sets each field a refusal names.
CONFIGURE_OPTIONS = {
    "timezone": "--timezone",
    "identity_verification": "--identity-verification",
    "health.window_days": "--health-window",
    "health.good_above": "--health-good-above",
    "health.bad_at_most": "--health-bad-at-most",
    RETENTION_FIELD: "--retention-days",
    "currency": "--currency",
    "renewal_attribute": "--renewal-attribute",
}


@main.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_name", required=True, help="the project to import into")
@click.option("--kind", type=click.Choice(["contacts", "accounts", "events"]), help="default: told by each row")
@click.option(
    "--column",
    "column_specs",
    multiple=True,
    metavar="NAME:TYPE",
    help="an attribute column's type: auto (default), string, number, boolean, date, json, or skip",
)
@click.option("--dry-run", is_flag=True, help="show what each column becomes and the first rows; import nothing")
@database_option
def import_command(
    path: Path,
    project_name: str,
    kind: str | None,
    column_specs: tuple[str, ...],
    dry_run: bool,
    database_url: str | None,
) -> None:
    """Import contacts, accounts or events from CSV or NDJSON (as /v1/export gives them, or any
    file with a uid column: other columns become attributes)."""
    try:
        columns = dict(parse_column_option(spec) for spec in column_specs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--column") from None
    _settings, engines = _open(database_url)
    try:
        project = next((p for p in list_projects(engines.reader) if p.name == project_name), None)
        if project is None:
            raise click.ClickException(f"no project named {project_name!r}")
        try:
            report = import_file(engines, project, path, kind, columns, dry_run=dry_run)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        engines.dispose()
    for line in report.preview:
        click.echo(line)
    applied = "would be applied" if dry_run else f"applied ({report.duplicates} already there)"
    click.echo(f"{report.rows} rows, {report.messages} messages {applied}, {len(report.refused)} refused")
    for line in report.refused[:REFUSED_SHOWN]:
        click.echo(f"  refused: {line}", err=True)
    if len(report.refused) > REFUSED_SHOWN:
        click.echo(f"  ... and {len(report.refused) - REFUSED_SHOWN} more refused rows", err=True)
    if dry_run:
        click.echo("dry run: nothing was imported")
    if report.refused:
        sys.exit(1)


REFUSED_SHOWN = 20


def _print_banner(settings: Settings, engines: Engines, created: tuple[Project, str] | None, again: Again) -> None:
    """Where it serves, the first project's credentials, and a request to try."""
    base = f"http://{settings.host}:{settings.port}"
    out = sys.stdout
    out.write(f"\nSalesmachine self-hosted, serving on {base}\n")
    out.write(f"database: {_redact(settings.database_url)}\n")
    out.write(
        f"journal:  {journal_path(settings.database_url, settings.journal_path)} "
        f"({worker_count(settings)} request workers, one projector)\n"
    )
    if created is not None:
        project, secret = created
        out.write(f"\nCreated project '{project.name}'.\n  token:  {project.token}\n  secret: {secret}\n")
        out.write(f"  (print it again with: {again('projects secret', project.name)})\n")
        token = project.token
    else:
        known = list_projects(engines.reader)
        token = known[0].token if known else "YOUR_API_TOKEN"
        for project in known:
            out.write(f"project '{project.name}': token {project.token}\n")
    out.write(
        "\nTry it:\n"
        f"  curl -X POST -H 'Content-Type: application/json' -u '{token}:' \\\n"
        f'    -d \'{{"contact_uid":"123456", "params": {{"email":"elon@teslamotors.com"}}}}\' \\\n'
        f"    '{base}/v1/contact'\n\n"
    )
    out.flush()


def _redact(url: str) -> str:
    """A database URL without its password, for printing."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}" if ":" in credentials else url
    return url
