"""`salesmachine users ...`: who may sign in to the dashboard, and to which projects.

Kept apart from cli.py, which registers this group; `first_user` is what `serve
--first-project` (`make run`) calls so that a fresh install can be signed in to at once.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import click
from sqlalchemy.exc import IntegrityError

from salesmachine_server.invocation import invoked_as
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.records.projects import Project, list_projects
from salesmachine_server.store.records.users import (
    User,
    count_users,
    create_user,
    grant,
    list_users,
    normalise_email,
    set_password,
)

FIRST_USER_EMAIL = "admin@localhost"

database_option = click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="sqlite:///path or postgresql://user@host/db (default: $SALESMACHINE_DATABASE_URL, "
    "else sqlite:///./data/salesmachine.db)",
)


def _open(database_url: str | None) -> Engines:
    from salesmachine_server.cli import _open as open_and_migrate  # cli.py imports this module

    return open_and_migrate(database_url)[1]


@dataclass(frozen=True)
class Again:
    """A `salesmachine` command line to print, as the user called this one (invocation.py) and
    with the same --database, so that it runs as printed from a new shell in the same directory."""

    command: str
    database: str = ""  # " --database URL" when the user gave one

    def __call__(self, subcommand: str, *args: str) -> str:
        return " ".join([self.command, subcommand, *(shlex.quote(a) for a in args)]) + self.database


def _projects(engines: Engines, names: tuple[str, ...]) -> list[Project]:
    known = {p.name: p for p in list_projects(engines.reader)}
    missing = [name for name in names if name not in known]
    if missing:
        raise click.ClickException(f"no project named {missing[0]!r} ({invoked_as()} projects list)")
    return [known[name] for name in names]


def first_user(engines: Engines) -> tuple[User, str] | None:
    """On an install without users, a first one, member of every project; else None."""
    if count_users(engines.reader):
        return None
    project_ids = tuple(p.id for p in list_projects(engines.reader))
    try:
        return create_user(engines.writer, FIRST_USER_EMAIL, None, project_ids)
    except (ValueError, IntegrityError):
        return None  # another process starting at the same time created it: it printed it


def print_first_user(created: tuple[User, str] | None, base_url: str, again: Again) -> None:
    if created is None:
        return
    user, password = created
    click.echo(
        f"Created a dashboard user: sign in at {base_url}/\n  e-mail:   {user.email}\n  password: {password}\n"
        f"  (shown once; change it with: {again('users password', user.email)})\n"
    )


@click.group()
def users() -> None:
    """Create dashboard users and give them projects."""


@users.command("create")
@click.argument("email")
@click.option("--project", "project_names", multiple=True, required=True, help="a project the user sees (repeat)")
@click.option("--password", help="the password (at least 8 characters); default: a generated one, printed")
@database_option
def users_create(email: str, project_names: tuple[str, ...], password: str | None, database_url: str | None) -> None:
    """Create a user who may sign in to the dashboard and see the given projects."""
    engines = _open(database_url)
    try:
        projects = _projects(engines, project_names)
        user, given = create_user(engines.writer, email, password, tuple(p.id for p in projects))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engines.dispose()
    click.echo(f"user:     {user.email}\nprojects: {', '.join(p.name for p in projects)}")
    if password is None:
        click.echo(f"password: {given}")


@users.command("grant")
@click.argument("email")
@click.option("--project", "project_names", multiple=True, required=True, help="a project to add (repeat)")
@database_option
def users_grant(email: str, project_names: tuple[str, ...], database_url: str | None) -> None:
    """Let an existing user see more projects."""
    engines = _open(database_url)
    try:
        for project in _projects(engines, project_names):
            grant(engines.writer, email, project.id)
        user, names = next((u, n) for u, n in list_users(engines.reader) if u.email == normalise_email(email))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engines.dispose()
    # What the user sees now, every project (as `users create` prints it): a silent success
    # looked like nothing had happened.
    click.echo(f"user:     {user.email}\nprojects: {', '.join(names)}")


@users.command("password")
@click.argument("email")
@click.option("--password", help="the new password; default: a generated one, printed")
@database_option
def users_password(email: str, password: str | None, database_url: str | None) -> None:
    """Set a user's password; the user's open sessions end."""
    engines = _open(database_url)
    try:
        given = set_password(engines.writer, email, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engines.dispose()
    if password is None:
        click.echo(f"password: {given}")


@users.command("list")
@database_option
def users_list(database_url: str | None) -> None:
    """Every user with their projects."""
    engines = _open(database_url)
    try:
        found = list_users(engines.reader)
    finally:
        engines.dispose()
    for user, names in found:
        click.echo(f"{user.email}\t{', '.join(names)}")
