"""A signed-in user of the running app, over plain HTTP and Chainlit's Socket.IO websocket.

`AppUser` is what an attacker with a valid account has: their own session cookie, an HTTP client
and a Socket.IO client speaking exactly what Chainlit's frontend speaks (the `auth` payload with
`sessionId`, `threadId`, `clientType`; then `connection_successful`, `client_message`). It records
every event the server sends to its socket, so a test can check what a user was (not) shown.
It only talks to the loopback app server it was given.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import socketio

SOCKET_PATH = "/ws/socket.io"
CHAT_PROFILE = "Confidante"


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class SocketSession:
    """One Socket.IO connection and the events the server sent to it, in order."""

    client: socketio.Client
    session_id: str
    events: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event: str, data: Any) -> None:
        with self._lock:
            self.events.append((event, data))

    def named(self, event: str) -> list[Any]:
        with self._lock:
            return [data for name, data in self.events if name == event]

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}; events: {self.names()}")

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.events]

    def steps(self) -> list[dict[str, Any]]:
        """Every step the server showed this socket (new or updated), latest version per id."""
        latest: dict[str, dict[str, Any]] = {}
        for name in ("new_message", "update_message"):
            for step in self.named(name):
                if isinstance(step, dict) and "id" in step:
                    latest[step["id"]] = {**latest.get(step["id"], {}), **step}
        return list(latest.values())

    def text(self) -> str:
        """Everything this socket was shown, as one string (for "never saw X" checks)."""
        with self._lock:
            return repr(self.events)

    def send_message(self, text: str, *, files: list[dict[str, Any]] | None = None) -> str:
        step_id = new_id()
        step = {
            "id": step_id,
            "threadId": "",
            "name": "User",
            "type": "user_message",
            "output": text,
            "createdAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        self.client.emit("client_message", {"message": step, "fileReferences": files or []})
        return step_id

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


class AppUser:
    """A signed-in account: `http` carries its session cookie; `connect()` opens a websocket."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.http = httpx.Client(base_url=base_url, timeout=30.0, headers={"Origin": base_url})
        response = self.http.post("/login", data={"username": username, "password": password})
        response.raise_for_status()
        self.sockets: list[SocketSession] = []

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    def connect(self, *, session_id: str | None = None, thread_id: str | None = None) -> SocketSession:
        """Connect as Chainlit's frontend does; raises socketio.exceptions.ConnectionError if refused."""
        client = socketio.Client(reconnection=False)
        session = SocketSession(client=client, session_id=session_id or new_id())
        client.on("*", session.record)
        auth = {
            "sessionId": session.session_id,
            "clientType": "webapp",
            "userEnv": "{}",
            "chatProfile": CHAT_PROFILE,
            "threadId": thread_id,
        }
        # websocket-client sends Origin: http://127.0.0.1:<port> itself (a second one is refused).
        headers = {"Cookie": self.cookie_header()}
        client.connect(
            self.base_url,
            headers=headers,
            auth=auth,
            transports=["websocket"],
            socketio_path=SOCKET_PATH,
            wait_timeout=15,
        )
        self.sockets.append(session)
        client.emit("connection_successful")
        return session

    def upload(self, session: SocketSession, name: str, content: bytes, mime: str) -> httpx.Response:
        return self.http.post(
            "/project/file", params={"session_id": session.session_id}, files={"file": (name, content, mime)}
        )

    def thread(self, thread_id: str) -> httpx.Response:
        return self.http.get(f"/project/thread/{thread_id}")

    def close(self) -> None:
        for session in self.sockets:
            session.close()
        self.http.close()
