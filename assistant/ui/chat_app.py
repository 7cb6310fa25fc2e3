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
from typing import TYPE_CHECKING, Any

import chainlit as cl

from assistant.api.completions import ApiBackend
from assistant.api.limits import PromptWindow
from assistant.escalation_policy import ticket_detail
from assistant.executors import run_background, run_interactive, run_io
from assistant.identity import LOCAL_OPERATOR, Principal
from assistant.services import Services, build_services
from assistant.settings import Settings, SettingsError, load_settings
from assistant.titles import gated_titles
from assistant.tools.chat_turn import ChatTools
from assistant.tools.loop import definitions
from assistant.turns import Conversation
from assistant.ui.chat_render import FOOTER_SEPARATOR, render_turn
from assistant.ui.sources import question_of_turn
from knowledge.store import StoreInUse
from models.base import ChatMessage, ChatModel, ToolDefinition
from models.files import ModelFileError
from routing.tiers import Tier, highest
from routing.warmup import warm_tool_prefix

if TYPE_CHECKING:
    from assistant.governance.component import Governance

log = logging.getLogger(__name__)
STARTUP_ERRORS: tuple[type[Exception], ...] = (ModelFileError, StoreInUse, OSError)

STARTERS = [
    ("What can you do?", "What can you help me with, and what happens to my data?"),
    ("Summarize a document", "How do I upload a document and get a summary with citations?"),
    ("Policy question", "What does our handbook say about remote work?"),
    ("Draft an e-mail", "Draft a short, friendly e-mail asking a colleague for a meeting next week."),
]


def regulated_tools(tools: ChatTools | None, local: ChatModel) -> tuple[ToolDefinition, ...]:
    """The tool definitions a regulated turn offers `local` (a user of no group); none if it
    cannot call tools. The start-up warm-up reads them (tests/test_tool_prefix_warmup.py)."""
    if tools is None or not tools.supports(local):
        return ()
    return definitions(tools.catalog.offered_to(Principal(user_id="warm-up"), Tier.REGULATED))


class ChatApp:
    def __init__(self) -> None:
        self._services: Services | None = None
        self._settings: Settings | None = None
        self._governance: Governance | None = None
        self._data_layer: Any = None
        self._lock = asyncio.Lock()
        self._purge_task: asyncio.Task[None] | None = None
        self._uploads: Any = None
        self._job_events: Any = None
        self._api_backend: ApiBackend | None = None

    # -- before the server starts --------------------------------------------------------
    def install(self, server_app: Any) -> None:
        """Open the database and mount the governance routes and middleware.

        Routes and middleware must exist before the server starts, so this runs when Chainlit
        imports app.py; models and the knowledge base load later, at start-up.
        """
        from assistant.api.routes import api_app, mount_api
        from assistant.governance.component import build_governance
        from assistant.ui.console import mount_governance_routes
        from assistant.ui.first_run import mount_first_run
        from assistant.ui.security_headers import install_security, secure_api

        settings = self.settings
        self._governance = build_governance(settings.governance, settings.data_dir)
        mount_governance_routes(
            server_app,
            self._governance,
            allowed_origins=settings.server.allowed_origins,
            review=settings.review,
        )
        # First run: /setup creates the first admin from the link `confidante serve` printed.
        mount_first_run(server_app, self._governance.accounts, settings.data_dir)
        # Security headers (CSP: no external image can load) and the websocket Origin check.
        install_security(server_app, settings)
        # The OpenAI-compatible API for other apps: the same pipeline, behind API keys. Last, so
        # its requests are routed ahead of the chat's middleware (`ApiFirst`).
        mount_api(server_app, secure_api(api_app(self._governance, self.api_backend), settings))

    async def api_backend(self) -> ApiBackend:
        """What the API runs requests on: built once with the services (at start-up), then the
        same for every request (its windows come from the models, which never change)."""
        if self._api_backend is None:
            await self.startup()
            pipeline = self.services.pipeline
            window = PromptWindow.of(pipeline.models, self.settings)
            self._api_backend = ApiBackend(pipeline=pipeline, privacy=self.services.privacy, window=window)
        return self._api_backend

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                print(f"confidante: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
        return self._settings

    @property
    def governance(self) -> Governance:
        if self._governance is None:
            raise RuntimeError("governance is not installed")
        return self._governance

    def data_layer(self) -> Any:
        if self._data_layer is None:
            from assistant.ui.datalayer import data_layer_for

            self._data_layer = data_layer_for(self.governance)
            # Thread titles pass the gate: a regulated first message never reaches the sidebar.
            self._data_layer.title_for = lambda text: gated_titles(self.services.privacy)(text)
        return self._data_layer

    async def password_sign_in(self, username: str, password: str) -> cl.User | None:
        from assistant.ui.sign_in import password_sign_in

        # argon2 is deliberately slow: keep it off the event loop.
        return await run_interactive(password_sign_in, self.governance.accounts, username, password)

    async def oauth_sign_in(
        self, provider_id: str, token: str, raw_user_data: dict[str, str], default_user: cl.User
    ) -> cl.User | None:
        from assistant.ui.sign_in import oauth_sign_in

        sso = self.settings.governance.sso
        return await run_interactive(
            oauth_sign_in, self.governance.accounts, sso, provider_id, raw_user_data, default_user
        )

    async def header_sign_in(self, headers: Any) -> cl.User | None:
        from assistant.ui.sign_in import header_sign_in

        sso = self.settings.governance.sso
        return await run_interactive(header_sign_in, self.governance.accounts, sso, headers)

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services are not started")
        return self._services

    async def startup(self) -> None:
        async with self._lock:
            if self._services is not None:
                return
            from assistant.security.log_scrub import install_log_scrubbing

            settings = self.settings
            logging.basicConfig(level=getattr(logging, settings.logging.level))
            install_log_scrubbing(settings)
            try:
                self._services = await run_background(build_services, settings, governance=self._governance)
            except STARTUP_ERRORS as exc:
                # One clear line, no traceback: a missing model, a store owned by another process.
                print(f"confidante: cannot start: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
            await self._load_tool_catalog(self._services)
            local = self._services.models.local
            warm = getattr(local, "wait_ready", None)
            if warm is not None:
                await run_background(warm)
                self._warm_tool_prefix(local)
            if self._services.governance is not None:
                self._purge_task = self._services.governance.audit.start_purge_schedule()
                await self._start_uploads(self._services)

    def _warm_tool_prefix(self, local: Any) -> None:
        """The private model reads a regulated tool turn's opening (system prompt and tools) in the
        background, so tool turns do not read it again (issue 17, `routing.warmup.warm_tool_prefix`)."""
        assert self._services is not None
        offered = regulated_tools(self._services.pipeline.services.tools, local)
        warm_tool_prefix(local, self.settings.chat.system_prompt, offered)

    async def _load_tool_catalog(self, services: Services) -> None:
        """The admin's HTTP and MCP tools (issue 14); a malformed catalog stops start-up."""
        tools = services.pipeline.services.tools
        if tools is None:
            return
        from assistant.tools.catalog import CatalogError
        from assistant.tools.wiring import extend_with_catalog

        try:
            for problem in await extend_with_catalog(tools, self.settings):
                print(f"confidante: {problem}; its tools are not offered", file=sys.stderr)
        except CatalogError as exc:
            print(f"confidante: cannot start: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    async def _start_uploads(self, services: Services) -> None:
        """The summarization worker: jobs live in the database and outlive any browser session."""
        from assistant.services import build_uploads
        from assistant.ui.uploads import ChainlitJobEvents

        self._job_events = ChainlitJobEvents()
        # Built by the services factory: the one recorder, budgets checked and charged per summary.
        self._uploads = build_uploads(services, self._job_events)
        await self._uploads.start()

    async def shutdown(self) -> None:
        if self._uploads is not None:
            await self._uploads.stop()
        if self._purge_task is not None:
            self._purge_task.cancel()
        if self._services is not None:
            await self._services.aclose()

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

    def oauth_configured(self) -> bool:
        """Chainlit refuses an OAuth callback unless a provider is configured in the environment."""
        from chainlit.oauth_providers import get_configured_oauth_providers

        return bool(get_configured_oauth_providers())

    def header_auth_configured(self) -> bool:
        return bool(self.settings.governance.sso.trusted_header)

    async def on_chat_start(self) -> None:
        await self.startup()
        conversation = self._conversation()
        await self._send_chat_settings(conversation)

    async def _send_chat_settings(self, conversation: Conversation) -> None:
        from chainlit.input_widget import InputWidget, Switch

        switch = Switch(
            id="use_documents",
            label="Answer from company documents",
            initial=conversation.use_documents,
            description="Search the documents you may read and cite them; off for a general chat.",
        )
        widgets: list[InputWidget] = [switch]
        await cl.ChatSettings(widgets).send()

    async def on_settings_update(self, values: Mapping[str, Any]) -> None:
        conversation = self._conversation()
        conversation.use_documents = bool(values.get("use_documents", True))

    async def on_ask_a_person(self, action: cl.Action) -> None:
        conversation = self._conversation()
        governance = self.services.governance
        if governance is None:
            unavailable = "Hand-over to a person is not available here."
            await cl.Message(content=unavailable, author="Confidante").send()
            return
        reason = "low_confidence" if action.payload.get("reason") == "low_confidence" else "user_request"
        # The ticket shows the question, or only its tier when the chat is regulated (the tier is
        # the chat's own, sticky taint: never what the browser sent back).
        question = question_of_turn(conversation.history, action.payload.get("turn"))
        detail = ticket_detail(question, conversation.tier, "the user asked for a person")
        escalation = await run_io(
            governance.escalations.open,
            conversation.id,
            conversation.principal.user_id,
            reason,  # type: ignore[arg-type]
            detail,
        )
        await action.remove()
        await cl.Message(
            content=(
                f"I've passed your question to the support team (ticket {escalation.id[:8]}). "
                "A person will follow up with you; their reply does not appear in this chat."
            ),
            author="Confidante",
        ).send()

    async def on_chat_resume(self, thread: Mapping[str, Any]) -> None:
        await self.startup()
        conversation = Conversation(id=thread["id"], principal=self._principal())
        for step in thread.get("steps", []):
            role = {"user_message": "user", "assistant_message": "assistant"}.get(step.get("type", ""))
            # Drop the footer we add under answers (tier, model label): it is display, not content.
            text = (step.get("output") or "").split(FOOTER_SEPARATOR)[0].strip()
            if role and text:
                conversation.history.append(ChatMessage(role=role, content=text))  # type: ignore[arg-type]
        # Never trust stored metadata for taint: recompute it from everything the chat said, answers
        # included (an answer drawn from a regulated document is itself regulated).
        conversation.tier = await run_interactive(self._history_tier, conversation.history)
        cl.user_session.set("conversation", conversation)
        await self._send_chat_settings(conversation)
        if self._uploads is not None:
            from assistant.ui.uploads import reattach_jobs

            await reattach_jobs(
                owner=conversation.principal.user_id,
                thread_id=conversation.id,
                uploads=self._uploads,
                events=self._job_events,
            )

    def _history_tier(self, history: list[ChatMessage]) -> Tier:
        privacy = self.services.privacy
        return highest(*(privacy.assess(m.content, source="history").tier for m in history))

    async def on_message(self, message: cl.Message) -> None:
        await self.startup()
        conversation = self._conversation()
        if self._uploads is not None and message.elements:
            from assistant.ui.uploads import handle_uploads

            had_files = await handle_uploads(
                message,
                owner=conversation.principal.user_id,
                thread_id=conversation.id,
                uploads=self._uploads,
                events=self._job_events,
            )
            # A message with files is answered by the summary flow only: the chat model never
            # sees the file here, so anything it wrote would be an invented preview.
            if had_files:
                return
        await render_turn(conversation, message.content, self.services.pipeline)

    async def on_cancel_upload(self, action: cl.Action) -> None:
        from assistant.ui.uploads import on_cancel_action

        if self._uploads is not None:
            await on_cancel_action(
                action, owner=self._conversation().principal.user_id, uploads=self._uploads
            )

    async def on_stop(self) -> None:
        log.info("user stopped generation")

    async def on_chat_end(self) -> None:
        """The page went away: its running turn stops unless the page reconnects (see the module)."""
        from chainlit.session import WebsocketSession

        from assistant.ui.abandoned_turns import stop_when_abandoned

        if isinstance(cl.context.session, WebsocketSession):
            stop_when_abandoned(cl.context.session)
