"""A turn reads the running experiments once per capability (issue 15 item 7: each read is a store
query on the first-token path), and never remembers them past the turn: an experiment stopped
between two turns no longer applies to the second."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from assistant.experiments.models import Capability, ExperimentSpec, TurnVariant, Variant
from assistant.experiments.store import ExperimentStore
from assistant.experiments.tools_variant import ExperimentTools
from assistant.identity import Principal
from assistant.pipeline import ModelSet
from assistant.services import Services, build_services
from assistant.turns import Conversation, TurnResult
from models.fakes import QueueModel
from tests.support.experiment_kit import traffic_settings
from tests.support.privacy import ScriptedPrivacy


class CountingStore:
    """The real store, counting `variant_for` calls per capability."""

    def __init__(self, store: ExperimentStore) -> None:
        self.store = store
        self.asked: Counter[str] = Counter()

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None:
        self.asked[capability] += 1
        return self.store.variant_for(user_id, capability)


def _spec(experiment_id: str, capability: Capability) -> ExperimentSpec:
    return ExperimentSpec(
        id=experiment_id,
        capability=capability,
        variants=(Variant(name="a", share=0.5), Variant(name="b", share=0.5)),
    )


@pytest.fixture
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, CountingStore]]:
    settings = traffic_settings(tmp_path_factory.mktemp("lookups"))
    hosted = QueueModel(default="hosted answer", name="strong", kind="hosted")
    local = QueueModel(default="local answer", name="local", kind="local")
    built = build_services(settings, models=ModelSet(local=local, hosted=[hosted]), privacy=ScriptedPrivacy())
    assert built.governance is not None
    counting = CountingStore(ExperimentStore(built.governance.engine))
    tools = built.pipeline.services.tools
    assert isinstance(tools, ExperimentTools)
    tools.experiments = counting
    built.pipeline.services.experiments = counting
    yield built, counting
    built.close()


def _turn(services: Services, thread: str) -> TurnResult:
    conversation = Conversation(id=thread, principal=Principal(user_id="user-1"))

    async def run() -> TurnResult:
        events = [e async for e in services.pipeline.run(conversation, "What's 17.5 % of 2,380?")]
        result = events[-1]
        assert isinstance(result, TurnResult)
        return result

    return asyncio.run(run())


def test_one_lookup_per_capability_per_turn(services: tuple[Services, CountingStore]) -> None:
    built, counting = services
    counting.store.create(_spec("chat-ab", "chat"), created_by="admin")
    counting.store.create(_spec("tools-ab", "tools"), created_by="admin")
    result = _turn(built, "thread-1")
    assert result.variant is not None and result.tools_variant is not None
    assert counting.asked == Counter({"chat": 1, "tools": 1})


def test_a_stopped_experiment_no_longer_applies_on_the_next_turn(
    services: tuple[Services, CountingStore],
) -> None:
    built, counting = services
    counting.store.create(_spec("tools-ab", "tools"), created_by="admin")
    assert _turn(built, "thread-1").tools_variant is not None
    counting.store.stop("tools-ab", by="admin")
    assert _turn(built, "thread-2").tools_variant is None
