"""A chat client that speaks the Chainlit frontend's protocol: sign in over HTTP, then Socket.IO.

Used by the connection-burst test and `bench/bench_load.py`: it signs in with the real login form
route, connects to `/ws/socket.io` with the same `auth` payload the browser sends (session id,
client type, and the chat profile the frontend names), sends a message as `client_message` and
times the first streamed token and the end of the task. It only ever talks to the loopback server
it is given.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio

_EVENTS = (
    "task_start",
    "stream_start",
    "stream_token",
    "new_message",
    "update_message",
    "task_end",
    "chat_settings",
)
# What the frontend names on connect: the one profile `assistant/ui/chat_render.py` declares.
CHAT_PROFILE = "Confidante"


async def sign_in(base_url: str, username: str, password: str) -> str:
    """The access-token cookie Chainlit sets for a password sign-in."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0) as client:
        response = await client.post("/login", data={"username": username, "password": password})
        response.raise_for_status()
        token = response.cookies.get("access_token") or response.json().get("access_token")
    if not token:
        raise RuntimeError("sign-in returned no access token")
    return str(token)


@dataclass
class TurnTiming:
    ttft_s: float | None
    total_s: float
    text: str


@dataclass
class ChatSocket:
    """One browser tab's worth of chat session over Socket.IO."""

    base_url: str
    token: str
    chat_profile: str | None = CHAT_PROFILE
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thread_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _client: socketio.AsyncClient = field(init=False)
    _events: asyncio.Queue[tuple[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self._client = socketio.AsyncClient(reconnection=False)
        self._events = asyncio.Queue()
        for event in _EVENTS:
            self._client.on(event, self._recorder(event))

    def _recorder(self, event: str) -> Any:
        async def record(data: Any = None, *_: Any) -> None:
            self._events.put_nowait((event, data))

        return record

    async def connect(self, timeout_s: float = 60.0) -> None:
        auth: dict[str, Any] = {
            "clientType": "webapp",
            "sessionId": self.session_id,
            "threadId": self.thread_id,
            "userEnv": "{}",
        }
        if self.chat_profile:
            auth["chatProfile"] = self.chat_profile
        await self._client.connect(
            self.base_url,
            socketio_path="/ws/socket.io",
            transports=["websocket"],
            headers={"Cookie": f"access_token={self.token}", "Origin": self.base_url},
            auth=auth,
            wait_timeout=timeout_s,
        )
        await self._client.emit("connection_successful")
        # The app's chat start ends by sending the chat settings: the chat is live from then on.
        await self._until("chat_settings", timeout_s)

    async def _until(self, wanted: str, timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while True:
            event, _ = await asyncio.wait_for(self._events.get(), max(0.1, deadline - time.perf_counter()))
            if event == wanted:
                return

    async def ask(self, text: str, timeout_s: float = 120.0) -> TurnTiming:
        """Send `text` and wait for the task to end; the first token's and the end's delay."""
        await self._settle()
        started = time.perf_counter()
        await self._client.emit("client_message", {"message": self._message(text), "fileReferences": []})
        first: float | None = None
        tokens: list[str] = []
        deadline = started + timeout_s
        running = False  # events before our message's task_start belong to the chat start
        while True:
            event, data = await asyncio.wait_for(self._events.get(), max(0.1, deadline - time.perf_counter()))
            if event == "task_start":
                running = True
            elif running and event == "stream_token" and isinstance(data, dict):
                first = first if first is not None else time.perf_counter() - started
                tokens.append(str(data.get("token", "")))
            elif running and event == "task_end":
                return TurnTiming(first, time.perf_counter() - started, "".join(tokens))

    async def _settle(self) -> None:
        """Drop what the chat start sent (welcome, task_end of on_chat_start)."""
        await asyncio.sleep(0)
        while not self._events.empty():
            self._events.get_nowait()

    def _message(self, text: str) -> dict[str, Any]:
        return {
            "threadId": self.thread_id,
            "id": str(uuid.uuid4()),
            "name": "User",
            "type": "user_message",
            "output": text,
            "createdAt": datetime.now(UTC).isoformat(),
        }

    async def close(self) -> None:
        await self._client.disconnect()
