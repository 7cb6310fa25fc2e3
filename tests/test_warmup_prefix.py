"""The warm-up evaluates the very prompt prefix the local fallback then reads (routing/warmup.py).

llama.cpp reuses its evaluation only for an identical token prefix. The warm-up a slow hosted
model triggers carries the turn's system prompt and a fixed "Hi"; the fallback carries the same
system prompt and the user's words, and (by default) no tools, so everything before the user's
message is the same, byte for byte, through the GGUF's own chat template. Tools offered to the
fallback would put their definitions (972 tokens for Qwen) after the system prompt, outside the
warmed prefix. Scripted models; the hosted double waits for the warm-up, not for a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.chat_turn import ChatTools
from assistant.tools.settings import ToolSettings
from assistant.turns import Conversation, TurnResult
from models.base import ChatRequest, ModelTimeout, StreamEvent
from models.fakes import QueueModel
from routing.reliability_settings import ReliabilitySettings
from routing.retry import RetryingModel, RetryPolicy
from tests.support.privacy import ScriptedPrivacy
from tests.support.servers import bundled_gguf
from tests.support.tool_kit import Catalog, ScriptedClassifier, percent_tool

QUESTION = "Name three colours."


class LazyLocal(QueueModel):
    """A local double that loads on `start()`, like `LocalModel`, so the fallback loop warms it."""

    def __init__(self) -> None:
        super().__init__(name="qwen", kind="local", default="Red, blue and green.")
        self.warmed = asyncio.Event()

    def start(self) -> None:
        pass

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        async for event in super().stream(request):
            yield event
        if request.background:
            self.warmed.set()


class SlowUntilWarm(QueueModel):
    """A hosted model that sends nothing until the local model was warmed, then times out."""

    def __init__(self, local: LazyLocal) -> None:
        super().__init__(name="strong", kind="hosted")
        self.local = local

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        await self.local.warmed.wait()
        raise ModelTimeout("no first byte")
        yield  # type: ignore[unreachable]  # makes this an async generator


async def warm_then_fallback(*, fallback_tools: bool) -> tuple[ChatRequest, ChatRequest]:
    local = LazyLocal()
    tools = ChatTools.build(
        Catalog([percent_tool()]), ScriptedClassifier(), ToolSettings(), local_supports_tools=True
    )
    # Deadlines far away: the hosted double fails when the warm-up ran, whatever the machine's load.
    reliability = ReliabilitySettings(
        hosted_turn_deadline_s=600, turn_answer_deadline_s=601, local_fallback_tools=fallback_tools
    )
    slow = RetryingModel(SlowUntilWarm(local), RetryPolicy(max_attempts=1))
    p = ChatPipeline(
        settings=Settings(reliability=reliability),
        models=ModelSet(local=local, hosted=[slow]),
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=tools),
    )
    conversation = Conversation(id="c1", principal=Principal(user_id="u1"))
    events = [event async for event in p.run(conversation, QUESTION)]
    assert isinstance(events[-1], TurnResult) and events[-1].model == "qwen"
    warm, fallback = local.requests
    assert warm.background and QUESTION not in str(warm.messages)
    return warm, fallback


@cache
def chat_template() -> tuple[str, str, str]:
    """The bundled GGUF's own chat template (ChatML, as Qwen's), and its special tokens."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(bundled_gguf()), vocab_only=True, verbose=False)
    text = llm._model.token_get_text
    return llm.metadata["tokenizer.chat_template"], text(llm.token_eos()), text(llm.token_bos())


def rendered(request: ChatRequest) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template, eos, bos = chat_template()
    tools: Any = [tool.wire() for tool in request.tools] or None
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    messages: Any = [m.wire() for m in request.messages]
    return formatter(messages=messages, tools=tools).prompt


def before_the_user(prompt: str, words: str) -> str:
    return prompt[: prompt.index(words)]


async def test_the_warm_up_reads_the_fallbacks_prompt_up_to_the_users_words() -> None:
    warm, fallback = await warm_then_fallback(fallback_tools=ReliabilitySettings().local_fallback_tools)
    assert warm.messages[0] == fallback.messages[0] and fallback.messages[0].role == "system"
    assert warm.tools == fallback.tools == ()
    prefix = before_the_user(rendered(fallback), QUESTION)
    assert prefix == before_the_user(rendered(warm), "Hi")
    assert prefix.count("<|im_start|>") == 2  # the system message and the user's turn's opening


async def test_tools_on_the_fallback_are_not_in_the_warmed_prefix() -> None:
    """Configured to keep its tools, the fallback's prompt has their definitions after the system
    prompt (Qwen's template puts them there; the bundled model's template ignores tools), which
    the warm-up never read: why the default offers the fallback none."""
    warm, fallback = await warm_then_fallback(fallback_tools=True)
    assert [t.name for t in fallback.tools] == ["calculator"] and warm.tools == ()
