"""Signing in with a password (accounts made by the admin CLI) and rating an answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.app_server import AppServer
from tests.browser.axe import blocking, run_axe
from tests.browser.chat_page import ChatPage
from tests.browser.conftest import DESKTOP, USER

Shot = Callable[[Page, str], Path]


def test_sign_in_refuses_a_wrong_password_then_lets_the_user_in(
    browser: Browser, app_server: AppServer, accounts: object, axe_js: str, screenshot: Shot
) -> None:
    assert app_server.requires_sign_in, "the app must ask for sign-in"
    context = browser.new_context(viewport=DESKTOP)
    try:
        chat = ChatPage(context.new_page(), app_server.base_url)
        chat.open()
        assert chat.on_login_page()
        problems = blocking(run_axe(chat.page, axe_js))
        assert not problems, "login page:\n" + "\n".join(map(str, problems))
        screenshot(chat.page, "login page")

        chat.submit_login(USER.username, USER.password + "-wrong")
        expect(chat.page.locator("form")).to_contain_text("Wrong user name or password.")
        expect(chat.page.get_by_text("credentialssignin")).to_be_hidden()
        expect(chat.composer).to_have_count(0)
        screenshot(chat.page, "wrong password")

        chat.sign_in(USER.username, USER.password)
        expect(chat.composer).to_be_visible()
        expect(chat.page.locator("#user-nav-button")).to_be_visible()
        screenshot(chat.page, "signed in")
    finally:
        context.close()


def test_thumbs_feedback_is_saved_and_shown(chat: ChatPage, screenshot: Shot) -> None:
    chat.send("Suggest a title for a short team update.")
    chat.wait_for_answer(1)

    chat.give_feedback(0, helpful=True, comment="Short and clear.")

    expect(chat.page.get_by_text("Feedback updated")).to_be_visible()
    # The chosen thumb stays highlighted and a comment button appears next to it.
    expect(chat.answer(0).locator("button:has(> svg[class*='lucide-message'])")).to_be_visible()
    screenshot(chat.page, "feedback given")
