"""A finished upload summary in the browser: `[p. n]` open that page's text in the side panel, and
the summary carries its privacy receipt and takes feedback like any answer.

UI logic, so the hosted model is scripted (conftest `scripted_answer`): it never writes valid map
JSON, so the summary's points are sentences quoted from the pages, each citing its own page, the
same on every run. The orchard pages hold nothing personal, so no step needs the local model.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.app_server import AppServer
from tests.browser.chat_page import RECEIPT_BUTTON, ChatPage
from tests.browser.conftest import OpenChat
from tests.browser.test_uploads import PAGES, write_pdf

Shot = Callable[[Page, str], Path]
SUMMARY_TIMEOUT_MS = 120_000
# A phrase only page n holds, for checking the panel shows that page and no other.
PAGE_PHRASES = {1: "120 apple trees", 2: "18,000 euros", 3: "beehives in May"}


@pytest.fixture
def summarized(scripted_knowledge_chat: OpenChat, tmp_path: Path) -> tuple[ChatPage, Locator]:
    chat = scripted_knowledge_chat()
    chat.send_files(write_pdf(tmp_path / "orchard-notes.pdf", PAGES))
    summary = chat.message_with(re.compile(r"Summary of orchard-notes\.pdf · 3 pages"))
    expect(summary).to_be_visible(timeout=SUMMARY_TIMEOUT_MS)
    expect(chat.message_with("orchard-notes.pdf: finished.")).to_be_visible(timeout=SUMMARY_TIMEOUT_MS)
    return chat, summary


def test_page_citations_open_that_page_in_the_side_panel(
    summarized: tuple[ChatPage, Locator], screenshot: Shot
) -> None:
    chat, summary = summarized
    # Chainlit shows element links in capitals ("[P. 2]"): read the rendered text case-blind.
    cited = sorted(int(n) for n in set(re.findall(r"\[p\. (\d)\]", summary.inner_text(), re.IGNORECASE)))
    assert cited, summary.inner_text()
    title = chat.page.locator("#side-view-title")
    content = chat.page.locator("#side-view-content")
    expect(title).to_have_count(0)  # nothing opens by itself
    for number in cited:
        summary.locator(".element-link", has_text=f"[p. {number}]").first.click()
        expect(title).to_contain_text(f"[p. {number}]", ignore_case=True)
        expect(content).to_contain_text(PAGE_PHRASES[number])
        for other, phrase in PAGE_PHRASES.items():
            if other != number:
                expect(content).not_to_contain_text(phrase)
    screenshot(chat.page, "summary page opened in the side panel")


def test_summary_has_its_receipt_and_takes_feedback(
    summarized: tuple[ChatPage, Locator], scripted_knowledge_server: AppServer, screenshot: Shot
) -> None:
    chat, summary = summarized
    # The receipt is the summary's own step, shown right under it; this chat has no other turn,
    # so the one receipt on the page is the summary's.
    expect(chat.page.locator(RECEIPT_BUTTON)).to_have_count(1)
    # The summary's run shows like a chat answer's: no "Used <run name>" line above it.
    expect(chat.page.get_by_text(re.compile(r"Used (upload_summary|on_message)"))).to_have_count(0)
    receipt = chat.open_receipt(-1)
    expect(receipt).to_contain_text(re.compile(r"Tier:\s*(public|internal)"))
    expect(receipt).to_contain_text("Document: orchard-notes.pdf")
    expect(receipt).to_contain_text("Written by:")
    expect(receipt).to_contain_text(re.compile(r"Model calls:\s*\d+"))
    screenshot(chat.page, "summary receipt")

    summary.locator("button:has(> svg.lucide-thumbs-down)").click()
    dialog = chat.page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea").fill("Missed the harvest date.")
    chat.page.locator("#submit-feedback").click()
    expect(chat.page.get_by_text("Feedback updated")).to_be_visible()
    screenshot(chat.page, "summary feedback given")
    # Stored against the summary's own step, not the upload reply or the progress line.
    assert _feedback_on(scripted_knowledge_server.data_dir, "Missed the harvest date.") == (
        0,
        "Summary of orchard-notes.pdf",
    )


def _feedback_on(data_dir: Path, comment: str) -> tuple[int, str] | None:
    """The stored feedback's value and the summary title of the step it is on (Chainlit attaches
    a message's feedback to the run holding it, so the step or one of its children)."""
    with sqlite3.connect(f"file:{data_dir / 'confidante.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT f.value, s.body || coalesce(group_concat(c.body, ' '), '') FROM chat_feedback f"
            " JOIN chat_steps s ON s.id = f.step_id LEFT JOIN chat_steps c ON c.parent_id = s.id"
            " WHERE f.comment = ? GROUP BY f.id",
            (comment,),
        ).fetchone()
    if row is None:
        return None
    # The stored markdown escapes the name ("orchard\\-notes\\.pdf"); compare it unescaped.
    match = re.search(r"Summary of [\w.-]+\.pdf", str(row[1]).replace("\\", ""))
    return int(row[0]), match.group(0) if match else str(row[1])[:200]
