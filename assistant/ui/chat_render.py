"""Turning pipeline events into what a person sees in Chainlit.

Streams answer text into one message, then adds a footer (tier chip, which model answered, how
long it took) and the privacy receipt (a collapsed step under the answer: tier, entity *types*,
what was pseudonymized, which model answered and the rule that decided). Notices (fallbacks,
"hosted model not configured") are separate messages by the author "Notice".

It never shows a PII value and never a traceback: failures become one readable sentence, details
go to the log. Everything is Chainlit markdown (HTML in messages is off); `public/confidante.css`
and `public/confidante.js` style it: an inline-code span whose text is a tier name becomes a
coloured tier chip, the paragraph after a rule is the footer.
"""

from __future__ import annotations

import asyncio
import logging

import chainlit as cl

from assistant.turns import AnswerDelta, Conversation, Notice, Receipt, TurnResult
from assistant.ui.queue_status import run_showing_place
from assistant.ui.sources import (
    confidence_line,
    escalation_line,
    handover_actions,
    source_elements,
    sources_line,
    turn_number,
)
from assistant.ui.webapp import WELCOME

log = logging.getLogger(__name__)

ANSWER_AUTHOR = "Confidante"
NOTICE_AUTHOR = "Notice"
RECEIPT_STEP = "Privacy receipt"
ROUTE_LABEL = {"local": "private local model", "hosted": "hosted model", "none": "no model"}
WHERE = {"local": "on this machine; nothing left it", "hosted": "by a hosted model"}
FAILED = "Something went wrong on our side while answering. Please try again; if it keeps happening, tell IT."
STOPPED = "Stopped. The answer above is incomplete."


def chat_profiles() -> list[cl.ChatProfile]:
    """One profile, so Chainlit shows its description (the welcome: what happens to the user's
    data) on the welcome screen above the starters; with one profile no picker is shown."""
    return [
        cl.ChatProfile(
            name=ANSWER_AUTHOR,
            markdown_description=WELCOME,
            icon="/public/favicon.svg",
            default=True,
        )
    ]


def chip(text: str) -> str:
    """Inline code: the stylesheet renders it as a chip (and a tier name as a tier chip)."""
    return f"`{text.replace('`', '')}`"


def model_label(result: TurnResult) -> str:
    if not result.model:
        return "No model answered"
    seconds = result.latency_ms / 1000
    return f"{ROUTE_LABEL[result.route].capitalize()} · {result.model} · {seconds:.1f} s"


def footer_markdown(result: TurnResult) -> str:
    parts = [chip(result.receipt.tier.value), model_label(result)]
    if result.cached:
        parts.append("from cache")
    if result.confidence is not None:
        parts.append(chip(f"{result.confidence.level} confidence"))
    if result.finish_reason == "cut_off":
        parts.append("answer cut off at the length limit")
    elif result.finish_reason == "repetition":
        parts.append("answer cut: it started repeating")
    return " · ".join(parts)


def _counts(counts: dict[str, int], empty: str) -> str:
    if not counts:
        return empty
    return " ".join(chip(f"{kind} ×{n}" if n > 1 else kind) for kind, n in sorted(counts.items()))


def receipt_markdown(receipt: Receipt) -> str:
    """The receipt as a short list: one fact per line, entity types as chips, never values."""
    where = WHERE.get(receipt.model_kind, "no model answered")
    rule = chip(receipt.rule) + (f" · policy {receipt.policy_version}" if receipt.policy_version else "")
    lines = [
        f"- **Tier:** {chip(receipt.tier.value)}",
        f"- **Found:** {_counts(receipt.entity_counts, 'nothing sensitive')}",
        f"- **Pseudonymized before leaving:** {_counts(receipt.pseudonymized, 'nothing')}",
        f"- **Answered by:** {receipt.model or '—'} ({where})",
        f"- **Decided by rule:** {rule}",
    ]
    if receipt.tainted_by:
        lines.append("- **Kept at this tier because of:** " + ", ".join(receipt.tainted_by))
    if receipt.reasons:
        lines.append("- **Why:** " + "; ".join(receipt.reasons))
    return "\n".join(lines)


async def render_turn(conversation: Conversation, text: str, pipeline: object) -> TurnResult | None:
    """Run one turn of `pipeline` and render it; returns the result (None when stopped or failed)."""
    message = cl.Message(content="", author=ANSWER_AUTHOR)
    result: TurnResult | None = None
    try:
        async for event in run_showing_place(pipeline, conversation, text):
            if isinstance(event, AnswerDelta):
                await message.stream_token(event.text)
            elif isinstance(event, Notice):
                await cl.Message(content=f"> **Note:** {event.text}", author=NOTICE_AUTHOR).send()
            elif isinstance(event, TurnResult):
                result = event
    except asyncio.CancelledError:
        message.content = _with_footer(message.content, f"*{STOPPED}*")
        await asyncio.shield(message.send())
        raise
    except Exception:
        log.exception("turn failed")
        message.content = FAILED
        await message.send()
        return None
    if result is None:  # the pipeline always ends with a result; never leave the user hanging
        log.error("turn ended without a result")
        message.content = FAILED
        await message.send()
        return None
    await finish_message(message, result, turn_number(conversation.history))
    return result


# What separates an answer from the footer we add; a resumed chat strips it from its history.
FOOTER_SEPARATOR = "\n\n---\n"


def _with_footer(content: str | None, footer: str) -> str:
    body = (content or "").rstrip()
    return f"{body}{FOOTER_SEPARATOR}{footer}" if body else footer


async def finish_message(message: cl.Message, result: TurnResult, turn: int = 0) -> None:
    # With sources, show the checked answer (citations to missing sources removed).
    # The final answer: citations checked, the whole text sanitized once more (it can differ
    # from what streamed, e.g. a link assembled from pieces is neutralized only now).
    body = result.answer or message.content or "(no answer)"
    lines = (sources_line(result), confidence_line(result), escalation_line(result))
    extras = [line for line in lines if line]
    if extras:
        body = body + "\n\n" + "\n\n".join(extras)
    message.content = _with_footer(body, footer_markdown(result))
    message.elements = source_elements(result)  # type: ignore[assignment]
    message.actions = handover_actions(result, turn)
    message.metadata = {
        "tier": result.receipt.tier.value,
        "route": result.route,
        "model": result.model,
        "outcome": result.outcome,
    }
    await message.send()
    async with cl.Step(name=RECEIPT_STEP, type="tool", parent_id=message.id, show_input=False) as step:
        step.output = receipt_markdown(result.receipt)
