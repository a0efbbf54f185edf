"""The module-level API: `salesmachine.key = ...`, then `salesmachine.set_contact(...)`."""

from __future__ import annotations

from typing import Callable

import pytest

import salesmachine
from sm_harness import ErrorLog, Project, Server, Stored

Uids = Callable[[str], str]


def test_module_level_calls_use_one_shared_client(
    module_settings: None, server: Server, project: Project, stored: Stored, uid: Uids
) -> None:
    salesmachine.key = project.token
    salesmachine.secret = project.secret
    salesmachine.host = server.url

    salesmachine.set_contact(uid("123456"), {"name": "Elon Musk", "account_uid": uid("78910")})
    salesmachine.set_account(uid("78910"), {"name": "Tesla Motors", "mrr": 999})
    salesmachine.track_event(uid("123456"), "user_registration", {"display_name": "Registration"})
    salesmachine.track_pageview(uid("123456"), {"visit_url": "/home"})
    salesmachine.alias(uid("123456"), uid("789"))
    assert salesmachine.flush(timeout=10)

    contact = stored.contact(uid("789"))
    assert contact is not None and contact["uids"] == {uid("123456"), uid("789")}
    assert contact["accounts"] == {uid("78910")}
    assert [(e["name"], e["kind"]) for e in stored.events(uid("123456"))] == [
        ("user_registration", "event"), ("pageview", "pageview")]
    account = stored.account(uid("78910"))
    assert account is not None and account["params"]["mrr"] == 999


def test_settings_apply_to_the_next_shared_client(
    module_settings: None, server: Server, project: Project, stored: Stored, uid: Uids
) -> None:
    salesmachine.key, salesmachine.url = project.token, server.url  # `url` is host's old name
    salesmachine.sync_mode = True
    salesmachine.set_contact(uid("123456"), {"step": 1})
    assert stored.contact(uid("123456")) is not None  # sync: stored already
    first = salesmachine.default_client

    assert salesmachine.shutdown(timeout=5)
    assert salesmachine.default_client is None
    errors = ErrorLog()
    salesmachine.on_error = errors
    salesmachine.set_contact(uid("123456"), {"mrr": "a lot"})
    assert salesmachine.default_client is not first and len(errors) == 1


def test_a_call_before_the_key_is_set_says_so(module_settings: None) -> None:
    salesmachine.key = None
    with pytest.raises(ValueError, match="salesmachine.key = YOUR_API_TOKEN"):
        salesmachine.track_event("123456", "user_registration")
    assert salesmachine.flush() and salesmachine.join() and salesmachine.shutdown()


def test_module_level_calls_check_their_input(module_settings: None) -> None:
    salesmachine.key, salesmachine.send = "token", False
    with pytest.raises(TypeError, match="params must be a dict"):
        salesmachine.set_account("78910", ["Tesla Motors"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="event name"):
        salesmachine.track_event("123456", "")
