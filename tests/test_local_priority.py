"""The shared local worker serves waiting interactive requests before waiting background ones."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from models.base import ChatMessage, ChatRequest, collect
from models.local import LocalModel
from models.settings import LocalModelSettings


class SlowFakeLlama:
    """Stands in for llama_cpp.Llama (logic only): answers with the request's own text, slowly."""

    def __init__(self) -> None:
        self.served: list[str] = []
        self.lock = threading.Lock()

    def tokenize(self, data: bytes, add_bos: bool = False, special: bool = False) -> list[int]:
        return list(range(len(data.split())))

    def create_chat_completion(self, messages: list[dict[str, Any]], **_: Any) -> Any:
        text = messages[-1]["content"]
        with self.lock:
            self.served.append(text)
        for word in ("working", "on", text):
            time.sleep(0.05)
            yield {"choices": [{"delta": {"content": word + " "}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


def request(text: str, *, background: bool) -> ChatRequest:
    return ChatRequest.of([ChatMessage(role="user", content=text)], max_tokens=8, background=background)


async def test_interactive_requests_overtake_waiting_background_work() -> None:
    fake = SlowFakeLlama()
    model = LocalModel(Path("unused.gguf"), LocalModelSettings(queue_size=8), loader=lambda: fake)
    model.wait_ready()
    try:
        first = asyncio.create_task(collect(model.stream(request("summary-1", background=True))))
        await asyncio.sleep(0.02)  # summary-1 is now being generated
        waiting = [
            asyncio.create_task(collect(model.stream(request("summary-2", background=True)))),
            asyncio.create_task(collect(model.stream(request("summary-3", background=True)))),
        ]
        await asyncio.sleep(0.02)
        chat = asyncio.create_task(collect(model.stream(request("chat", background=False))))
        await asyncio.gather(first, chat, *waiting)
        assert fake.served == ["summary-1", "chat", "summary-2", "summary-3"]
    finally:
        model.close()
