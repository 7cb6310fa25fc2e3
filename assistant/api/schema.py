"""The request body of `POST /v1/chat/completions`, validated; unknown OpenAI fields are ignored.

Only text content is accepted (strings, or `text` parts). The last message must be the user's:
it is the turn; the messages before it are the history, and every one of them passes the gate.
Confidante's own options travel in the extension field `confidante`.

Caller-defined tools (`tools`, `functions`, a `tool_choice` naming one, `tool`/`function`
messages) are refused with a 400 before validation (`unsupported_tools`): see that function.
So are the other OpenAI options whose silent omission would hand the client an answer it did
not ask for (`UNSERVED`: n > 1, `stop`, `logprobs`, `response_format` other than text...), each
with the reason. Sampling hints (`temperature`, `top_p`, penalties, `seed`) and bookkeeping
(`user`, `metadata`, `store`...) are range-checked where OpenAI does and otherwise ignored: the
answer is still one the client can use, and the serving model is not the caller's to tune.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from assistant.api.errors import ApiError, unsupported
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


@dataclass(frozen=True)
class Unserved:
    """An OpenAI option this API does not serve: `asks_nothing` holds for the values that ask for
    no more than the default (those pass), and `why` is the refusal's message for the others."""

    param: str
    asks_nothing: Callable[[object], bool]
    why: str


def _more_than_one(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 1


UNSERVED = (
    Unserved(
        "n", lambda v: not _more_than_one(v),
        "One answer per request: each answer is a governed turn (gated, routed, charged and audited "
        "on its own). Send n=1 and repeat the request for more.",
    ),
    Unserved(
        "stop", lambda v: not v,
        "Stop sequences are not supported: the answer may be pseudonymized on the wire and restored "
        "afterwards, so a sequence cannot be matched where the model writes. Cut the answer yourself.",
    ),
    Unserved(
        "logprobs", lambda v: not v,
        "Log probabilities are not returned: they would describe the pseudonymized text a hosted "
        "model saw, not the answer you get.",
    ),
    Unserved("top_logprobs", lambda v: not v, "Log probabilities are not returned (see 'logprobs')."),
    Unserved(
        "response_format", lambda v: v is None or (isinstance(v, dict) and v.get("type") == "text"),
        "Only text answers are served: JSON mode and structured outputs are not enforced on every "
        "route (the local model cannot), so an answer could not be promised to parse.",
    ),
    Unserved(
        "logit_bias", lambda v: not v,
        "Token biases are not supported: the serving model (and its vocabulary) is chosen after the "
        "privacy gate, so token ids cannot be known in advance.",
    ),
    Unserved("modalities", lambda v: v in (None, ["text"]), "Only text answers are served."),
    Unserved("audio", lambda v: v is None, "Audio output is not supported: only text answers are served."),
    Unserved("prediction", lambda v: v is None, "Predicted outputs are not supported."),
    Unserved(
        "web_search_options", lambda v: v is None,
        "Web search is not supported: a request's text never leaves for a search engine.",
    ),
)  # fmt: skip


def unserved_option(payload: dict[str, object]) -> ApiError | None:
    """The 400 for the first option asking for something this API does not serve, or None."""
    for option in UNSERVED:
        if not option.asks_nothing(payload.get(option.param)):
            return unsupported(option.why, option.param)
    if payload.get("stream_options") is not None and payload.get("stream") is not True:
        return ApiError(
            400, "The 'stream_options' parameter is only allowed when 'stream' is true.",
            code="invalid_value", param="stream_options",
        )  # fmt: skip
    return None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


def _is_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        if isinstance(content, list) and any(part.text is None for part in content):
            raise ValueError("a text content part needs its 'text'")
        texts = [content] if isinstance(content, str) else [p.text or "" for p in content or ()]
        if not all(_is_text(text) for text in texts):
            # JSON may escape a lone surrogate; no gate or model can read it (it was a 500).
            raise ValueError("the text is not valid Unicode (a lone surrogate)")
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
    # Strict: a string such as "false" must not quietly turn a whole answer into a stream.
    stream: StrictBool = False
    stream_options: dict[str, object] | None = None
    n: int = Field(default=1, ge=1, le=1)
    # Ignored sampling hints, checked as OpenAI checks them (NaN and infinities refused too).
    temperature: float | None = Field(default=None, ge=0, le=2, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2, allow_inf_nan=False)
    confidante: ConfidanteOptions = Field(default_factory=ConfidanteOptions)

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, payload: object) -> object:
        # OpenAI reads `"n": null`, `"stream": null`... as the field left out; clients that
        # serialize every option (not the official SDK) send them so.
        if isinstance(payload, dict):
            return {name: value for name, value in payload.items() if value is not None}
        return payload

    @field_validator("messages")
    @classmethod
    def _ends_with_the_user(cls, messages: list[ApiMessage]) -> list[ApiMessage]:
        # On the field, not the model: the 422 then names `messages` in `param`, as OpenAI does.
        if messages and (messages[-1].role != "user" or not messages[-1].text().strip()):
            raise ValueError("the last message must be a non-empty user message")
        return messages

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))
