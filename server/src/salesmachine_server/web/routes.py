"""The dashboard's addresses: mounted beside the API by app.routes()."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from salesmachine_server.web import (
    data_rights,
    deliveries,
    health_settings,
    home,
    lists,
    live,
    logos,
    missing_pages,
    playbooks,
    profiles,
    project_settings,
    pulse,
    revenue,
    signin,
    smtp_form,
    work_items,
)

STATIC = Path(__file__).parent / "static"


def dashboard_routes() -> list[BaseRoute]:
    project = "/p/{pid:int}"
    return [
        Route("/", signin.root, methods=["GET"]),
        Route("/signin", signin.signin_page, methods=["GET"]),
        Route("/signin", signin.signin_submit, methods=["POST"]),
        Route("/signout", signin.signout, methods=["POST"]),
        Route(f"{project}/", home.home, methods=["GET"]),
        Route(f"{project}/accounts", lists.accounts_list, methods=["GET"]),
        Route(f"{project}/accounts/{{uid:path}}", profiles.account_page, methods=["GET"]),
        Route(f"{project}/contacts", lists.contacts_list, methods=["GET"]),
        Route(f"{project}/contacts/{{uid:path}}", profiles.contact_page, methods=["GET"]),
        Route(f"{project}/pulse", pulse.pulse_submit, methods=["POST"]),
        Route(f"{project}/segments", lists.segment_save, methods=["POST"]),
        Route(f"{project}/segments/{{sid:int}}/delete", lists.segment_delete, methods=["POST"]),
        # Owners, notes, tasks and the inbox (web/work_items.py, docs/work.md).
        Route(f"{project}/tasks", work_items.inbox, methods=["GET"]),
        Route(f"{project}/tasks", work_items.task_submit, methods=["POST"]),
        Route(f"{project}/tasks/{{tid:int}}/status", work_items.task_status, methods=["POST"]),
        Route(f"{project}/notes", work_items.note_submit, methods=["POST"]),
        Route(f"{project}/notes/{{nid:int}}", work_items.note_edit, methods=["POST"]),
        Route(f"{project}/owner", work_items.owner_submit, methods=["POST"]),
        Route(f"{project}/owners", work_items.owners_submit, methods=["POST"]),
        Route(f"{project}/revenue", revenue.revenue_page, methods=["GET"]),
        Route(f"{project}/revenue/period", revenue.period_page, methods=["GET"]),
        Route(f"{project}/live", live.live_page, methods=["GET"]),
        Route(f"{project}/live/feed", live.live_feed, methods=["GET"]),
        Route(f"{project}/settings", project_settings.settings_page, methods=["GET"]),
        Route(f"{project}/settings", project_settings.save_settings, methods=["POST"]),
        Route(f"{project}/settings/secret", project_settings.reveal_secret, methods=["POST"]),
        Route(f"{project}/settings/display", project_settings.save_display, methods=["POST"]),
        Route(f"{project}/settings/health", health_settings.health_settings_page, methods=["GET"]),
        Route(f"{project}/settings/health", health_settings.health_settings_submit, methods=["POST"]),
        # Data rights (web/data_rights.py): the erase button's form, the audit log.
        Route(f"{project}/erase", data_rights.erase_submit, methods=["POST"]),
        Route(f"{project}/audit", data_rights.audit_page, methods=["GET"]),
        # Deliveries (web/deliveries.py): the log, Resend, a test; the SMTP server is a settings form.
        Route(f"{project}/deliveries", deliveries.deliveries_page_view, methods=["GET"]),
        Route(f"{project}/deliveries/test", deliveries.send_test, methods=["POST"]),
        Route(f"{project}/deliveries/{{did:int}}/resend", deliveries.resend_delivery, methods=["POST"]),
        Route(f"{project}/settings/smtp", smtp_form.save_smtp, methods=["POST"]),
        # Playbooks (web/playbooks.py): the list, the builder with its preview, pause and enable.
        Route(f"{project}/playbooks", playbooks.playbooks_page, methods=["GET"]),
        Route(f"{project}/playbooks/new", playbooks.builder_page, methods=["GET"]),
        Route(f"{project}/playbooks/new", playbooks.builder_submit, methods=["POST"]),
        Route(f"{project}/playbooks/{{bid:int}}", playbooks.builder_page, methods=["GET"]),
        Route(f"{project}/playbooks/{{bid:int}}", playbooks.builder_submit, methods=["POST"]),
        Route(f"{project}/playbooks/{{bid:int}}/toggle", playbooks.toggle_submit, methods=["POST"]),
        Route("/logos/{name}", logos.logo_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        # Any other address under /p/: the dashboard's own "not found" page, not the API's JSON.
        # Keep these last (the router takes the first match: a page added after them would be
        # unreachable), and GET only (a form posted to a known page with the wrong method
        # stays a 405).
        Route(f"{project}/{{rest:path}}", missing_pages.in_project, methods=["GET"]),
        Route("/p/{rest:path}", missing_pages.outside_projects, methods=["GET"]),
    ]
