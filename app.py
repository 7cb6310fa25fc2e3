"""Chainlit callbacks for Confidante. Thin by design: each callback hands the UI event to a
service built once by `assistant.services.build_services`; nothing is loaded at import time."""

from __future__ import annotations

import chainlit as cl

from assistant.chat_app import ChatApp

chat_app = ChatApp()


@cl.on_app_startup
async def on_app_startup() -> None:
    await chat_app.startup()


@cl.on_app_shutdown
async def on_app_shutdown() -> None:
    await chat_app.shutdown()


@cl.set_starters
async def set_starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return chat_app.starters()


@cl.on_chat_start
async def on_chat_start() -> None:
    await chat_app.on_chat_start()


@cl.on_chat_resume
async def on_chat_resume(thread: cl.types.ThreadDict) -> None:
    await chat_app.on_chat_resume(thread)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    await chat_app.on_message(message)


@cl.on_stop
async def on_stop() -> None:
    await chat_app.on_stop()
