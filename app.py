"""Chainlit callbacks for Confidante. Thin by design: each callback hands the UI event to
`assistant.ui.chat_app.ChatApp`. Importing this module (which Chainlit does once, before serving)
only opens the database and mounts routes; models load at start-up."""

from __future__ import annotations

from typing import Any

import chainlit as cl
from chainlit.server import app as server_app

from assistant.ui import profile_config
from assistant.ui.chat_app import ChatApp
from assistant.ui.chat_render import chat_profiles

chat_app = ChatApp()
chat_app.install(server_app)


@cl.data_layer
def data_layer() -> Any:
    return chat_app.data_layer()


@cl.password_auth_callback
async def password_auth(username: str, password: str) -> cl.User | None:
    return await chat_app.password_sign_in(username, password)


if chat_app.oauth_configured():

    @cl.oauth_callback
    async def oauth(
        provider_id: str, token: str, raw_user_data: dict[str, str], default_user: cl.User, *args: Any
    ) -> cl.User | None:
        return await chat_app.oauth_sign_in(provider_id, token, raw_user_data, default_user)


if chat_app.header_auth_configured():

    @cl.header_auth_callback
    async def header_auth(headers: Any) -> cl.User | None:
        return await chat_app.header_sign_in(headers)


@cl.on_app_startup
async def on_app_startup() -> None:
    # Chainlit resolves a named profile by re-entering the running loop; ours are static (issue 17).
    profile_config.install(chat_profiles)
    await chat_app.startup()


@cl.on_app_shutdown
async def on_app_shutdown() -> None:
    await chat_app.shutdown()


@cl.set_chat_profiles
async def set_chat_profiles(user: cl.User | None = None, language: str | None = None) -> list[cl.ChatProfile]:
    # One profile: Chainlit then shows its description (what happens to your data) on the welcome
    # screen and hides the profile picker.
    return chat_profiles()


@cl.set_starters
async def set_starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    return chat_app.starters()


@cl.on_chat_start
async def on_chat_start() -> None:
    await chat_app.on_chat_start()


@cl.on_chat_resume
async def on_chat_resume(thread: cl.types.ThreadDict) -> None:
    await chat_app.on_chat_resume(thread)


@cl.on_settings_update
async def on_settings_update(values: dict[str, Any]) -> None:
    await chat_app.on_settings_update(values)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    await chat_app.on_message(message)


@cl.action_callback("ask_a_person")
async def ask_a_person(action: cl.Action) -> None:
    await chat_app.on_ask_a_person(action)


@cl.action_callback("cancel_upload_job")
async def cancel_upload(action: cl.Action) -> None:
    await chat_app.on_cancel_upload(action)


@cl.on_stop
async def on_stop() -> None:
    await chat_app.on_stop()


@cl.on_chat_end
async def on_chat_end() -> None:
    await chat_app.on_chat_end()
