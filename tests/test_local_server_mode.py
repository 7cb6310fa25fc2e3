"""Scale-out: the private model on an OpenAI-compatible server (llama.cpp here) instead of in
process. It counts as local: regulated turns go there, and only there."""

from __future__ import annotations

import pytest

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet
from assistant.services import build_local_model
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from routing.tiers import Tier
from tests.support.servers import SERVER_MODEL_ALIAS, LlamaServer

pytestmark = pytest.mark.slow


async def test_regulated_turn_is_answered_by_the_private_server(
    llama_server: LlamaServer, gate_privacy, data_dir
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=data_dir)
    settings.models.local.server_url = llama_server.base_url
    settings.models.local.server_model = SERVER_MODEL_ALIAS
    settings.models.local.max_tokens = 12
    settings.chat.answer_reserve_tokens = 12
    local = build_local_model(settings)
    assert local.kind == "local"
    pipeline = ChatPipeline(settings=settings, models=ModelSet(local=local), privacy=gate_privacy)
    conversation = Conversation(id="srv", principal=Principal(user_id="u"))
    events = [e async for e in pipeline.run(conversation, "My SSN is 078-05-1120. Say OK.")]
    result = events[-1]
    assert isinstance(result, TurnResult)
    assert result.receipt.tier == Tier.REGULATED
    assert result.route == "local" and result.model == SERVER_MODEL_ALIAS
    assert result.answer.strip()
