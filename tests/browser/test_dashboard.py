"""The admin dashboard: charts for an admin, 403 for everyone else (in the browser and over HTTP
with the user's own session cookie)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.app_server import AppServer
from tests.browser.conftest import OpenChat

Shot = Callable[[Page, str], Path]
DASHBOARD = "/admin/dashboard"


def _cookies(context: BrowserContext) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies() if c.get("name", "").startswith("access_token")}


def test_admin_sees_charts_and_a_user_is_refused(
    open_chat: OpenChat, app_server: AppServer, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin")
    admin.send("Give me one tip for a tidy desk.")
    admin.wait_for_answer(1)

    response = admin.page.goto(app_server.base_url + DASHBOARD)
    assert response is not None and response.status == 200
    expect(admin.page.locator("h1")).to_contain_text("how the assistant is doing")
    charts = admin.page.locator("figure.chart svg")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 6, charts.count()
    expect(admin.page.locator("figure.chart figcaption", has_text="Routing split by tier")).to_be_visible()
    expect(admin.page.locator("header")).to_contain_text("turns")
    assert "0 turns" not in admin.page.locator("header").inner_text()
    screenshot(admin.page, "admin dashboard")

    user = open_chat(as_="user")
    refused = user.page.goto(app_server.base_url + DASHBOARD)
    assert refused is not None and refused.status == 403
    expect(user.page.locator("body")).to_contain_text("Administrators only.")
    expect(user.page.locator("svg")).to_have_count(0)
    screenshot(user.page, "dashboard refused for a user")

    # The same over plain HTTP, carrying each account's own session cookie.
    with httpx.Client(base_url=app_server.base_url, timeout=30.0) as client:
        as_user = client.get(DASHBOARD, cookies=_cookies(user.page.context))
        as_admin = client.get(DASHBOARD, cookies=_cookies(admin.page.context))
        anonymous = client.get(DASHBOARD)
    assert as_user.status_code == 403 and "<svg" not in as_user.text
    assert as_admin.status_code == 200 and as_admin.text.count("<svg") >= 6
    assert anonymous.status_code == 401


def test_resolve_works_from_the_console_in_chromium(
    open_chat: OpenChat, app_server: AppServer, screenshot: Shot
) -> None:
    # Chromium sends `Origin: null` on this form POST (the app's Referrer-Policy is no-referrer):
    # the session's CSRF token in the form is what lets it through.
    from assistant.governance.component import build_governance
    from assistant.governance.settings import GovernanceSettings

    admin = open_chat(as_="admin")  # the suite's accounts exist from here on
    governance = build_governance(GovernanceSettings(), app_server.data_dir)
    try:
        item = governance.escalations.open(None, "avery", "user_request", "Browser CSRF check ticket")
    finally:
        governance.close()
    admin.page.goto(app_server.base_url + DASHBOARD)
    ticket = admin.page.locator(".esc", has_text="Browser CSRF check ticket")
    expect(ticket).to_be_visible()
    ticket.get_by_label("Note").fill("called back")
    screenshot(admin.page, "escalation before resolve")
    ticket.get_by_role("button", name="Resolve").click()
    admin.page.wait_for_url(app_server.base_url + DASHBOARD)
    expect(admin.page.locator("h1")).to_contain_text("how the assistant is doing")
    expect(admin.page.locator(".esc", has_text="Browser CSRF check ticket")).to_have_count(0)
    screenshot(admin.page, "escalation resolved")

    governance = build_governance(GovernanceSettings(), app_server.data_dir)
    try:
        resolved = governance.escalations.get(item.id)
    finally:
        governance.close()
    assert resolved.status == "resolved" and resolved.resolution_note == "called back"
