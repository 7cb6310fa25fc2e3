"""The experiments console in Chromium: an admin starts a two-variant experiment from the form,
sees its variants side by side (honestly empty), and stops it; the page passes axe. Chromium
sends `Origin: null` on these form POSTs: the session's CSRF token is what lets them through."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.app_server import AppServer
from tests.browser.axe import blocking, run_axe
from tests.browser.conftest import OpenChat

Shot = Callable[[Page, str], Path]
EXPERIMENTS = "/admin/experiments"


def test_admin_starts_compares_and_stops_an_experiment(
    open_chat: OpenChat, app_server: AppServer, axe_js: str, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin")
    page = admin.page
    page.goto(app_server.base_url + "/admin/dashboard")
    page.get_by_role("link", name="Experiments: compare variants").click()
    page.wait_for_url(app_server.base_url + EXPERIMENTS)
    page.get_by_label("Experiment name").fill("browser-ab")
    page.get_by_label("Capability").select_option("summaries")  # touches no chat turn of other tests
    page.get_by_label("Variants, one a line").fill("control:0.5\nfacts:0.5:map=map-v2-facts")
    screenshot(page, "experiment form")
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(app_server.base_url + EXPERIMENTS + "/browser-ab")
    table = page.get_by_role("table", name="Variants side by side")
    expect(table).to_contain_text("control (0 turns)")
    expect(table).to_contain_text("facts (0 turns)")
    expect(table.locator("td", has_text="not enough data yet (n=0)").first).to_be_visible()
    screenshot(page, "experiment comparison")
    assert not blocking(run_axe(page, axe_js))

    page.goto(app_server.base_url + EXPERIMENTS)
    row = page.locator("tr", has_text="browser-ab")
    expect(row).to_contain_text("running")
    row.get_by_role("button", name="Stop").click()
    page.wait_for_url(app_server.base_url + EXPERIMENTS)
    expect(page.locator("tr", has_text="browser-ab")).to_contain_text("stopped")
    assert not blocking(run_axe(page, axe_js))
    screenshot(page, "experiment stopped")
