"""Chat text for uploads: the summary with its citations, and names that cannot inject markdown.

The summary says plainly which parts a model wrote and which are quotes from the document, and
which model wrote them (the private local model is small; its output is marked, not hidden).
Untrusted names are shown with markdown control characters escaped, so a file called
`[x](https://evil)` renders as text, never as a link.

The stored summary carries, after `CITED_PAGES_MARKER`, the text of the pages it cites and the facts
for its receipt (JSON), so the chat can open `[p. n]` in the side panel after the staged upload is
gone; `split_summary` takes that trailer off again. The trailer is never shown as message text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.uploads.citing import ref_for
from assistant.uploads.summarize import Summary
from knowledge.parsing.documents import Section

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
TIER_ICON = {"public": "🟢", "internal": "🟡", "regulated": "🔒"}
CITED_PAGES_MARKER = "\n\n<!-- confidante:cited-pages -->\n"


@dataclass(frozen=True)
class StoredSummary:
    """A stored summary split into what the chat shows and what its citations and receipt need."""

    text: str
    pages: dict[str, str] = field(default_factory=dict)  # "p. 3" -> that page's text
    receipt: dict[str, str | int] = field(default_factory=dict)


def md_escape(text: str) -> str:
    return _MARKDOWN.sub(r"\\\1", text)


def counted(n: int, noun: str) -> str:
    """`1 page`, `3 pages`: a one-page upload is not "1 pages"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _writer(kind: str | None, local_model: str) -> str:
    if kind == "hosted":
        return "the hosted model (personal data pseudonymized)"
    return f"the private local model ({local_model})"


def render_summary(
    summary: Summary,
    *,
    display_name: str,
    pages: int | None,
    local_model: str,
    sections: Sequence[Section] = (),
) -> str:
    """The summary's markdown; with `sections`, followed by the trailer of cited pages."""
    text = _summary_markdown(summary, display_name=display_name, pages=pages, local_model=local_model)
    if not sections:
        return text
    return text + CITED_PAGES_MARKER + json.dumps(_trailer(summary, sections, local_model))


def _trailer(summary: Summary, sections: Sequence[Section], local_model: str) -> dict[str, object]:
    cited = summary.refs
    texts: dict[str, list[str]] = {}
    for index, section in enumerate(sections):
        ref = ref_for(section, index)
        if ref in cited:  # only what the summary cites: the row does not become a copy of the file
            texts.setdefault(ref, []).append(section.text)
    receipt = {
        "tier": summary.tier.value,
        "overview_by": summary.overview_by or "",
        "local_model": local_model,
        "model_calls": summary.model_calls,
        # What actually happened, not what the route allowed: sections per writer.
        **{f"steps_{kind}": summary.step_writers.count(kind) for kind in ("hosted", "local", "quote")},
        "hosted_calls": summary.hosted_calls,
    }
    return {"pages": {ref: "\n\n".join(parts) for ref, parts in texts.items()}, "receipt": receipt}


def receipt_writers(facts: dict[str, str | int], tier: str) -> str:
    """Who wrote a summary, for its receipt: counted from the steps that ran, never the route alone."""
    local = str(facts.get("local_model", "")) or "the private local model"
    if "steps_hosted" not in facts:  # a summary stored before the counts were kept
        if tier == "regulated":
            return f"{local}, on this machine; nothing left it"
        return f"{local} on this machine; non-regulated parts may go to a hosted model, pseudonymized"
    counts = {kind: int(facts.get(f"steps_{kind}", 0)) for kind in ("hosted", "local", "quote")}
    total = sum(counts.values())
    wording = {
        "local": f"{local} on this machine",
        "hosted": "the hosted model",
        "quote": "quoted from the document",
    }
    parts = [f"{wording[k]} ({n} of {total} sections)" for k, n in counts.items() if n]
    overview = facts.get("overview_by")
    if overview in ("local", "hosted"):
        parts.append(f"overview by {'the hosted model' if overview == 'hosted' else local}")
    # Whether text left the machine is told from the calls made, not from whose answer was kept:
    # a hosted answer that was unusable still means the (pseudonymized) pages were sent.
    sent = int(facts.get("hosted_calls", 0))
    if sent:
        parts.append(f"{sent} hosted model call{'s' if sent != 1 else ''}, personal data pseudonymized")
    else:
        parts.append("nothing left this machine")
    return "; ".join(parts)


def split_summary(stored: str) -> StoredSummary:
    """The shown text and the trailer's pages and receipt; a summary without a trailer is all text."""
    text, marker, trailer = stored.partition(CITED_PAGES_MARKER)
    if not marker:
        return StoredSummary(stored)
    try:
        data = json.loads(trailer)
        pages = {str(k): str(v) for k, v in dict(data.get("pages", {})).items()}
        receipt = {str(k): v for k, v in dict(data.get("receipt", {})).items() if isinstance(v, str | int)}
    except (ValueError, TypeError, AttributeError):  # a damaged trailer never breaks the summary
        return StoredSummary(text)
    return StoredSummary(text, pages, receipt)


def _summary_markdown(summary: Summary, *, display_name: str, pages: int | None, local_model: str) -> str:
    size = counted(pages, "page") if pages else counted(summary.map_steps, "part")
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
    calls, sections = counted(summary.model_calls, "model call"), counted(summary.map_steps, "section")
    parts.append(f"{calls}, {sections}; local model: {local_model}")
    return "*" + "; ".join(parts) + ".*"


def accepted_message(display_name: str, pages: int | None, sections: int, tier: str, complete: bool) -> str:
    size = counted(pages, "page") if pages else counted(sections, "section")
    tier_text = (
        f"tier {tier}" if complete else f"tier {tier} so far (the rest is checked before any model sees it)"
    )
    return f"Got it: {md_escape(display_name)}, {size}, {TIER_ICON.get(tier, '')} {tier_text}; summarizing…"


def rejected_message(display_name: str, reason: str) -> str:
    return f"{md_escape(display_name)}: {reason}"
