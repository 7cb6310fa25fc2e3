"""The Chainlit-facing application object: what each callback in `app.py` does.

Holds the services built at start-up and one `Conversation` per chat session. A resumed chat
gets its history back and its taint recomputed by the gate from that history, so a chat that
once carried regulated content stays local after a restart too.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping
from typing import Any

import chainlit as cl

from assistant.chat_ui import render_turn
from assistant.identity import LOCAL_OPERATOR, Principal
from assistant.services import Services, build_services
from assistant.settings import SettingsError, load_settings
from assistant.turns import Conversation
from models.base import ChatMessage
from routing.tiers import highest

log = logging.getLogger(__name__)

STARTERS = [
    ("What can you do?", "What can you help me with, and what happens to my data?"),
    ("Summarize a document", "How do I upload a document and get a summary with citations?"),
    ("Policy question", "What does our handbook say about remote work?"),
    ("Draft an e-mail", "Draft a short, friendly e-mail asking a colleague for a meeting next week."),
]


class ChatApp:
    def __init__(self) -> None:
        self._services: Services | None = None
        self._lock = asyncio.Lock()

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not started")
        return self._services

    async def startup(self) -> None:
        async with self._lock:
            if self._services is not None:
                return
            try:
                settings = load_settings()
            except SettingsError as exc:
                print(f"confidante: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
            logging.basicConfig(level=getattr(logging, settings.logging.level))
            self._services = await asyncio.to_thread(build_services, settings)
            local = self._services.models.local
            warm = getattr(local, "wait_ready", None)
            if warm is not None:
                await asyncio.to_thread(warm)

    async def shutdown(self) -> None:
        if self._services is not None:
            self._services.close()

    def starters(self) -> list[cl.Starter]:
        return [cl.Starter(label=label, message=message) for label, message in STARTERS]

    def _principal(self) -> Principal:
        user = cl.user_session.get("user")
        if user is None:
            return LOCAL_OPERATOR
        meta: dict[str, Any] = dict(user.metadata or {})
        return Principal(
            user_id=user.identifier,
            groups=frozenset(meta.get("groups", [])),
            role="admin" if meta.get("role") == "admin" else "user",
            display_name=user.display_name,
        )

    def _conversation(self) -> Conversation:
        conversation = cl.user_session.get("conversation")
        if conversation is None:
            thread_id = cl.context.session.thread_id
            conversation = Conversation(id=thread_id, principal=self._principal())
            cl.user_session.set("conversation", conversation)
        return conversation

    async def on_chat_start(self) -> None:
        await self.startup()
        self._conversation()

    async def on_chat_resume(self, thread: Mapping[str, Any]) -> None:
        await self.startup()
        conversation = Conversation(id=thread["id"], principal=self._principal())
        for step in thread.get("steps", []):
            role = {"user_message": "user", "assistant_message": "assistant"}.get(step.get("type", ""))
            text = step.get("output") or ""
            if role and text:
                conversation.history.append(ChatMessage(role=role, content=text))  # type: ignore[arg-type]
        # Never trust stored metadata for taint: recompute it from what the chat actually said.
        privacy = self.services.privacy
        for message in conversation.history:
            if message.role == "user":
                conversation.tier = highest(
                    conversation.tier, privacy.assess(message.content, source="history").tier
                )
        cl.user_session.set("conversation", conversation)

    async def on_message(self, message: cl.Message) -> None:
        await self.startup()
        await render_turn(self._conversation(), message.content, self.services.pipeline)

    async def on_stop(self) -> None:
        log.info("user stopped generation")
