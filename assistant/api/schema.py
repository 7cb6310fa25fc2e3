"""The request body of `POST /v1/chat/completions`, validated; unknown OpenAI fields are ignored.

Only text content is accepted (strings, or `text` parts). The last message must be the user's:
it is the turn; the messages before it are the history, and every one of them passes the gate.
Confidante's own options travel in the extension field `confidante`.
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
        if getattr(self, "tools", None) or getattr(self, "functions", None):
            raise ValueError("tool calling is not available through this API yet")
        return self

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))
