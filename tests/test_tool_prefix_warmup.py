"""The start-up warm-up reads the very opening a regulated tool turn sends the private model.

`ChatApp` has the in-process model read the system prompt and the tools a regulated turn is
offered (`routing.warmup.warm_tool_prefix`), and save that state (models/prefix_states.py). That
only pays if a real regulated turn's request opens with the same system message and the same tool
definitions, in the same order: checked here on the pipeline with a scripted local model.
"""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.builtin import builtin_tools
from assistant.tools.chat_turn import ChatTools
from assistant.tools.registry import ToolRegistry
from assistant.tools.settings import ToolSettings
from assistant.turns import Conversation, TurnResult
from assistant.ui.chat_app import regulated_tools
from models.base import ChatMessage
from models.fakes import QueueModel
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import ScriptedClassifier


async def test_a_regulated_tool_turn_opens_with_the_warmed_system_prompt_and_tools() -> None:
    local = QueueModel(name="qwen", kind="local", default="Noted.")
    # The built-ins every deployment has (the document tools need a knowledge base).
    catalog = ToolRegistry(builtin_tools(knowledge=None, escalations=None, classifier=ScriptedClassifier()))
    tools = ChatTools.build(catalog, ScriptedClassifier(), ToolSettings(), local_supports_tools=True)
    settings = Settings()
    pipeline = ChatPipeline(
        settings=settings,
        models=ModelSet(local=local, hosted=[]),
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=tools),
    )
    conversation = Conversation(id="c1", principal=Principal(user_id="u1"))
    events = [event async for event in pipeline.run(conversation, "My SSN is 123-45-6789, what is 5% of it?")]
    assert isinstance(events[-1], TurnResult) and events[-1].model == "qwen"
    (request,) = local.requests
    # What ChatApp._warm_tool_prefix hands to warm_tool_prefix at start-up:
    warmed_system = ChatMessage(role="system", content=settings.chat.system_prompt)
    warmed_tools = regulated_tools(tools, local)
    assert request.messages[0] == warmed_system
    assert request.tools == warmed_tools and len(warmed_tools) == 2
