"""The request body of `POST /v1/chat/completions`, validated; unknown OpenAI fields are ignored.

Only text content is accepted (strings, or `text` parts). The last message must be the user's:
it is the turn; the messages before it are the history, and every one of them passes the gate.
Confidante's own options travel in the extension field `confidante`.

Caller-defined tools (`tools`, `functions`, a `tool_choice` naming one, `tool`/`function`
messages) are refused with a 400 before validation (`unsupported_tools`): see that function.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.base import ChatMessage

MODEL_ROUTED = "confidante"
MODEL_LOCAL = "confidante-local"
MODELS = (MODEL_ROUTED, MODEL_LOCAL)
# Roles the pipeline understands; OpenAI's "developer" is a system message by another name.
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


TOOLS_REFUSED = (
    "Caller-defined tools are not supported by this API: Confidante runs its own governed tools "
    "on the server (their calls and results pass the privacy gate and the audit trail). Send the "
    "request without 'tools', 'functions', 'tool_choice' and tool messages."
)


def unsupported_tools(payload: dict[str, object]) -> str | None:
    """The field that asks for caller-run tools, or None.

    Refused rather than passed through: a caller's tool definitions and tool results are text
    for the model that this API cannot attribute or tier the way it tiers messages, and tool-call
    arguments written from pseudonymized text would come back with placeholders in machine-read
    JSON. Empty lists and `tool_choice: "none"` ask for nothing and are accepted.
    """
    for field in ("tools", "functions"):
        if payload.get(field):
            return field
    if payload.get("tool_choice") not in (None, "none", "auto") or payload.get("function_call") not in (
        None,
        "none",
        "auto",
    ):
        return "tool_choice"
    messages = payload.get("messages")
    if isinstance(messages, list):
        for index, message in enumerate(messages):
            if isinstance(message, dict) and (
                message.get("role") in ("tool", "function") or message.get("tool_calls")
            ):
                return f"messages.{index}"
    return None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ApiMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content)

    @field_validator("content")
    @classmethod
    def _text_only(cls, content: str | list[ContentPart] | None) -> str | list[ContentPart] | None:
        if isinstance(content, list) and any(part.type != "text" for part in content):
            raise ValueError("only text content parts are supported")
        return content

    def as_chat_message(self) -> ChatMessage:
        return ChatMessage(role=_ROLES[self.role], content=self.text())  # type: ignore[arg-type]


class ConfidanteOptions(BaseModel):
    """The extension field: ground the answer in the knowledge base (needs the `knowledge` scope)."""

    model_config = ConfigDict(extra="forbid")

    use_documents: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ApiMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, object] | None = None
    n: int = Field(default=1, ge=1, le=1)
    confidante: ConfidanteOptions = Field(default_factory=ConfidanteOptions)

    @model_validator(mode="after")
    def _ends_with_the_user(self) -> ChatCompletionRequest:
        if self.messages[-1].role != "user" or not self.messages[-1].text().strip():
            raise ValueError("the last message must be a non-empty user message")
        return self

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))
