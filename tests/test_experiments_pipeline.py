"""A variant inside a real `ChatPipeline` (scripted models and gate): it shapes the answer, never
the route. The privacy test: a variant that prefers a hosted model still gets only the local
model on a regulated turn."""

from __future__ import annotations

from assistant.experiments.models import Capability, TurnVariant, Variant
from assistant.experiments.prompts import CONCISE
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from models.fakes import QueueModel
from tests.support.privacy import ScriptedPrivacy


class Source:
    """A `VariantSource` with one variant for everyone; records what it was asked."""

    def __init__(self, variant: Variant | None, *, fail: bool = False) -> None:
        self.variant, self.fail = variant, fail
        self.asked: list[tuple[str, Capability]] = []

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None:
        self.asked.append((user_id, capability))
        if self.fail:
            raise RuntimeError("database down")
        return TurnVariant(experiment_id="exp", variant=self.variant) if self.variant else None


class NoDocuments:
    """A knowledge base with nothing in it (retrieval finds nothing)."""

    def search(self, *args: object, **kwargs: object) -> list[object]:
        return []


def pipeline(
    local: QueueModel, hosted: list[QueueModel], source: Source, *, knowledge: object = None
) -> ChatPipeline:
    return ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=local, hosted=list(hosted)),
        privacy=ScriptedPrivacy(),
        services=TurnServices(experiments=source, knowledge=knowledge),  # type: ignore[arg-type]
    )


async def turn(p: ChatPipeline, text: str, user: str = "u1") -> TurnResult:
    conversation = Conversation(id=f"t-{user}", principal=Principal(user_id=user))
    events = [event async for event in p.run(conversation, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


def models() -> tuple[QueueModel, QueueModel, QueueModel]:
    local = QueueModel(name="local", default="local answer")
    cheap = QueueModel(name="gpt-4o-mini", kind="hosted", default="cheap answer")
    strong = QueueModel(name="gpt-4o", kind="hosted", default="strong answer")
    return local, cheap, strong


async def test_a_variant_naming_a_hosted_model_still_gets_the_local_model_on_a_regulated_turn() -> None:
    local, cheap, strong = models()
    source = Source(Variant(name="hosted-first", share=0.5, answer_model="gpt-4o"))
    p = pipeline(local, [cheap, strong], source)
    result = await turn(p, "My SSN is 078-05-1120, what is my tax code?")
    assert result.route == "local" and result.model == "local"
    assert result.variant is not None and result.variant.variant.answer_model == "gpt-4o"
    assert strong.requests == [] and cheap.requests == []
    # The same variant on a public turn does prefer its model (so the test above can fail).
    public = await turn(p, "What is the capital of France?", user="u2")
    assert public.model == "gpt-4o" and cheap.requests == []


async def test_the_variants_prompt_template_reaches_the_model() -> None:
    local, _, _ = models()
    p = pipeline(local, [], Source(Variant(name="concise", share=0.5, prompt_template="chat-v2-concise")))
    result = await turn(p, "Tell me about the weather")
    system = local.requests[0].messages[0]
    assert system.role == "system" and system.content.endswith(CONCISE)
    assert result.variant is not None and result.variant.label == "exp/concise"


async def test_no_experiment_and_a_failing_one_answer_as_before() -> None:
    local, _, _ = models()
    quiet = await turn(pipeline(local, [], Source(None)), "hello there, how is it going")
    broken = await turn(pipeline(local, [], Source(None, fail=True)), "hello there, how is it going")
    assert quiet.variant is None and broken.variant is None
    assert quiet.answer == broken.answer == "local answer"
    assert CONCISE not in local.requests[0].messages[0].content


async def test_the_capability_asked_for_follows_the_message_and_the_documents() -> None:
    local, _, _ = models()
    source = Source(None)
    await turn(
        pipeline(local, [], source, knowledge=NoDocuments()), "What does our handbook say about leave?"
    )
    await turn(pipeline(local, [], source, knowledge=NoDocuments()), "Draft a short e-mail to a colleague")
    await turn(pipeline(local, [], source), "What does our handbook say about leave?")  # no documents at all
    assert [capability for _, capability in source.asked] == ["document_qa", "chat", "chat"]


async def test_a_cached_answer_is_never_served_to_another_variant() -> None:
    from routing.cache import ResponseCache

    local = QueueModel("first answer", "second answer", name="local")
    source = Source(Variant(name="control", share=0.5))
    p = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=local, hosted=[]),
        privacy=ScriptedPrivacy(),
        services=TurnServices(experiments=source, cache=ResponseCache()),
    )
    first = await turn(p, "What is the capital of France?")
    again = await turn(p, "What is the capital of France?")
    assert again.cached and again.answer == first.answer == "first answer"
    source.variant = Variant(name="concise", share=0.5, prompt_template="chat-v2-concise")
    other = await turn(p, "What is the capital of France?")
    assert not other.cached and other.answer == "second answer"
