"""What a person does in the Confidante chat, as methods: a page object over Chainlit's markup.

Scenarios read like a script (`chat.send(...)`, `chat.wait_for_answer()`, `chat.open_receipt()`)
and the knowledge of Chainlit's DOM lives here only. Locators use what Chainlit keeps stable:
element ids (`#chat-input`, `#stop-button`), `data-step-type`, and the avatar's alt text, which
names the message author ("Confidante" answers, "Notice" notices). It only reads the page; it
never talks to the server behind the browser's back.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

ANSWER_TIMEOUT_MS = 120_000  # one answer on a busy 2-core machine, with margin
RECEIPT_BUTTON = 'button[id="step-Privacy receipt"]'
ANSWER = '[data-step-type="assistant_message"]:has(img[alt="Avatar for Confidante"])'
NOTICE = '[data-step-type="assistant_message"]:has(img[alt="Avatar for Notice"])'
# Chainlit itself posts this (as the app's name) when Stop is pressed; it is not an answer.
CHAINLIT_STOP_MESSAGE = "Task manually stopped."
FOOTER = '[data-orientation="horizontal"][role="none"] + [role="article"]'

# Waits for the app to be ready (page, sign-in, websocket session): behaviour, not speed. A loaded
# fresh-clone run (load average 19 on 2 cores) once needed more than 60 s to connect a session.
READY_MS = 180_000


@dataclass(frozen=True)
class Growth:
    """Answer lengths sampled while it streamed, and whether the turn finished meanwhile."""

    lengths: tuple[int, ...]
    finished: bool

    @property
    def distinct_increases(self) -> int:
        return sum(1 for before, after in zip(self.lengths, self.lengths[1:], strict=False) if after > before)


class ChatPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # ---- getting in ---------------------------------------------------------------------------

    def open(self) -> None:
        self.page.goto(self.base_url + "/")
        self.page.locator("#chat-input, #email").first.wait_for(state="visible", timeout=READY_MS)

    def on_login_page(self) -> bool:
        return self.page.locator("#email").is_visible()

    def submit_login(self, username: str, password: str) -> None:
        """Chainlit's password form: identifier in #email, then #password, then Enter."""
        self.page.locator("#email").fill(username)
        self.page.locator("#password").fill(password)
        self.page.locator("#password").press("Enter")

    def sign_in(self, username: str, password: str) -> None:
        self.submit_login(username, password)
        self.composer.wait_for(state="visible", timeout=READY_MS)

    def wait_until_connected(self, timeout_ms: int = READY_MS) -> None:
        """Wait for the live chat session: the settings button appears only once the app's
        on_chat_start has sent the chat settings over the websocket. Before that, Enter is ignored
        and an attached file is refused (its session does not exist yet)."""
        self.page.locator("#chat-settings-open-modal").wait_for(state="visible", timeout=timeout_ms)

    # ---- the composer -------------------------------------------------------------------------

    @property
    def composer(self) -> Locator:
        return self.page.locator("#chat-input")

    @property
    def stop_button(self) -> Locator:
        return self.page.locator("#stop-button")

    @property
    def starters(self) -> Locator:
        return self.page.locator("#starters button")

    @property
    def welcome(self) -> Locator:
        return self.page.locator("#welcome-screen")

    def send(self, text: str) -> None:
        """Type and press Enter, as a person does; the answer count to wait for goes up by one.

        Chainlit's Enter handler reads the composer's text and the session's busy state as last
        rendered, and does nothing while either is stale. A person sees the Send arrow light up
        before pressing Enter; so do we: under load the render lags the keystrokes, and an Enter
        pressed in that gap was dropped (the message stayed in the box, seen in a loaded CI run)."""
        self.composer.click()
        self.composer.fill(text)
        expect(self.page.locator("#chat-submit")).to_be_enabled(timeout=READY_MS)
        self.composer.press("Enter")

    def attach(self, *paths: Path) -> None:
        """Upload files through the composer's paper clip (Chainlit's hidden file input)."""
        self.page.locator("#upload-button-input").set_input_files([str(p) for p in paths])

    def send_files(self, *paths: Path, text: str = "") -> None:
        """Attach files, wait until the browser has uploaded them (Send is enabled), then send."""
        self.attach(*paths)
        if text:
            self.composer.fill(text)
        submit = self.page.locator("#chat-submit")
        expect(submit).to_be_enabled(timeout=60_000)
        submit.click()

    def message_with(self, text: str | re.Pattern[str]) -> Locator:
        """Any message from the app (answers, upload replies, progress) that contains `text`."""
        return self.page.locator('[data-step-type="assistant_message"]').filter(has_text=text)

    # ---- answers ------------------------------------------------------------------------------

    @property
    def answers(self) -> Locator:
        return self.page.locator(ANSWER).filter(has_not_text=CHAINLIT_STOP_MESSAGE)

    @property
    def notices(self) -> Locator:
        return self.page.locator(NOTICE)

    @property
    def receipts(self) -> Locator:
        return self.page.locator(RECEIPT_BUTTON)

    def answer(self, index: int = -1) -> Locator:
        return self.answers.nth(index) if index >= 0 else self.answers.last

    def answer_text(self, index: int = -1) -> str:
        return self.answer(index).locator(".message-content").first.inner_text()

    def footer(self, index: int = -1) -> Locator:
        return self.answer(index).locator(".message-content " + FOOTER).last

    def wait_for_answer(self, count: int = 1, timeout_ms: int = ANSWER_TIMEOUT_MS) -> Locator:
        """Wait until `count` turns have finished (each finished turn has a privacy receipt)."""
        expect(self.receipts).to_have_count(count, timeout=timeout_ms)
        expect(self.footer(count - 1)).to_be_visible()
        return self.answer(count - 1)

    def wait_for_streaming(self, index: int, timeout_ms: int = ANSWER_TIMEOUT_MS) -> None:
        """Wait until answer `index` (0-based) shows its first text; polls every 50 ms so that a
        scenario can act (press Stop) while the answer is still being written."""
        self.page.wait_for_function(
            """([selector, skip, index]) => {
                const answers = [...document.querySelectorAll(selector)]
                    .filter((el) => !el.textContent.includes(skip));
                const content = answers[index] && answers[index].querySelector('.message-content');
                return !!content && content.innerText.trim().length > 0;
            }""",
            arg=[ANSWER, CHAINLIT_STOP_MESSAGE, index],
            polling=50,
            timeout=timeout_ms,
        )

    def sample_growth(self, index: int, *, every_s: float = 0.15, max_s: float = 90.0) -> Growth:
        """Sample answer `index`'s text length until its receipt appears (the turn finished)."""
        lengths: list[int] = []
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            finished = self.receipts.count() > index
            lengths.append(len(self.answer_text(index)))
            if finished:
                return Growth(tuple(lengths), True)
            time.sleep(every_s)
        return Growth(tuple(lengths), False)

    def lengths_for(self, index: int, seconds: float, every_s: float = 0.25) -> list[int]:
        lengths = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            lengths.append(len(self.answer_text(index)))
            time.sleep(every_s)
        return lengths

    def give_feedback(self, index: int, *, helpful: bool, comment: str = "") -> None:
        """Thumbs up/down under answer `index`, then Chainlit's comment dialog, then submit."""
        icon = "lucide-thumbs-up" if helpful else "lucide-thumbs-down"
        self.answer(index).locator(f"button:has(> svg.{icon})").click()
        dialog = self.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        if comment:
            dialog.locator("textarea").fill(comment)
        self.page.locator("#submit-feedback").click()

    def stop(self) -> None:
        self.stop_button.click()

    # ---- the privacy receipt ------------------------------------------------------------------

    def open_receipt(self, index: int = -1) -> Locator:
        """One click on the receipt under answer `index`; returns its opened content region."""
        button = self.receipts.nth(index) if index >= 0 else self.receipts.last
        button.click()
        expect(button).to_have_attribute("aria-expanded", "true")
        region = self.page.locator(f'[role="region"][id="{button.get_attribute("aria-controls")}"]')
        expect(region).to_be_visible()
        region.scroll_into_view_if_needed()  # so a screenshot shows the whole receipt
        return region

    # ---- formatting -------------------------------------------------------------------------

    @staticmethod
    def bold_texts(scope: Locator) -> list[str]:
        """Texts rendered bold (font weight 600+) inside `scope`, however the markdown renderer
        marks them up."""
        return list(
            scope.evaluate(
                """(root) => [...root.querySelectorAll('*')]
                    .filter((el) => parseInt(getComputedStyle(el).fontWeight, 10) >= 600
                        && [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim()))
                    .map((el) => el.textContent.trim())"""
            )
        )

    # ---- layout -------------------------------------------------------------------------------

    def horizontal_overflow_px(self) -> int:
        """How far the page scrolls sideways (0 when the layout fits the viewport)."""
        return int(self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
