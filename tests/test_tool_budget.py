"""Tool rounds inside the model's context window: definitions, calls and results are counted, and
a result too large for the window is cut (or left out) instead of overflowing it."""

from __future__ import annotations

from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.tools.budget import CUT_NOTE, LEFT_OUT, fit_tool_round, message_tokens, tools_tokens
from assistant.tools.chat_turn import ChatTools
from assistant.tools.settings import ToolSettings
from assistant.turns import Conversation, TurnResult
from models.base import ChatMessage, ChatRequest, ToolDefinition
from models.fakes import FunctionModel, QueueModel, call
from models.tokens import approximate_tokens
from tests.support.privacy import ScriptedPrivacy
from tests.support.tool_kit import Catalog, ScriptedClassifier, tool

SYSTEM = ChatMessage(role="system", content="You are a careful assistant.")
USER = ChatMessage(role="user", content="Summarize the report for me.")
LOOKUP = ToolDefinition(name="lookup", description="Look something up.")


def big_text(words: int) -> str:
    return " ".join(f"figure{i} rose sharply" for i in range(words // 3))


def exchange(*results: str) -> list[ChatMessage]:
    calls = [call("lookup", expression=f"q{i}") for i in range(len(results))]
    messages = [ChatMessage(role="assistant", content="", tool_calls=tuple(calls))]
    messages += [
        ChatMessage(role="tool", content=r, tool_call_id=c.id) for r, c in zip(results, calls, strict=True)
    ]
    return messages


def total(messages: tuple[ChatMessage, ...], tools: tuple[ToolDefinition, ...]) -> int:
    return sum(message_tokens(m, approximate_tokens) for m in messages) + tools_tokens(
        tools, approximate_tokens
    )


def test_a_round_that_fits_is_sent_unchanged() -> None:
    base, rounds = [SYSTEM, USER], exchange("42")
    fitted = fit_tool_round(
        base, rounds, (LOOKUP,), context_window=2048, answer_reserve=256, count=approximate_tokens
    )
    assert fitted.messages == (*base, *rounds) and fitted.tools == (LOOKUP,)
    assert (fitted.dropped_messages, fitted.results_cut, fitted.results_left_out) == (0, 0, 0)


def test_a_large_result_is_cut_to_the_window_keeping_its_start_and_the_exchange_order() -> None:
    result = big_text(3000)
    assert approximate_tokens(result) > 2048  # would overflow the window on its own
    rounds = exchange("small answer", result)
    fitted = fit_tool_round(
        [SYSTEM, USER], rounds, (LOOKUP,), context_window=2048, answer_reserve=256, count=approximate_tokens
    )
    assert total(fitted.messages, fitted.tools) <= 2048 - 256
    assert [m.role for m in fitted.messages] == ["system", "user", "assistant", "tool", "tool"]
    assert fitted.messages[2].tool_calls == rounds[0].tool_calls
    assert fitted.messages[3].content == "small answer"  # only the large one is cut
    cut = fitted.messages[4].content
    assert cut.endswith(CUT_NOTE) and result.startswith(cut.removesuffix(CUT_NOTE))
    assert fitted.results_cut >= 1 and fitted.tools == (LOOKUP,)


def test_each_text_is_counted_once_per_fitting() -> None:
    """A real tokenizer is slow: dropping history re-totals the request, but never re-counts a text."""
    asked: list[str] = []

    def counting(text: str) -> int:
        asked.append(text)
        return approximate_tokens(text)

    history = [ChatMessage(role="user", content=big_text(300)), ChatMessage(role="assistant", content="ok")]
    fit_tool_round(
        [SYSTEM, *history, USER],
        exchange(big_text(900)),
        (LOOKUP,),
        context_window=1536,
        answer_reserve=256,
        count=counting,
    )
    assert asked and len(asked) == len(set(asked))


def test_history_is_dropped_before_a_result_is_cut() -> None:
    history = [
        ChatMessage(role="user", content=big_text(300)),
        ChatMessage(role="assistant", content=big_text(300)),
    ]
    result = big_text(900)
    fitted = fit_tool_round(
        [SYSTEM, *history, USER],
        exchange(result),
        (),
        context_window=1536,
        answer_reserve=256,
        count=approximate_tokens,
    )
    assert fitted.dropped_messages == 2 and fitted.results_cut == 0
    assert fitted.messages[:2] == (SYSTEM, USER) and fitted.messages[-1].content == result


def test_when_nothing_of_the_results_fits_they_are_left_out_and_no_more_tools_are_offered() -> None:
    many = tuple(ToolDefinition(name=f"t{i}", description=big_text(60)) for i in range(12))
    assert tools_tokens(many, approximate_tokens) > 512 - 128
    fitted = fit_tool_round(
        [SYSTEM, USER],
        exchange(big_text(600)),
        many,
        context_window=512,
        answer_reserve=128,
        count=approximate_tokens,
    )
    assert fitted.tools == () and fitted.results_left_out == 1
    assert fitted.messages[-1].content == LEFT_OUT
    assert total(fitted.messages, fitted.tools) <= 512 - 128


async def test_a_chat_turn_with_a_result_larger_than_the_window_sends_every_round_inside_it() -> None:
    result = big_text(1500)[:5900]  # under the runner's 6,000-character cap, over this window
    window, reserve = 1024, Settings().chat.answer_reserve_tokens
    assert approximate_tokens(result) > window - reserve

    def reply(request: ChatRequest) -> object:
        return (
            "The report says figures rose."
            if request.messages[-1].role == "tool"
            else call("report", expression="q3")
        )

    hosted = FunctionModel(reply, name="strong", kind="hosted", context_window=window)  # type: ignore[arg-type]
    chat_tools = ChatTools.build(
        Catalog([tool("report", result)]), ScriptedClassifier(), ToolSettings(), local_supports_tools=False
    )
    pipeline = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=QueueModel(kind="local"), hosted=[hosted]),  # type: ignore[arg-type]
        privacy=ScriptedPrivacy(),
        services=TurnServices(tools=chat_tools),
    )
    events = [
        e async for e in pipeline.run(Conversation(id="c", principal=Principal(user_id="u")), "report?")
    ]
    final = events[-1]
    assert isinstance(final, TurnResult) and final.answer == "The report says figures rose."
    assert len(hosted.requests) == 2
    for request in hosted.requests:
        assert total(request.messages, request.tools) <= window - request.max_tokens
    sent = hosted.requests[1].messages[-1]
    assert sent.role == "tool" and sent.content.endswith(CUT_NOTE) and result.startswith(sent.content[:200])
