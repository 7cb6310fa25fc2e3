"""Citations, confidence and hand-over actions under an answer.

Each cited source becomes a Chainlit side element named `[n]`: Chainlit turns every `[n]` in the
answer into a link that opens the passage (title, page or section, the supporting sentence in
bold). Passages are untrusted document text, so their markdown is escaped: a document can never
inject an image, a link or formatting into the UI.
"""

from __future__ import annotations

import re

import chainlit as cl

from assistant.turns import SourceRef, TurnResult
from assistant.uploads.rendering import md_escape  # the one markdown escaper
from models.base import ChatMessage

ASK_A_PERSON = "ask_a_person"
# A passage keeps its section heading line ("## Cafeteria"); escaped, it would show the hashes.
_HEADING_MARK = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+")


def passage_markdown(ref: SourceRef) -> str:
    passage = _HEADING_MARK.sub("", ref.passage or ref.snippet)
    if ref.highlight and ref.highlight in passage:
        before, _, after = passage.partition(ref.highlight)
        body = f"{md_escape(before)}**{md_escape(ref.highlight)}**{md_escape(after)}"
    else:
        body = md_escape(passage)
    header = f"**{md_escape(ref.title)}** · {md_escape(ref.location)} · tier {ref.tier.value}"
    return f"{header}\n\n{body}"


def source_elements(result: TurnResult) -> list[cl.Text]:
    return [
        cl.Text(name=f"[{ref.number}]", content=passage_markdown(ref), display="side")
        for ref in result.sources
    ]


def sources_line(result: TurnResult) -> str:
    """A line naming every source, so each `[n]` link exists even if the model cited none."""
    if not result.sources:
        return ""
    return "Sources: " + " ".join(f"[{ref.number}] {md_escape(ref.title)}" for ref in result.sources)


def confidence_line(result: TurnResult) -> str:
    confidence = result.confidence
    if confidence is None:
        return ""
    return f"**Confidence: {confidence.level}** — {md_escape(confidence.reason)}"


def handover_actions(result: TurnResult, turn: int) -> list[cl.Action]:
    """ "Ask a person" under every answer, unless this turn already opened a ticket.

    The payload names the turn (the n-th question of the chat), never its text: the ticket's text
    is taken from the server's own history, so a client cannot put words in it."""
    if result.escalation_id:
        return []
    weak = result.confidence is not None and result.confidence.level == "low"
    reason = "low_confidence" if weak else "user_request"
    return [
        cl.Action(
            name=ASK_A_PERSON,
            payload={"reason": reason, "turn": turn},
            label="Ask a person",
            tooltip="Open a ticket: a person from the support team looks at this answer",
        )
    ]


def turn_number(history: list[ChatMessage]) -> int:
    """How many questions the chat holds (the latest one's number, counting from 1)."""
    return sum(1 for message in history if message.role == "user")


def question_of_turn(history: list[ChatMessage], turn: object) -> str:
    """The n-th question, or the latest one when the number is unusable."""
    questions = [message.content for message in history if message.role == "user"]
    if isinstance(turn, int) and 1 <= turn <= len(questions):
        return questions[turn - 1]
    return questions[-1] if questions else ""


def escalation_line(result: TurnResult) -> str:
    if not result.escalation_id:
        return ""
    ticket = result.escalation_id[:8]
    return f"A person from the support team has been asked to look at this (ticket {ticket})."
