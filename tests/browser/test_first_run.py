"""First run in a real browser: a fresh app with no account prints a one-time setup link; the
link creates the admin, the login form asks for a user name, a wrong password reads as a
sentence, the admin signs in, and the link is dead afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.app_server import AppServer
from tests.browser.chat_page import ChatPage
from tests.browser.conftest import DESKTOP, SERVER_ENV, running

Shot = Callable[[Page, str], Path]
LINK = re.compile(r"http://127\.0\.0\.1:\d+/setup\?token=[A-Za-z0-9_-]+")


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("first-run-app")
    with running(AppServer(root / "data", root / "serve.log", env=SERVER_ENV)) as server:
        yield server


def test_the_setup_link_creates_the_admin_once_and_leads_to_a_signed_in_chat(
    browser: Browser, fresh_server: AppServer, screenshot: Shot
) -> None:
    found = LINK.search(fresh_server.log_path.read_text(errors="replace"))
    assert found, "confidante serve printed no setup link:\n" + fresh_server.log_tail()
    link = found.group(0)
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(link)
        expect(page.locator("h1")).to_have_text("Set up Confidante")
        page.get_by_label("User name").fill("ada")
        page.get_by_label("Password (at least").fill("first-admin-pass")
        page.get_by_label("Password again").fill("first-admin-pass")
        screenshot(page, "setup form")
        page.get_by_role("button", name="Create administrator").click()

        chat = ChatPage(page, fresh_server.base_url)
        page.locator("#email").wait_for(state="visible", timeout=60_000)
        expect(page.get_by_text("User name", exact=True)).to_be_visible()
        expect(page.locator("form")).not_to_contain_text("Email")
        chat.submit_login("ada", "not-the-password")
        expect(page.locator("form")).to_contain_text("Wrong user name or password.")
        expect(page.get_by_text("credentialssignin")).to_be_hidden()
        screenshot(page, "wrong password")
        chat.sign_in("ada", "first-admin-pass")
        expect(page.locator("#user-nav-button")).to_be_visible()
        screenshot(page, "signed in admin")

        dead = context.new_page()
        response = dead.goto(link)
        assert response is not None and response.status == 404
        expect(dead.locator("h1")).to_have_text("This setup link is no longer valid")
    finally:
        context.close()
