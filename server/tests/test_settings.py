"""Settings from the environment: the names the README documents, and errors that name them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesmachine_server.settings import Settings


def test_the_clients_host_variable_does_not_move_the_server() -> None:
    # A shell that points the clients at the server (SALESMACHINE_HOST=http://...) also starts it.
    settings = Settings.from_env({"SALESMACHINE_HOST": "http://127.0.0.1:9999"})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_the_listening_address_has_names_of_its_own() -> None:
    settings = Settings.from_env({"SALESMACHINE_LISTEN_HOST": "0.0.0.0", "SALESMACHINE_LISTEN_PORT": "9000"})
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)


def test_a_flag_overrides_the_environment() -> None:
    settings = Settings.from_env({"SALESMACHINE_LISTEN_PORT": "9000"}, port=9001)
    assert settings.port == 9001


def test_a_niceness_out_of_its_range_is_refused_not_bent() -> None:
    with pytest.raises(ValueError, match="SALESMACHINE_PROJECTOR_NICENESS must be between 0 and 19, got 25"):
        Settings.from_env({"SALESMACHINE_PROJECTOR_NICENESS": "25"})
    assert Settings.from_env({"SALESMACHINE_PROJECTOR_NICENESS": "19"}).projector_niceness == 19


@pytest.mark.parametrize(
    ("name", "raw", "rule"),
    [
        # A group of 0 items: one journal entry per transaction, whatever waits.
        ("SALESMACHINE_PROJECTOR_GROUP_ITEMS", "0", "must be at least 1, got 0"),
        ("SALESMACHINE_MAX_BODY_BYTES", "-1", "must be at least 1, got -1"),
        ("SALESMACHINE_JOURNAL_BUDGET_BYTES", "-5", "must be at least 0, got -5"),
        ("SALESMACHINE_LISTEN_PORT", "70000", "must be between 0 and 65535, got 70000"),
        # A period of 0 spins its loop; a timeout of 0 refuses everything.
        ("SALESMACHINE_PERIODIC_CHECK_SECONDS", "0", "must be more than 0, got 0"),
        ("SALESMACHINE_HEAD_TIMEOUT_SECONDS", "-2.5", "must be more than 0, got -2.5"),
        ("SALESMACHINE_READ_WAIT_SECONDS", "-1", "must be at least 0, got -1"),
        ("SALESMACHINE_READ_WAIT_SECONDS", "nan", "must be a finite number, got 'nan'"),
        ("SALESMACHINE_READY_LAG_SECONDS", "inf", "must be a finite number, got 'inf'"),
    ],
)
def test_a_number_out_of_its_range_is_refused_naming_the_rule(name: str, raw: str, rule: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} {rule}$"):
        Settings.from_env({name: raw})


def test_a_flag_out_of_its_range_is_refused_too() -> None:
    with pytest.raises(ValueError, match=r"^--rate-limit must be at least 0, got -3\.0$"):
        Settings.from_env({}, rate_limit=-3.0)
    with pytest.raises(ValueError, match=r"^--rate-limit must be a finite number, got 'nan'$"):
        Settings.from_env({}, rate_limit=float("nan"))
    assert Settings.from_env({}, port=9002, rate_limit=2.5).rate_limit == 2.5


def test_a_zero_that_means_something_is_taken() -> None:
    settings = Settings.from_env(
        {
            "SALESMACHINE_WORKERS": "0",  # one per core
            "SALESMACHINE_RATE_LIMIT": "0",  # off
            "SALESMACHINE_PROJECTOR_GATHER_SECONDS": "0",  # apply at once
            "SALESMACHINE_READ_WAIT_SECONDS": "0",  # answer at once, stale if need be
            "SALESMACHINE_DELIVERY_LOG_DAYS": "0",  # keep for ever
            "SALESMACHINE_JOURNAL_BUDGET_BYTES": "0",  # no budget
        }
    )
    assert (settings.workers, settings.rate_limit, settings.projector_gather_seconds) == (0, 0.0, 0.0)
    assert (settings.read_wait_seconds, settings.delivery_log_days, settings.journal_budget_bytes) == (0.0, 0, 0)


def test_a_bad_number_names_its_variable() -> None:
    with pytest.raises(ValueError, match="SALESMACHINE_LISTEN_PORT must be an integer, got 'x'"):
        Settings.from_env({"SALESMACHINE_LISTEN_PORT": "x"})
    with pytest.raises(ValueError, match="SALESMACHINE_MAX_BATCH_ITEMS must be an integer"):
        Settings.from_env({"SALESMACHINE_MAX_BATCH_ITEMS": "many"})


def test_a_boolean_takes_only_the_words_it_knows() -> None:
    assert Settings.from_env({"SALESMACHINE_MAINTENANCE": "On"}).maintenance is True
    assert Settings.from_env({"SALESMACHINE_MAINTENANCE": "no"}).maintenance is False
    # A typo is not read as false: the operator meant something.
    with pytest.raises(ValueError, match="SALESMACHINE_MAINTENANCE must be one of 1, true, yes, on or 0, false"):
        Settings.from_env({"SALESMACHINE_MAINTENANCE": "ture"})


def test_a_command_stops_on_a_bad_variable_with_its_message_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "SALESMACHINE_PROJECTOR_NICENESS": "25"}
    database = f"sqlite:///{tmp_path / 'x.db'}"
    for command in (["serve", "--database", database], ["users", "list", "--database", database]):
        done = subprocess.run(
            [sys.executable, "-m", "salesmachine_server", *command], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, command
        assert done.stderr == "Error: SALESMACHINE_PROJECTOR_NICENESS must be between 0 and 19, got 25\n", command
