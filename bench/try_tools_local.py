"""By hand: does a local GGUF call the calculator for "What's 17.5 % of 2,380?" (issue 14)?

    .venv/bin/python bench/try_tools_local.py --model data/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

Runs the real tool loop (built-in tools, `auto` tool choice, temperature 0) on the in-process
llama.cpp model with `supports_tools` on, and prints each tool step, the answer, how the loop ended
and the wall time. The result classifier here calls everything public: this checks the model's
tool calling, not the privacy gate (tests/test_tool_*.py do that).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from assistant.tools.builtin import builtin_tools
from assistant.tools.loop import LoopFinished, LoopTurn, ToolFinished, ToolLimits, ToolLoop
from assistant.tools.registry import ToolRegistry
from assistant.tools.rounds import RoutedRound
from assistant.tools.runner import ToolRunner
from knowledge.access import Principal
from models.base import ChatMessage, TextDelta
from models.local import LocalModel
from models.settings import LocalModelSettings
from routing.decision import GateDecision
from routing.routed import ModelSet
from routing.tiers import Route, Tier


class EverythingPublic:
    def assess(self, text: str, *, source: str) -> GateDecision:
        return GateDecision(tier=Tier.PUBLIC, route=Route.HOSTED, rule="demo", reasons=(), policy_version="")


async def main(model_path: Path, question: str, profile: str) -> None:
    settings = LocalModelSettings(profile=profile, path=model_path, threads=1, supports_tools=True)  # type: ignore[arg-type]
    model = LocalModel(model_path, settings)
    registry = ToolRegistry(builtin_tools(knowledge=None, escalations=None, classifier=EverythingPublic()))
    loop = ToolLoop(registry, ToolRunner(registry, EverythingPublic()), ToolLimits(max_steps=3))
    messages = [
        ChatMessage(role="system", content="You are a helpful assistant."),
        ChatMessage(role="user", content=question),
    ]
    round_ = RoutedRound(ModelSet(local=model), messages, max_tokens=200, temperature=0.0)
    turn = LoopTurn(
        Principal(user_id="demo"),
        EverythingPublic().assess(question, source="message"),
        lambda _t: Route.LOCAL,
    )
    started, answer = time.monotonic(), []
    async for event in loop.run(turn, round_):
        if isinstance(event, TextDelta):
            answer.append(event.text)
        elif isinstance(event, ToolFinished):
            r = event.record
            print(f"step: {r.name}({r.arguments_shown}) -> {r.outcome}: {r.summary}")
        elif isinstance(event, LoopFinished):
            report = event.report
            print(f"loop: {report.termination} after {report.steps} tool round(s), {report.tokens} tokens")
    print(f"answer: {''.join(answer)!r}")
    print(f"wall time: {time.monotonic() - started:.1f} s")
    model.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--question", default="What's 17.5 % of 2,380?")
    args = parser.parse_args()
    asyncio.run(main(args.model, args.question, args.profile))
