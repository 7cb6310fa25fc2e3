"""Tool definitions as a model sees them are built once per spec, not on every turn: the schema
comes from pydantic, which builds it anew on every call (profiled in front of every API answer's
first byte, issue 15). Equal specs share a definition; a changed spec gets its own."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from assistant.tools.loop import definitions


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
