"""Chat text for uploads: the summary with its citations, and names that cannot inject markdown.

The summary says plainly which parts a model wrote and which are quotes from the document, and
which model wrote them (the private local model is small; its output is marked, not hidden).
Untrusted names are shown with markdown control characters escaped, so a file called
`[x](https://evil)` renders as text, never as a link.
"""

from __future__ import annotations

import re

from assistant.uploads.summarize import Summary

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
TIER_ICON = {"public": "🟢", "internal": "🟡", "regulated": "🔒"}


def md_escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def _writer(kind: str | None, local_model: str) -> str:
    if kind == "hosted":
        return "the hosted model (personal data pseudonymized)"
    return f"the private local model ({local_model})"


def render_summary(summary: Summary, *, display_name: str, pages: int | None, local_model: str) -> str:
    size = f"{pages} pages" if pages else f"{summary.map_steps} parts"
    icon = TIER_ICON.get(summary.tier.value, "")
    lines = [f"**Summary of {md_escape(display_name)}** · {size} · {icon} {summary.tier.value}", ""]
    if summary.overview:
        lines += [
            f"{summary.overview} *(overview written by {_writer(summary.overview_by, local_model)})*",
            "",
        ]
    lines.append("**Key points**")
    for point in summary.points:
        mark = " *(quoted from the document)*" if point.origin == "quote" else ""
        lines.append(f"- {point.text} [{point.ref}]{mark}")
    if not summary.points:
        lines.append("- I found no text I could summarize.")
    lines += ["", _provenance(summary, local_model)]
    return "\n".join(lines)


def _provenance(summary: Summary, local_model: str) -> str:
    written = sum(1 for p in summary.points if p.origin == "model")
    quoted = len(summary.points) - written
    parts = [
        f"{written} of {len(summary.points)} points were written by a model and checked against their page"
    ]
    if quoted:
        parts.append(
            f"{quoted} are sentences quoted from the document where the model's output could not be checked"
        )
    if summary.excerpted:
        parts.append("long parts were summarized from their opening sentences")
    parts.append(
        f"{summary.model_calls} model calls, {summary.map_steps} sections; local model: {local_model}"
    )
    return "*" + "; ".join(parts) + ".*"


def accepted_message(display_name: str, pages: int | None, sections: int, tier: str, complete: bool) -> str:
    size = f"{pages} pages" if pages else f"{sections} sections"
    tier_text = (
        f"tier {tier}" if complete else f"tier {tier} so far (the rest is checked before any model sees it)"
    )
    return f"Got it: {md_escape(display_name)}, {size}, {TIER_ICON.get(tier, '')} {tier_text}; summarizing…"


def rejected_message(display_name: str, reason: str) -> str:
    return f"{md_escape(display_name)}: {reason}"
