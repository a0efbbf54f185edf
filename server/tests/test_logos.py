"""Account logos are files an operator drops in SALESMACHINE_LOGO_DIR, and an SVG can carry a
script: they are served sandboxed (a Content-Security-Policy that runs nothing, `nosniff`), and
only to members of a project that has an account of that domain (which customers a project has
is not for other projects' users to probe)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_support import make_user, signed_in
from tests.support import ServerProcess, make_project

EVIL_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>document.title = "script ran"; window.ran = true;</script><rect width="10" height="10"/></svg>"""
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture(scope="module")
def logo_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own on the run's database, with a logo directory."""
    logos = tmp_path_factory.mktemp("logos")
    (logos / "acme.com.svg").write_bytes(EVIL_SVG)
    (logos / "initech.com.png").write_bytes(PNG)
    (logos / "globex.com.png").write_bytes(PNG)
    folder = tmp_path_factory.mktemp("logo-server")
    server = ServerProcess(database_url, Path(folder) / "server.log", env={"SALESMACHINE_LOGO_DIR": str(logos)}).start()
    yield server
    server.stop()


def _project_with(
    server: ServerProcess, accounts: list[dict[str, Any]], contacts: list[dict[str, Any]] | None = None
) -> int:
    project, _ = make_project(server.database_url)
    with httpx.Client(base_url=server.base_url, auth=(project.token, ""), timeout=30) as http:
        answer = http.post(
            "/v1/batch",
            json=[{"method": "account", **a} for a in accounts] + [{"method": "contact", **c} for c in contacts or []],
        )
        assert answer.status_code == 201, answer.text
    return project.id


def test_logos_go_to_members_of_a_project_with_that_domain_only(logo_server: ServerProcess) -> None:
    ours = _project_with(
        logo_server,
        [
            {"account_uid": "acme", "params": {"name": "Acme", "website_url": "https://www.Acme.com/about"}},
            {"account_uid": "initech", "params": {"name": "Initech"}},  # its domain from its contact's e-mail
        ],
        [{"contact_uid": "peter", "params": {"email": "Peter@Initech.com", "account_uid": "initech"}}],
    )
    theirs = _project_with(
        logo_server,
        [
            {"account_uid": "globex", "params": {"domain": "globex.com"}},
            # Mentions acme.com, but its domain is another's: no Acme logo for this project.
            {"account_uid": "reseller", "params": {"domain": "reseller.example", "note": "resells acme.com"}},
        ],
    )
    member = make_user(logo_server.database_url, ours)
    stranger = make_user(logo_server.database_url, theirs)
    with signed_in(logo_server.base_url, member) as browser:
        page = browser.get(f"/p/{ours}/accounts")
        assert 'src="/logos/acme.com.svg"' in page.text and 'src="/logos/initech.com.png"' in page.text
        for name, kind in (("acme.com.svg", "image/svg+xml"), ("initech.com.png", "image/png")):
            logo = browser.get(f"/logos/{name}")
            assert logo.status_code == 200, (name, logo.status_code)
            assert logo.headers["content-type"].startswith(kind)
            assert logo.headers["x-content-type-options"] == "nosniff"
            policy = logo.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "sandbox" in policy
        # A logo that exists, of another project's customer.
        assert browser.get("/logos/globex.com.png").status_code == 404
    with signed_in(logo_server.base_url, stranger) as browser:
        assert browser.get("/logos/globex.com.png").status_code == 200
        for name in ("acme.com.svg", "initech.com.png"):
            assert browser.get(f"/logos/{name}").status_code == 404
    assert httpx.get(f"{logo_server.base_url}/logos/acme.com.svg").status_code == 404


def test_a_script_in_an_svg_logo_does_not_run(logo_server: ServerProcess, browser: Any) -> None:
    ours = _project_with(logo_server, [{"account_uid": "acme", "params": {"domain": "acme.com"}}])
    member = make_user(logo_server.database_url, ours)
    with signed_in(logo_server.base_url, member) as client:
        cookie = client.cookies["sm_session"]
    context = browser.new_context()
    try:
        context.add_cookies([{"name": "sm_session", "value": cookie, "url": logo_server.base_url}])
        page = context.new_page()
        answer = page.goto(f"{logo_server.base_url}/logos/acme.com.svg")
        assert answer is not None and answer.status == 200
        page.wait_for_timeout(300)
        assert page.title() != "script ran"
        assert page.evaluate("() => window.ran === true") is False
    finally:
        context.close()
