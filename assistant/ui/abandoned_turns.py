"""Stop the running turn of a chat whose page went away (closed tab, lost connection).

Chainlit cancels a session's task on the Stop button, but not when its websocket disconnects: it
keeps the session for a reconnect and lets the task run on. A closed tab's turn then went on
generating to its last token, holding the one local model worker (and a hosted stream, and any
thread it was waiting on) while other users waited behind it (issue 17). So when a chat ends we
wait a short grace for the page to come back (Socket.IO reconnects a dropped connection to the same
session within seconds), then cancel the session's task: the pipeline records the turn as
cancelled and the models stop exactly as for Stop.

This must never cancel the task of a session that reconnected, nor any task but the one that was
running when the page went away.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

# Socket.IO's client retries after 1 s, backing off to 5 s: two tries fit in this grace.
RECONNECT_GRACE_S = 10.0


class ChatSession(Protocol):
    """What we read of Chainlit's `WebsocketSession`."""

    socket_id: str
    current_task: asyncio.Task[Any] | None


def stop_when_abandoned(
    session: ChatSession, *, grace_s: float = RECONNECT_GRACE_S
) -> asyncio.TimerHandle | None:
    """Cancel the session's running task after `grace_s`, unless the page reconnected by then."""
    task = session.current_task
    if task is None or task.done():
        return None
    return asyncio.get_running_loop().call_later(grace_s, stop_if_gone, session, session.socket_id, task)


def stop_if_gone(session: ChatSession, socket_id: str, task: asyncio.Task[Any]) -> bool:
    """Cancel `task` if the session is still on the socket that went away and still runs it."""
    if session.socket_id != socket_id or session.current_task is not task or task.done():
        return False
    task.cancel()
    return True
