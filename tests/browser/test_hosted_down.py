"""When the hosted model cannot be reached: the answer still comes (from the private local model)
with a visible notice, and regulated messages never needed the hosted model at all."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from assistant.settings import load_settings
from tests.browser.conftest import OpenChat

Shot = Callable[[Page, str], Path]
SETTINGS = load_settings()
LOCAL_MODEL = SETTINGS.models.local.name
# Behaviour, not speed: the notice must come, however loaded the machine (a loaded fresh-clone run
# missed a 'retry budget + 7 s' bound). How fast it comes is measured by bench/bench_faults.py.
NOTICE_WITHIN_S = 120.0
FALLBACK_NOTICE = re.compile(r"unavailable.*answered by the private local model", re.IGNORECASE)


def test_public_question_falls_back_to_the_local_model_with_a_notice(
    hosted_down_chat: OpenChat, screenshot: Shot
) -> None:
    chat = hosted_down_chat()
    chat.send("What is a good name for a team newsletter?")
    expect(chat.notices.filter(has_text=FALLBACK_NOTICE)).to_be_visible(timeout=int(NOTICE_WITHIN_S * 1000))
    chat.wait_for_answer(1)
    expect(chat.footer(0)).to_contain_text(f"Private local model · {LOCAL_MODEL}")
    receipt = chat.open_receipt(0)
    expect(receipt).to_contain_text(f"Answered by: {LOCAL_MODEL} (on this machine")
    screenshot(chat.page, "hosted model down notice")


def test_regulated_question_stays_local_when_the_hosted_model_is_down(
    hosted_down_chat: OpenChat, screenshot: Shot
) -> None:
    chat = hosted_down_chat()
    chat.send("My SSN is 078-05-1120. Who should I tell that it was exposed?")
    chat.wait_for_answer(1)
    expect(chat.footer(0).locator('code[data-cf-tier="regulated"]')).to_have_text("regulated")
    expect(chat.footer(0)).to_contain_text(f"Private local model · {LOCAL_MODEL}")
    receipt = chat.open_receipt(0)
    expect(receipt).to_contain_text(re.compile(r"Tier:\s*regulated", re.IGNORECASE))
    expect(receipt).to_contain_text(f"Answered by: {LOCAL_MODEL} (on this machine; nothing left it)")
    # The hosted model was never tried for it, so there is no fallback notice.
    expect(chat.notices.filter(has_text=FALLBACK_NOTICE)).to_have_count(0)
    screenshot(chat.page, "regulated answer with hosted model down")
