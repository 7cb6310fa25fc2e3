"""What a newcomer's first hour turned up in Chromium, kept fixed: an administrator's chat fits a
phone (the header's console link made the page scroll sideways by 18 px) and the link stays
usable there, by its icon and its accessible name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, OpenChat

Shot = Callable[[Page, str], Path]


def test_an_admins_chat_fits_a_phone_with_its_console_link(open_chat: OpenChat, screenshot: Shot) -> None:
    admin = open_chat(as_="admin", viewport=PHONE)
    link = admin.page.get_by_role("link", name="Admin console")
    expect(link).to_be_visible()  # shown only once the app knows the account is an admin
    assert admin.horizontal_overflow_px() <= 0
    screenshot(admin.page, "admin chat header on a phone")
    link.click()
    admin.page.wait_for_url("**/admin/dashboard")
