"""`salesmachine contacts erase|suppression`, `salesmachine accounts erase` and `salesmachine
receipts verify`: data rights from the command line (docs/privacy.md).

Kept apart from cli.py, which registers these groups. An erasure prints its signed receipt as
one JSON object on stdout; `receipts verify` exits 0 (valid), 1 (tampered, or signed with
another server key) or 2 (not a receipt: unreadable, not JSON).
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Literal

import click
import orjson

from salesmachine_server.domain.receipts import receipt_key, verify
from salesmachine_server.keys import load_server_key
from salesmachine_server.serving.erasures import erase
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import Project, list_projects, update_settings, utcnow
from salesmachine_server.store.records.suppressions import suppression_counts
from salesmachine_server.user_commands import database_option


def cli_actor() -> str:
    """Who runs a command, as the audit log and receipts name them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


def audit_settings_change(engines: Engines, project_id: int, changes: dict[str, object]) -> None:
    """Log a change of settings made from the command line (names and values: no secrets)."""
    if changes:
        audit_log.record_settings_change(engines.writer, project_id, cli_actor(), dict(changes), "cli", utcnow())


def _open(database_url: str | None) -> tuple[Settings, Engines]:
    from salesmachine_server.cli import _open as open_and_migrate  # cli.py imports this module

    return open_and_migrate(database_url)


def _project(engines: Engines, name: str) -> Project:
    found = next((p for p in list_projects(engines.reader) if p.name == name), None)
    if found is None:
        raise click.ClickException(f"no project is named {name!r} (salesmachine projects list)")
    return found


def _erase(kind: Literal["contact", "account"], uid: str, project_name: str, database_url: str | None) -> None:
    settings, engines = _open(database_url)
    try:
        project = _project(engines, project_name)
        receipt = erase(engines, load_server_key(settings), project.id, kind, uid, cli_actor())
    finally:
        engines.dispose()
    if receipt is None:
        raise click.ClickException(f"no {kind} of project {project_name!r} has the uid {uid!r}")
    click.echo(orjson.dumps(receipt, option=orjson.OPT_INDENT_2).decode())


@click.group()
def contacts() -> None:
    """Erase a contact; see what suppression stops."""


@contacts.command("erase")
@click.argument("uid")
@click.option("--project", "project_name", required=True, help="the project the contact is in")
@database_option
def contacts_erase(uid: str, project_name: str, database_url: str | None) -> None:
    """Erase the contact UID (any of its uids) everywhere; print the signed receipt."""
    _erase("contact", uid, project_name, database_url)


@contacts.command("suppression")
@click.option("--project", "project_name", required=True)
@click.option("--refuse", "mode", flag_value="refuse", help="answer writes naming an erased uid 409 (the default)")
@click.option("--drop", "mode", flag_value="drop", help="answer them 201 and store nothing")
@database_option
def contacts_suppression(project_name: str, mode: str | None, database_url: str | None) -> None:
    """Show what suppression stops; --refuse or --drop chooses what happens to such writes."""
    _settings, engines = _open(database_url)
    try:
        project = _project(engines, project_name)
        if mode is not None:
            project = update_settings(engines.writer, project.name, {"suppressed_writes": mode})
            audit_settings_change(engines, project.id, {"suppressed_writes": mode})
        with engines.reader.connect() as conn:
            counts = suppression_counts(conn, project.id)
    finally:
        engines.dispose()
    click.echo(orjson.dumps({**counts, "suppressed_writes": project.settings.suppressed_writes}))


@click.group()
def accounts() -> None:
    """Erase an account."""


@accounts.command("erase")
@click.argument("uid")
@click.option("--project", "project_name", required=True, help="the project the account is in")
@database_option
def accounts_erase(uid: str, project_name: str, database_url: str | None) -> None:
    """Erase the account UID: its row, memberships, active days, mrr history; its contacts stay."""
    _erase("account", uid, project_name, database_url)


@click.group()
def receipts() -> None:
    """Check erasure receipts."""


@receipts.command("verify")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def receipts_verify(path: Path) -> None:
    """Say whether the receipt in PATH is valid (exit 0) or tampered (exit 1); 2 when it is not
    a receipt. Needs the server key the receipt was signed with (SALESMACHINE_SECRET_KEY or
    the key file)."""
    try:
        receipt = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        click.echo(f"not a receipt: {exc}", err=True)
        sys.exit(2)
    if not isinstance(receipt, dict) or "signature" not in receipt:
        click.echo("not a receipt: a JSON object with a signature is expected", err=True)
        sys.exit(2)
    if verify(receipt_key(load_server_key(Settings.from_env())), receipt):
        click.echo(f"valid: erasure of {receipt.get('kind')} at {receipt.get('erased_at')} by {receipt.get('by')}")
        return
    click.echo("tampered: the receipt was changed after signing, or signed with another server key")
    sys.exit(1)
