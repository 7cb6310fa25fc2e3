"""Thread titles pass the gate: the sidebar never shows a regulated first message."""

from __future__ import annotations

from datetime import date

from assistant.titles import gated_titles, neutral_title, shorten, thread_title
from assistant.ui.datalayer import data_layer_for
from routing.tiers import Tier
from tests.support.privacy import ScriptedPrivacy

DAY = date(2026, 11, 29)


def test_regulated_first_message_gets_a_neutral_title() -> None:
    title = thread_title("My SSN is 536-22-4567 — which tax form do I need?", Tier.REGULATED, today=DAY)
    assert title == "Private chat, 29 Nov"


def test_internal_first_message_is_pseudonymized_or_neutral() -> None:
    text = "Can Alice approve my overtime?"
    assert thread_title(text, Tier.INTERNAL, today=DAY) == "Work chat, 29 Nov"
    masked = thread_title(
        text, Tier.INTERNAL, today=DAY, pseudonymize=lambda t: t.replace("Alice", "<PERSON_1>")
    )
    assert masked == "Can <PERSON_1> approve my overtime?"


def test_failing_pseudonymizer_fails_closed() -> None:
    def broken(text: str) -> str:
        raise RuntimeError("gate down")

    assert (
        thread_title("Can Alice approve it?", Tier.INTERNAL, today=DAY, pseudonymize=broken)
        == "Work chat, 29 Nov"
    )


def test_public_first_message_is_shortened_at_a_word() -> None:
    text = "Draft a short, friendly e-mail asking a colleague for a meeting next week about the budget."
    title = thread_title(text, Tier.PUBLIC, today=DAY)
    assert title.endswith("…") and len(title) <= 60 and text.startswith(title[:-1])
    assert shorten("\n\n  Hello   there \nsecond line") == "Hello there"


def test_gated_titles_use_the_gate_and_fail_closed() -> None:
    title_for = gated_titles(ScriptedPrivacy(), today=lambda: DAY)
    assert title_for("My SSN is 536-22-4567") == "Private chat, 29 Nov"
    assert title_for("Lunch ideas for Friday?") == "Lunch ideas for Friday?"

    class Broken(ScriptedPrivacy):
        def assess(self, text, *, source):  # type: ignore[no-untyped-def]
            raise RuntimeError("classifier down")

    assert gated_titles(Broken(), today=lambda: DAY)("My SSN is 536-22-4567") == "Private chat, 29 Nov"
    assert "536" not in neutral_title("My SSN is 536-22-4567") and neutral_title("x").startswith("Chat, ")


async def test_data_layer_stores_the_gated_title(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The one wiring point: Chainlit names a thread after its first message through update_thread."""
    from chainlit.context import init_http_context
    from chainlit.user import User as ChainlitUser

    from assistant.governance.component import build_governance
    from assistant.governance.settings import GovernanceSettings, PasswordHashSettings

    fast = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
    gov = build_governance(GovernanceSettings(passwords=fast), tmp_path)
    try:
        gov.accounts.add_user(username="alice", password="alice password")
        layer = data_layer_for(gov)
        layer.title_for = gated_titles(ScriptedPrivacy(), today=lambda: DAY)
        init_http_context(user=ChainlitUser(identifier="alice"))
        await layer.update_thread("t1", name="My SSN is 536-22-4567, which form?")
        await layer.update_thread("t2", name="Lunch ideas for Friday?")

        def broken(text: str) -> str:
            raise RuntimeError("services not started")

        layer.title_for = broken
        await layer.update_thread("t3", name="My SSN is 536-22-4567")
        names = {t: (await layer.get_thread(t))["name"] for t in ("t1", "t2", "t3")}
        assert names["t1"] == "Private chat, 29 Nov" and names["t2"] == "Lunch ideas for Friday?"
        assert "536" not in names["t3"] and names["t3"].startswith("Chat, ")
    finally:
        gov.close()
