"""What a person sees in the chat, in a real Chromium against the real app.

Every scenario asserts on visible text and leaves a screenshot under test-artifacts/screenshots.
The local model's name comes from the same settings the server reads, never from a literal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from assistant.settings import load_settings
from tests.browser.chat_page import ChatPage

Shot = Callable[[Page, str], Path]
LOCAL_MODEL = load_settings().models.local.name
FOOTER_LABEL = re.compile(rf"Private local model · {re.escape(LOCAL_MODEL)} · \d+\.\d s")
REGULATED_MESSAGE = "My SSN is 078-05-1120. What should I do if it leaked?"


def test_welcome_says_what_happens_to_my_data_and_offers_starters(chat: ChatPage, screenshot: Shot) -> None:
    expect(chat.welcome).to_contain_text("Private by default")
    expect(chat.welcome).to_contain_text("never leaves it")
    expect(chat.welcome).to_contain_text("privacy receipt")
    expect(chat.starters).to_have_count(4)
    expect(chat.starters.first).to_be_visible()
    expect(chat.starters.filter(has_text="What can you do?")).to_be_visible()
    expect(chat.composer).to_be_visible()
    screenshot(chat.page, "welcome with starters")


def test_answer_streams_in_and_names_the_model(chat: ChatPage, screenshot: Shot) -> None:
    # Long enough to reach the token cap: the leak guard holds back the last ~200 characters until the
    # end, so only an answer well beyond that visibly grows while it is written.
    chat.send("Write a long story about a baker and a lost cat, with many details.")
    chat.wait_for_streaming(0)
    growth = chat.sample_growth(0)

    assert growth.finished, f"the answer did not finish: {growth.lengths}"
    # Streaming: several visible increases, and early samples far shorter than the final text.
    assert growth.distinct_increases >= 3, growth.lengths
    assert growth.lengths[0] < growth.lengths[-1] / 2, growth.lengths
    expect(chat.footer(0)).to_contain_text(FOOTER_LABEL)
    screenshot(chat.page, "answer with model label")


def test_receipt_opens_with_one_click_and_agrees_with_the_footer(chat: ChatPage, screenshot: Shot) -> None:
    chat.send("What is a good way to start a team meeting?")
    chat.wait_for_answer(1)
    footer_tier = chat.footer(0).locator("code").first.inner_text().strip().lower()
    assert footer_tier in ("public", "internal", "regulated")

    receipt = chat.open_receipt(0)

    expect(receipt).to_contain_text(re.compile(rf"Tier:\s*{footer_tier}", re.IGNORECASE))
    expect(receipt).to_contain_text("Found:")
    expect(receipt).to_contain_text(f"Answered by: {LOCAL_MODEL} (on this machine")
    expect(receipt).to_contain_text(re.compile(r"Decided by rule:\s*\S+"))
    # The tier is a coloured chip (the stylesheet and script are loaded and applied).
    expect(receipt.locator(f'code[data-cf-tier="{footer_tier}"]')).to_be_visible()
    screenshot(chat.page, f"receipt for a {footer_tier} message")


def test_regulated_message_stays_local_and_the_receipt_says_so(chat: ChatPage, screenshot: Shot) -> None:
    chat.send(REGULATED_MESSAGE)
    chat.wait_for_answer(1)
    expect(chat.footer(0).locator('code[data-cf-tier="regulated"]')).to_have_text("regulated")
    expect(chat.footer(0)).to_contain_text(FOOTER_LABEL)

    receipt = chat.open_receipt(0)

    expect(receipt).to_contain_text(re.compile(r"Tier:\s*regulated", re.IGNORECASE))
    expect(receipt).to_contain_text(f"Answered by: {LOCAL_MODEL} (on this machine; nothing left it)")
    expect(receipt).to_contain_text("Pseudonymized before leaving: nothing")
    found = receipt.locator("li", has_text="Found:")
    if "fail-closed" in receipt.inner_text():
        expect(found).to_contain_text("nothing sensitive")  # the gate is down: no detection ran
    else:
        # The gate ran: it names the entity type (never the value).
        expect(found.locator("code")).to_contain_text([re.compile(r"SSN|ID|NUMBER", re.IGNORECASE)])
    expect(chat.page.locator(".ai-message")).not_to_contain_text(["078-05-1120"])
    screenshot(chat.page, "regulated exchange with receipt")


def test_stop_during_generation_really_stops(chat: ChatPage, screenshot: Shot) -> None:
    chat.send("Write a long story about a lighthouse keeper and a storm, with many details.")
    chat.wait_for_streaming(0)
    chat.stop()  # within ~100 ms of the first words; the answer needs seconds more

    expect(chat.answer(0)).to_contain_text("Stopped. The answer above is incomplete.", timeout=30_000)
    stopped_text = chat.answer_text(0)
    lengths = chat.lengths_for(0, seconds=2.0)
    assert set(lengths) == {len(stopped_text)}, f"the text kept changing after Stop: {lengths}"
    expect(chat.receipts).to_have_count(0)
    screenshot(chat.page, "stopped answer")

    # The model is free again: the next message gets a full answer.
    chat.send("Say hello.")
    chat.wait_for_answer(1)
    expect(chat.answer(1)).not_to_contain_text("Stopped")
    expect(chat.footer(1)).to_contain_text(FOOTER_LABEL)
