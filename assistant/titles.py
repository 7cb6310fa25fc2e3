"""Thread titles that pass the sensitivity gate: the sidebar shows them on every page.

A regulated first message never becomes a title: it gets a neutral one ("Private chat, 29 Nov").
An internal one gets a neutral title too ("Work chat, 29 Nov") unless the caller can pseudonymize
it, then the pseudonymized first line; only a public message is shown as typed (first line,
shortened at a word). Pure functions: the data layer calls `thread_title` with the gate's tier.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from assistant.privacy import Privacy
from routing.tiers import Tier

TITLE_CHARS = 60


def thread_title(
    first_message: str,
    tier: Tier,
    *,
    today: date,
    pseudonymize: Callable[[str], str] | None = None,
) -> str:
    """The title for a thread whose first message is `first_message`, classified `tier`."""
    day = f"{today.day} {today.strftime('%b')}"
    if tier == Tier.REGULATED:
        return f"Private chat, {day}"
    if tier == Tier.INTERNAL:
        if pseudonymize is None:
            return f"Work chat, {day}"
        try:
            masked = pseudonymize(first_message)
        except Exception:  # could not prove it safe: fail closed to the neutral title
            return f"Work chat, {day}"
        return shorten(masked) or f"Work chat, {day}"
    return shorten(first_message) or f"Chat, {day}"


def shorten(text: str, limit: int = TITLE_CHARS) -> str:
    """The first non-empty line, cut at a word boundary."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"


def gated_titles(privacy: Privacy, today: Callable[[], date] = date.today) -> Callable[[str], str]:
    """`first message → title` for the data layer, classified by the same gate as the chat.

    A gate that fails (or fails closed) yields the private title: never the message itself.
    """

    def title_for(first_message: str) -> str:
        try:
            tier = privacy.assess(first_message, source="message").tier
        except Exception:
            tier = Tier.REGULATED
        return thread_title(first_message, tier, today=today())

    return title_for


def neutral_title(first_message: str) -> str:
    """The title when no gate is wired in: say nothing about the message."""
    return thread_title(first_message, Tier.REGULATED, today=date.today()).replace("Private chat", "Chat")
