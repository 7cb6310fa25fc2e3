"""A cited passage is untrusted document text: shown escaped, with its supporting sentence in bold."""

from __future__ import annotations

from assistant.turns import SourceRef
from assistant.ui.sources import passage_markdown
from routing.tiers import Tier


def test_a_passage_cannot_inject_markup_and_keeps_its_sentence_in_bold() -> None:
    ref = SourceRef(
        number=1, doc_id="d", title="Pay [policy](https://evil.example)", location="p. 2",
        snippet="", passage="## Pay\nSee ![x](https://evil.example/a.png). Pay day is the 25th.",
        highlight="Pay day is the 25th.", tier=Tier.INTERNAL,
    )  # fmt: skip
    shown = passage_markdown(ref)
    assert "](" not in shown and "![" not in shown
    assert shown.endswith(r"**Pay day is the 25th\.**")
    assert "## " not in shown and shown.startswith(r"**Pay \[policy\]")
