"""While a turn waits for the private model, tell the user their place in line and about how long.

One short message ("You're 3rd in line for the private model, about 40 s.") appears when the
user's request starts waiting in the fair queue (`models/local_queue.py`), is updated as the line
moves, and is removed once generation starts or the turn ends. Places are per user: a second tab
of the same user waiting at the same time shows the same line.

It only reads the queue: it never reorders, refuses or cancels anything, and a failure here must
never break the turn it accompanies (it is logged and the turn goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import chainlit as cl

from assistant.turns import Conversation
from models.local_queue import FairQueue, QueuePlace, queue_of

log = logging.getLogger(__name__)

QUEUE_AUTHOR = "Queue"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def about(seconds: float) -> str:
    if seconds < 5:
        return "a few seconds"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5} s"
    return f"about {round(seconds / 60)} min"


def place_text(place: QueuePlace) -> str:
    """The sentence a waiting user sees; the estimate comes from measured answer times."""
    where = "next" if place.position == 1 else f"{ordinal(place.position)} in line"
    return f"The private model is answering others first: you're {where}, {about(place.wait_s)}."


def local_queue(pipeline: object) -> FairQueue[object] | None:
    """The fair queue in front of the pipeline's private model, if it has one."""
    models = getattr(pipeline, "models", None)
    return queue_of(getattr(models, "local", None))


@contextlib.asynccontextmanager
async def queue_place_shown(pipeline: object, requester: str) -> AsyncIterator[None]:
    """Show the requester's place while the block runs (a turn); remove it at the end."""
    queue = local_queue(pipeline)
    if queue is None:
        yield
        return
    shower = asyncio.create_task(_show_places(queue, requester))
    try:
        yield
    finally:
        shower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await shower


async def _show_places(queue: FairQueue[object], requester: str) -> None:
    message: cl.Message | None = None
    try:
        async for place in queue.places(requester):
            message = await _render(message, place)
    except asyncio.CancelledError:
        raise
    except Exception:  # showing the line must never break the turn
        log.exception("could not show the queue place")
    finally:
        if message is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(message.remove())


async def _render(message: cl.Message | None, place: QueuePlace | None) -> cl.Message | None:
    """Send, update or remove the one place message; returns the message still shown."""
    if place is None:
        if message is not None:
            await message.remove()
        return None
    if message is None:
        message = cl.Message(content=place_text(place), author=QUEUE_AUTHOR)
        await message.send()
    else:
        message.content = place_text(place)
        await message.update()
    return message


async def run_showing_place(pipeline: object, conversation: Conversation, text: str) -> AsyncIterator[object]:
    """`pipeline.run(conversation, text)`, with the user's place in line shown while it waits."""
    async with queue_place_shown(pipeline, conversation.principal.user_id):
        async for event in pipeline.run(conversation, text):  # type: ignore[attr-defined]
            yield event
