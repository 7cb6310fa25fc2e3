"""Tool definitions as a model sees them are built once per spec, not on every turn: the schema
comes from pydantic, which builds it anew on every call (profiled in front of every API answer's
first byte, issue 15). Equal specs share a definition; a changed spec gets its own. Their token
count is kept per counter too; the turn's own messages are still counted on every turn."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from assistant.tools.budget import fit_tool_round
from assistant.tools.loop import definitions
from models.base import ChatMessage, ModelWrapper
from models.fakes import QueueModel


class CountedArguments(BaseModel):
    built: ClassVar[int] = 0
    city: str

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        cls.built += 1
        return super().model_json_schema(*args, **kwargs)


class WeatherTool:
    def __init__(self, description: str) -> None:
        self.spec = ToolSpec(name="weather", description=description, arguments=CountedArguments)

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        return ToolResult(content="sunny")


def test_a_specs_definition_is_built_once_and_a_changed_spec_gets_its_own() -> None:
    before = CountedArguments.built
    first = definitions([WeatherTool("The weather in a city.")])
    again = definitions([WeatherTool("The weather in a city.")])  # an equal spec, a new object
    assert again == first and CountedArguments.built == before + 1
    assert first[0].parameters["properties"]["city"]["type"] == "string"
    changed = definitions([WeatherTool("Today's weather in a city.")])
    assert changed[0].description == "Today's weather in a city." and CountedArguments.built == before + 2


def test_a_definitions_tokens_are_counted_once_per_counter_not_on_every_turn() -> None:
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return len(text) // 4

    offered = definitions([WeatherTool("The weather in a city, counted.")])
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="Grüß dich"),
    ]
    for _turn in range(2):
        fitted = fit_tool_round(messages, [], offered, context_window=4096, answer_reserve=256, count=count)
        assert fitted.tools == offered
    assert sum("counted." in text for text in counted) == 1
    # The turn's own messages are counted on each turn; ASCII text only needed its bound here.
    assert counted.count("Grüß dich") == 2
    assert "Be brief." not in counted


class CountingModel(QueueModel):
    def __init__(self) -> None:
        super().__init__(name="hosted-fake", kind="hosted")
        self.counted: list[str] = []

    def count_tokens(self, text: str) -> int:
        self.counted.append(text)
        return len(text) // 4


def test_a_model_wrapped_anew_on_every_turn_counts_a_definition_once() -> None:
    model = CountingModel()
    offered = definitions([WeatherTool("The weather in a city, wrapped.")])
    messages = [ChatMessage(role="user", content="Grüß dich")]
    for _turn in range(2):
        wrapped = ModelWrapper(model)  # as each attempt wraps its model anew (TimedModel)
        count = wrapped.count_tokens
        fit_tool_round(messages, [], offered, context_window=4096, answer_reserve=256, count=count)
    assert sum("wrapped." in text for text in model.counted) == 1
    assert model.counted.count("Grüß dich") == 2
