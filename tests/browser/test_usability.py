"""Keyboard use, a phone-sized screen and accessibility (axe-core), in a real Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.axe import blocking, run_axe
from tests.browser.chat_page import ChatPage
from tests.browser.conftest import PHONE, OpenChat

Shot = Callable[[Page, str], Path]


def _focus_ring(page: Page, selector: str) -> str:
    return str(
        page.evaluate(
            """(sel) => { const s = getComputedStyle(document.querySelector(sel));
                          return s.outlineStyle !== 'none' && s.outlineWidth !== '0px'
                                 ? 'outline ' + s.outlineWidth : s.boxShadow; }""",
            selector,
        )
    )


def test_keyboard_only_type_enter_and_visible_focus(chat: ChatPage, screenshot: Shot) -> None:
    page = chat.page
    chat.composer.focus()
    expect(chat.composer).to_be_focused()
    assert _focus_ring(page, "#message-composer") != "none", "the composer shows no focus"

    page.keyboard.type("First line")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("Reply with one word: ok")
    expect(chat.composer).to_have_value("First line\nReply with one word: ok")
    screenshot(page, "composer focused")
    page.keyboard.press("Enter")

    chat.wait_for_answer(1)
    expect(chat.composer).to_have_value("")
    # Tab reaches the receipt toggle; it shows where the focus is, and Enter opens it.
    receipt = chat.receipts.first
    for _ in range(30):
        if receipt.evaluate("(el) => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(receipt).to_be_focused()
    assert _focus_ring(page, 'button[id="step-Privacy receipt"]') != "none"
    page.keyboard.press("Enter")
    expect(receipt).to_have_attribute("aria-expanded", "true")
    screenshot(page, "receipt opened from the keyboard")


def test_phone_layout_fits_and_keeps_the_composer_in_view(open_chat: OpenChat, screenshot: Shot) -> None:
    chat = open_chat(viewport=PHONE)
    expect(chat.composer).to_be_in_viewport()
    expect(chat.starters.first).to_be_in_viewport()
    assert chat.horizontal_overflow_px() <= 0
    screenshot(chat.page, "phone welcome")

    chat.send("Give me two tips for writing clear e-mails.")
    chat.wait_for_answer(1)
    chat.open_receipt(0)
    expect(chat.composer).to_be_in_viewport()
    assert chat.horizontal_overflow_px() <= 0
    for element in (chat.footer(0), chat.composer):
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box
    screenshot(chat.page, "phone answer with receipt")


def test_no_serious_accessibility_violations(open_chat: OpenChat, axe_js: str, screenshot: Shot) -> None:
    for theme in ("dark", "light"):
        chat = open_chat(theme=theme)
        expect(chat.starters.first).to_be_visible()
        problems = blocking(run_axe(chat.page, axe_js))
        assert not problems, f"welcome screen ({theme}):\n" + "\n".join(map(str, problems))

    chat.send("Say hello.")
    chat.wait_for_answer(1)
    chat.open_receipt(0)
    problems = blocking(run_axe(chat.page, axe_js))
    assert not problems, "chat with an open receipt (light):\n" + "\n".join(map(str, problems))
    screenshot(chat.page, "light theme answer checked by axe")
