"""The privacy invariant, proven on the wire.

The "hosted" endpoint is a real `llama_cpp.server` behind a recording proxy; the gate is the real
one (Presidio + spaCy + our recognizers); the local model is real llama.cpp. Every request body
that reached the proxy is searched for canary values, raw and JSON-decoded.
"""

from __future__ import annotations

import json

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.privacy_gate import GatePrivacy
from assistant.settings import Settings
from assistant.turns import Conversation, Notice, TurnResult
from models.hosted import HostedModel
from models.local import LocalModel
from models.settings import HostedModelSettings
from routing.tiers import Tier
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.slow

SSN = "078-05-1120"
MRN = "MRN 48213377"
NAME = "Margaret Thornbury"


def make_pipeline(
    local: LocalModel, hosted_settings: HostedModelSettings, privacy: GatePrivacy, data_dir
) -> ChatPipeline:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=data_dir)
    settings.chat.answer_reserve_tokens = 16
    settings.models.local.max_tokens = 16
    hosted = [HostedModel(hosted_settings.models.strong, hosted_settings, count_tokens=local.count_tokens)]
    return ChatPipeline(settings=settings, models=ModelSet(local=local, hosted=hosted), privacy=privacy)


async def turn(
    pipeline: ChatPipeline, conversation: Conversation, text: str
) -> tuple[TurnResult, list[Notice]]:
    events = [event async for event in pipeline.run(conversation, text)]
    result = events[-1]
    assert isinstance(result, TurnResult)
    return result, [e for e in events if isinstance(e, Notice)]


def wire_text(proxy: FaultProxy) -> str:
    """Everything the hosted endpoint received: raw bodies plus their decoded message contents."""
    parts = list(proxy.requests)
    for body in proxy.requests:
        try:
            payload = json.loads(body)
        except ValueError:
            continue
        parts += [str(m.get("content", "")) for m in payload.get("messages", []) if isinstance(m, dict)]
    return "\n".join(parts)


def assert_never_sent(proxy: FaultProxy, *canaries: str) -> None:
    sent = wire_text(proxy)
    for canary in canaries:
        assert canary not in sent, f"{canary!r} reached the hosted endpoint"
        assert canary.replace("-", "") not in sent.replace("-", "")


def conversation() -> Conversation:
    return Conversation(id="wire", principal=Principal(user_id="alice"))


async def test_regulated_chat_never_reaches_hosted_in_any_later_turn(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    chat = conversation()
    first, _ = await turn(pipeline, chat, f"My SSN is {SSN} and my record is {MRN}. Is that on file?")
    assert first.receipt.tier == Tier.REGULATED and first.route == "local"
    second, _ = await turn(pipeline, chat, "What is the capital of France?")
    third, _ = await turn(pipeline, chat, "Thanks! Say goodbye.")
    assert second.route == third.route == "local"
    assert second.receipt.tier == Tier.REGULATED
    assert hosted_proxy.requests == []  # not one request, in that turn or any later one


async def test_public_message_goes_hosted(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    result, _ = await turn(pipeline, conversation(), "What is the capital of France?")
    assert result.receipt.tier == Tier.PUBLIC
    assert result.route == "hosted" and result.answer.strip()
    assert len(hosted_proxy.chat_exchanges()) == 1


async def test_person_name_leaves_only_as_placeholder_and_is_restored(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    chat = conversation()
    result, _ = await turn(pipeline, chat, f"Please repeat this name exactly once: {NAME}")
    assert result.receipt.tier == Tier.INTERNAL
    assert result.route == "hosted"
    assert result.receipt.pseudonymized.get("PERSON", 0) >= 1
    assert_never_sent(hosted_proxy, NAME, "Thornbury")
    assert "<PERSON_1>" in wire_text(hosted_proxy)
    # The answer the user sees never shows a placeholder we created.
    assert "<PERSON_1>" not in result.answer
    # The next turn carries the name in history: still only the placeholder on the wire.
    await turn(pipeline, chat, "Now say it twice.")
    assert len(hosted_proxy.chat_exchanges()) == 2
    assert_never_sent(hosted_proxy, NAME, "Thornbury")


async def test_placeholder_split_across_stream_chunks_is_restored_for_the_user(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    """The endpoint answers with the name's placeholder split in two chunks; the user sees the name."""
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    chat = conversation()
    first, _ = await turn(pipeline, chat, f"Please repeat this name exactly once: {NAME}")
    assert first.route == "hosted" and first.receipt.tier == Tier.INTERNAL
    placeholder = chat.vault.placeholder_for("PERSON", NAME)  # type: ignore[union-attr]
    cut = len(placeholder) // 2
    hosted_proxy.set_fault(
        "script", chunks=(f"Hello {placeholder[:cut]}", f"{placeholder[cut:]}, nice to meet you.")
    )
    second, _ = await turn(pipeline, chat, f"Now greet {NAME} warmly.")
    assert second.route == "hosted"
    assert second.answer == f"Hello {NAME}, nice to meet you."
    assert_never_sent(hosted_proxy, NAME, "Thornbury")


async def test_hosted_errors_never_carry_regulated_content(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    chat = conversation()
    hosted_proxy.set_fault("http_500", times=None)
    public, notices = await turn(pipeline, chat, "Name three primary colours.")
    assert public.route == "local" and any(n.kind == "fallback" for n in notices)
    before = len(hosted_proxy.requests)
    regulated, _ = await turn(pipeline, chat, f"My SSN is {SSN}")
    assert regulated.route == "local"
    assert len(hosted_proxy.requests) == before
    hosted_proxy.clear()
    after, _ = await turn(pipeline, chat, "And a fourth colour?")
    assert after.route == "local"  # the chat is tainted now
    assert_never_sent(hosted_proxy, SSN)


# New DLP categories (issue 12): each message alone, in a fresh chat; none may reach the endpoint.
PASSWORD = "Quartz-Lantern-2024!"
CARD = "4539 1488 0343 6467"  # Luhn fails; the CVV and expiry next to it make it a card.
NEW_CATEGORY_CANARIES = [
    (f"the login password is {PASSWORD}, can you tell me if it is strong?", (PASSWORD, "Quartz-Lantern")),
    (f"Charge card {CARD}, exp 04/28, CVV 512, and confirm the order", (CARD, CARD.replace(" ", ""))),
]


@pytest.mark.parametrize(("message", "canaries"), NEW_CATEGORY_CANARIES)
async def test_new_category_values_never_reach_hosted(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir, message, canaries
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    result, _ = await turn(pipeline, conversation(), message)
    assert result.receipt.tier != Tier.PUBLIC
    assert_never_sent(hosted_proxy, *canaries)


async def test_implied_health_disclosure_stays_local(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    """No value to search for: the whole message must stay off the wire."""
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    message = "the pills my psychiatrist gave me for my nerves make me sleepy, is that normal?"
    result, _ = await turn(pipeline, conversation(), message)
    assert result.receipt.tier == Tier.REGULATED and result.route == "local"
    assert hosted_proxy.requests == []
    assert_never_sent(hosted_proxy, "psychiatrist", "my nerves")


# Issue 12, this round: an implied disclosure next to a pseudonymized value (a name, an e-mail)
# used to be "internal" and went out with only the value masked; the contextual classifier now
# reads such messages, so the whole message stays local. No value to search for: nothing may leave.
IMPLIED_WITH_A_VALUE = [
    "Marco, my bank login is still the old one: the dog's name plus the year I was born and an "
    "exclamation mark.",
    "Email jo.baker@example.com that the sugar condition I've had since childhood is acting up again.",
]


@pytest.mark.parametrize("message", IMPLIED_WITH_A_VALUE)
async def test_implied_disclosure_beside_a_name_or_email_stays_local(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir, message
) -> None:  # type: ignore[no-untyped-def]
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    result, _ = await turn(pipeline, conversation(), message)
    assert result.receipt.tier == Tier.REGULATED and result.route == "local"
    assert hosted_proxy.requests == []


async def test_a_personal_place_leaves_only_as_a_placeholder(
    local_llama_model, hosted_settings, hosted_proxy, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    """An itinerary's town (unknown to most lists, non-ASCII) is the writer's whereabouts: masked."""
    pipeline = make_pipeline(local_llama_model, hosted_settings, gate_privacy, data_dir)
    result, _ = await turn(pipeline, conversation(), "I'm flying to Tromsø on Thursday; what should I pack?")
    assert result.receipt.tier == Tier.INTERNAL and result.route == "hosted"
    assert_never_sent(hosted_proxy, "Tromsø", "Tromso")
    assert "<PERSONAL_LOCATION_1>" in wire_text(hosted_proxy)
