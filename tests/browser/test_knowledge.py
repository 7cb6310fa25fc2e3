"""Answers from company documents: inline citations that open the passage, the confidence badge,
and an honest "not found" (with the closest passages and a person asked) when the documents are
silent. Runs against the app whose knowledge base holds the handbook from `conftest.HANDBOOK`,
ingested by `confidante ingest --public` before that server started.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.app_server import AppServer
from tests.browser.chat_page import ChatPage
from tests.browser.conftest import HANDBOOK_TITLE, PHONE, OpenChat

Shot = Callable[[Page, str], Path]
CONFIDENCE_CHIP = re.compile(r"^(high|medium|low) confidence$")
NOT_FOUND = "I couldn't find this in the documents you can access."
HANDED_OVER = re.compile(r"I've passed your question to the support team \(ticket \w+\)")


def _confidence(chat: ChatPage, index: int) -> str:
    """The level on the footer chip; the answer body must state the same level with a reason."""
    chip = chat.footer(index).locator("code[data-cf-confidence]")
    expect(chip).to_have_count(1)
    expect(chip).to_have_text(CONFIDENCE_CHIP)
    level = str(chip.get_attribute("data-cf-confidence"))
    answer = chat.answer(index)
    expect(answer).to_contain_text(re.compile(rf"Confidence: {level}\s*—\s*\w+"))  # with a reason
    assert f"Confidence: {level}" in chat.bold_texts(answer), chat.bold_texts(answer)
    return level


def test_cited_answer_opens_the_source_passage_with_the_sentence_in_bold(
    scripted_knowledge_chat: OpenChat, screenshot: Shot
) -> None:
    # A scripted model writes the answer (conftest.scripted_answer): this tests the UI, not what
    # the 135M model happens to write.
    chat = scripted_knowledge_chat()
    chat.send("What time does the cafeteria open on weekdays?")
    answer = chat.wait_for_answer(1)

    expect(answer).to_contain_text(f"Sources: [1] {HANDBOOK_TITLE}")
    expect(chat.footer(0)).to_contain_text("Hosted model")  # the scripted one, not the 135M model
    chips = answer.locator(".element-link", has_text="[1]")
    expect(chips.first).to_be_visible()
    _confidence(chat, 0)
    screenshot(chat.page, "answer with citation chips and confidence")

    chips.first.click()

    title = chat.page.locator("#side-view-title")
    expect(title).to_be_visible()
    expect(title).to_contain_text("[1]")
    content = chat.page.locator("#side-view-content")
    expect(content).to_contain_text(HANDBOOK_TITLE)
    expect(content).to_contain_text("The cafeteria opens at 7:30 on weekdays")
    expect(content).not_to_contain_text("#")  # the section heading shows as text, not as markup
    # The sentence that supports the answer is bold; the rest of the passage is not.
    bold = chat.bold_texts(content)
    assert any("7:30" in text for text in bold), bold
    assert not any("Laptops" in text or "Vegetarian" in text for text in bold), bold
    screenshot(chat.page, "source passage in the side panel")


def test_question_the_documents_do_not_answer_says_so_and_asks_a_person(
    knowledge_chat: OpenChat, screenshot: Shot
) -> None:
    chat = knowledge_chat()
    chat.send("What is the parental leave policy?")
    answer = chat.wait_for_answer(1)

    expect(answer).to_contain_text(NOT_FOUND)
    expect(answer).to_contain_text("The closest passages I found:")
    expect(answer).to_contain_text(HANDBOOK_TITLE)
    assert _confidence(chat, 0) == "low"
    # Low confidence hands over to a person: either already asked (a ticket) or one click away.
    asked = answer.get_by_text(re.compile(r"A person from the support team has been asked .*\(ticket \w+\)"))
    button = chat.page.get_by_role("button", name="Ask a person")
    expect(asked.or_(button).first).to_be_visible()
    if button.count():
        button.first.click()
        expect(chat.page.get_by_text(HANDED_OVER)).to_be_visible()
    screenshot(chat.page, "not found with closest passages and hand-over")


def test_ask_a_person_under_a_good_answer_opens_a_ticket_with_the_question(
    scripted_knowledge_chat: OpenChat, scripted_knowledge_server: AppServer, screenshot: Shot
) -> None:
    chat = scripted_knowledge_chat()
    chat.send("What time does the cafeteria open on weekdays?")
    chat.wait_for_answer(1)
    button = chat.page.get_by_role("button", name="Ask a person")
    expect(button).to_have_count(1)  # offered under every answer, a high-confidence one too
    button.click()
    # The hand-over promises only what happens: nobody can post into the user's chat from the
    # console, so the message must not say a reply will appear here.
    expect(chat.page.get_by_text(HANDED_OVER)).to_contain_text("their reply does not appear in this chat")
    expect(button).to_have_count(0)
    screenshot(chat.page, "ticket opened from the answer")

    admin = scripted_knowledge_chat(as_="admin")
    admin.page.goto(scripted_knowledge_server.base_url + "/admin/dashboard")
    ticket = admin.page.locator(".esc", has_text="What time does the cafeteria open on weekdays?").last
    expect(ticket).to_be_visible()
    expect(ticket).to_contain_text("user request")
    link = ticket.get_by_role("link", name="read the conversation")
    expect(link).to_have_attribute("href", re.compile(r"^/admin/escalations/"))
    screenshot(admin.page, "ticket in the console")


def test_each_citation_opens_its_own_passage_and_only_when_clicked(
    scripted_knowledge_chat: OpenChat, screenshot: Shot
) -> None:
    chat = scripted_knowledge_chat()
    chat.send("What time does the cafeteria open on weekdays?")
    chat.wait_for_answer(1)
    chat.send("How often are laptops replaced?")
    second = chat.wait_for_answer(2)
    title = chat.page.locator("#side-view-title")
    content = chat.page.locator("#side-view-content")
    expect(title).to_have_count(0)  # nothing opens by itself

    second.locator(".element-link", has_text="[1]").first.click()
    expect(title).to_contain_text("[1]")
    expect(content).to_contain_text("Laptops are replaced every four years")
    expect(content).not_to_contain_text("cafeteria opens")  # not the earlier answer's [1]
    screenshot(chat.page, "second answer's passage")

    chat.answer(0).locator(".element-link", has_text="[1]").first.click()
    expect(content).to_contain_text("The cafeteria opens at 7:30")
    expect(content).not_to_contain_text("Laptops are replaced")


def test_the_passage_panel_never_opens_by_itself_on_a_phone(
    scripted_knowledge_chat: OpenChat, screenshot: Shot
) -> None:
    chat = scripted_knowledge_chat(viewport=PHONE)
    chat.send("What time does the cafeteria open on weekdays?")
    answer = chat.wait_for_answer(1)
    expect(chat.page.locator("#side-view-title")).to_have_count(0)
    expect(chat.composer).to_be_visible()
    screenshot(chat.page, "phone answer without panel")
    answer.locator(".element-link", has_text="[1]").first.click()
    expect(chat.page.get_by_text("The cafeteria opens at 7:30 on weekdays and closes")).to_be_visible()
    screenshot(chat.page, "phone passage after a click")
