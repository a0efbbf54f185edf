"""`salesmachine health backtest`: the backtest of POST /v1/health/backtest from the command line,
on the database directly (docs/health.md, The backtest).

The same run (project/health_backtest.py) and the same checks of the request (api/backtest.py),
so a bad rules file or date is refused with the API's words; `--json` prints the API's answer.
Kept apart from cli.py, which registers the group.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import msgspec
import orjson

from salesmachine_server.api import models, shapes
from salesmachine_server.api.backtest import parse_range, parse_rules
from salesmachine_server.domain.backtest import LEADS
from salesmachine_server.domain.timezones import local_today
from salesmachine_server.errors import ApiError
from salesmachine_server.project.health_backtest import run_backtest
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.read.health_models import in_force
from salesmachine_server.store.records.projects import Project, list_projects
from salesmachine_server.user_commands import database_option

T = TypeVar("T")


def _open(database_url: str | None) -> Engines:
    from salesmachine_server.cli import _open as open_and_migrate  # cli.py imports this module

    return open_and_migrate(database_url)[1]


def _project(engines: Engines, name: str) -> Project:
    found = next((p for p in list_projects(engines.reader) if p.name == name), None)
    if found is None:
        raise click.ClickException(f"no project is named {name!r} (salesmachine projects list)")
    return found


@click.group()
def health() -> None:
    """Health models: backtest one against the project's own churn."""


@health.command("backtest")
@click.option("--project", "project_name", required=True, help="the project to backtest")
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a health settings document (JSON) to backtest as a draft; default: the saved one",
)
@click.option("--from", "first", metavar="YYYY-MM-DD", help="first day (default: a year before --to)")
@click.option("--to", "last", metavar="YYYY-MM-DD", help="last day, included (default: today)")
@click.option("--json", "as_json", is_flag=True, help="print the API's answer as one JSON object")
@database_option
def backtest(
    project_name: str,
    rules_file: Path | None,
    first: str | None,
    last: str | None,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Replay a health model over the past and say whether it warned of the churn that happened."""
    draft = None
    if rules_file is not None:
        try:
            document = orjson.loads(rules_file.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"{rules_file} is not JSON: {exc}") from None
        draft = _refused_as_usage(lambda: parse_rules(document))
    engines = _open(database_url)
    try:
        project = _project(engines, project_name)
        zone = project.settings.zone
        dates = {name: value for name, value in (("from", first), ("to", last)) if value is not None}
        start, end = _refused_as_usage(lambda: parse_range(dates, local_today(zone)))
        with engines.reader.connect() as conn:
            model = draft if draft is not None else in_force(conn, project.id).model
            run = run_backtest(conn, project.id, model, start, end, zone)
    finally:
        engines.dispose()
    answer = shapes.backtest(run, zone.key, draft is not None)
    if as_json:
        click.echo(msgspec.json.encode(answer))
    else:
        click.echo(table(answer, project.name))


def _refused_as_usage(parse: Callable[[], T]) -> T:
    try:
        return parse()
    except ApiError as exc:
        field = f" ({exc.field}: {exc.rule})" if exc.field else ""
        raise click.UsageError(f"{exc.message}{field}") from None


def _share(count: int, of: int) -> str:
    return f"{count:>4}" + (f" ({count / of:.0%})" if of else "")


def table(answer: models.Backtest, project_name: str) -> str:
    """The figures, then the accounts behind them, for a terminal."""
    which = "a draft health model" if answer.rules == "draft" else "the saved health model"
    lines = [
        f"Backtest of {which} of {project_name}, {answer.from_} to {answer.to} ({answer.timezone})",
        "",
        f"Accounts that churned: {answer.churned}",
        f"  {'flagged':<16}{'bad':<14}bad or average",
    ]
    for lead in LEADS:
        flag: models.BacktestFlag = getattr(answer.flagged, f"days_{lead}")
        lines.append(
            f"  {f'{lead} days before':<16}{_share(flag.bad, answer.churned):<14}"
            f"{_share(flag.bad_or_average, answer.churned)}"
        )
    median = answer.median_days_bad_before_churn
    lines += [
        f"Median days bad before churning: {'—' if median is None else f'{median:g}'}",
        f"False alarms (bad 30 days or more while paying, no churn): {answer.false_alarms}",
    ]
    if answer.accounts.churned:
        lines += ["", "Churned", f"  {'account':<24}{'churned on':<12}{'7 / 30 / 60 days before':<30}days bad"]
        for c in answer.accounts.churned:
            bands = " / ".join(
                band or "—" for band in (c.bands_before.days_7, c.bands_before.days_30, c.bands_before.days_60)
            )
            lines.append(f"  {_who(c.account_uid, c.name):<24}{c.churned_on!s:<12}{bands:<30}{c.days_bad_before_churn}")
    if answer.accounts.false_alarms:
        lines += ["", "False alarms", f"  {'account':<24}{'bad from':<12}{'bad to':<12}days"]
        for a in answer.accounts.false_alarms:
            lines.append(f"  {_who(a.account_uid, a.name):<24}{a.bad_from!s:<12}{a.bad_to!s:<12}{a.days_bad}")
    return "\n".join(lines)


def _who(uid: str, name: str | None) -> str:
    return f"{name} ({uid})" if name and name != uid else uid
