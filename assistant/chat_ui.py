"""Turning pipeline events into what a person sees in Chainlit.

Streams answer text into one message, then adds the model label and timing, the privacy
receipt (a collapsed step under the answer: tier, entity *types*, what was pseudonymized, which
model answered and the rule that decided) and any notices. It never shows a PII value and never
a traceback: failures become one readable sentence, details go to the log.
"""

from __future__ import annotations

import asyncio
import logging

import chainlit as cl

from assistant.turns import AnswerDelta, Conversation, Notice, Receipt, TurnResult

log = logging.getLogger(__name__)

ROUTE_LABEL = {"local": "private local model", "hosted": "hosted model", "none": "no model"}
TIER_ICON = {"public": "🟢", "internal": "🟡", "regulated": "🔒"}


def model_label(result: TurnResult) -> str:
    if not result.model:
        return "No model answered"
    seconds = result.latency_ms / 1000
    return f"{ROUTE_LABEL[result.route].capitalize()} · {result.model} · {seconds:.1f} s"


def receipt_markdown(receipt: Receipt) -> str:
    found = ", ".join(f"{kind} ×{n}" for kind, n in sorted(receipt.entity_counts.items())) or "nothing sensitive"
    masked = ", ".join(f"{kind} ×{n}" for kind, n in sorted(receipt.pseudonymized.items())) or "nothing"
    where = {"local": "stayed on this machine", "hosted": "sent to a hosted model"}.get(
        receipt.model_kind, "no model answered"
    )
    lines = [
        f"**Tier:** {TIER_ICON.get(receipt.tier.value, '')} {receipt.tier.value}",
        f"**Found:** {found}",
        f"**Pseudonymized before leaving:** {masked}",
        f"**Answered by:** {receipt.model or '—'} ({where})",
        f"**Decided by rule:** `{receipt.rule}`" + (f" · policy {receipt.policy_version}" if receipt.policy_version else ""),
    ]
    if receipt.tainted_by:
        lines.append("**Tainted by:** " + ", ".join(receipt.tainted_by))
    lines += [f"- {reason}" for reason in receipt.reasons]
    return "\n\n".join(lines[:5]) + ("\n\n" + "\n".join(lines[5:]) if lines[5:] else "")


async def render_turn(conversation: Conversation, text: str, pipeline: object) -> TurnResult | None:
    """Run one turn of `pipeline` and render it; returns the result (None when stopped)."""
    message = cl.Message(content="", author="Confidante")
    result: TurnResult | None = None
    try:
        async for event in pipeline.run(conversation, text):  # type: ignore[attr-defined]
            if isinstance(event, AnswerDelta):
                await message.stream_token(event.text)
            elif isinstance(event, Notice):
                await cl.Message(content=f"ℹ️ {event.text}", author="Confidante").send()
            elif isinstance(event, TurnResult):
                result = event
    except asyncio.CancelledError:
        message.content = (message.content or "") + "\n\n*(stopped)*"
        await asyncio.shield(message.send())
        raise
    except Exception:
        log.exception("turn failed")
        message.content = "Something went wrong on our side while answering. Please try again."
        await message.send()
        return None
    assert result is not None
    await finish_message(message, result)
    return result


async def finish_message(message: cl.Message, result: TurnResult) -> None:
    if not message.content:
        message.content = result.answer or "(no answer)"
    tier = result.receipt.tier.value
    footer = f"{TIER_ICON.get(tier, '')} {tier} · {model_label(result)}"
    if result.finish_reason == "cut_off":
        footer = "*(answer cut off)* · " + footer
    message.content = f"{message.content}\n\n---\n*{footer}*"
    message.metadata = {"tier": tier, "route": result.route, "model": result.model, "outcome": result.outcome}
    await message.send()
    async with cl.Step(name="Privacy receipt", type="tool", parent_id=message.id, show_input=False) as step:
        step.output = receipt_markdown(result.receipt)
