"""The typed shape of an experiment and its variants (what admins define, what a turn gets).

A `Variant` holds only answer-shaping settings: for chat and document Q&A the prompt, the preferred
answer model, retrieval k and reranking; for summaries the map prompt and the batch size; for tools
on/off and the step limit. Each capability accepts only its own fields. There is no field for
anything routing decides (tier, route, policy, pseudonymization, which tools a user may call), and
unknown fields are refused, so a variant can never carry a privacy decision into a turn.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assistant.experiments.prompts import DEFAULT_TEMPLATE, MAP_PROMPTS, PROMPT_TEMPLATES

Capability = Literal["chat", "document_qa", "summaries", "tools"]
Status = Literal["running", "stopped"]
CAPABILITIES: tuple[Capability, ...] = ("chat", "document_qa", "summaries", "tools")
SLUG = r"^[a-z0-9][a-z0-9_-]{0,39}$"


class Variant(BaseModel):
    """One arm of an experiment: how its turns are answered, and its share of the users."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=SLUG)
    share: float = Field(gt=0.0, le=1.0)
    prompt_template: str = "chat-v1"
    # A preference among the models the turn's route already allows (the answering role);
    # a model the route does not allow is simply not in the chain to prefer.
    answer_model: str | None = Field(default=None, max_length=200)
    retrieval_k: int | None = Field(default=None, ge=1, le=20)
    rerank: bool | None = None
    # Summaries: the map step's prompt version, and how many tokens of same-tier text share one map
    # step (batching never mixes tiers: each step is still routed by its own pages' tier).
    map_prompt: str | None = None
    batch_map_tokens: int | None = Field(default=None, ge=0, le=4000)
    # Tools: off, or a step limit, which can only lower the admin's `tools.max_steps`. Which tools a
    # user may call and where their arguments may go stay the registry's and the policy's decision.
    tools: bool | None = None
    tool_max_steps: int | None = Field(default=None, ge=1, le=10)

    @field_validator("prompt_template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in PROMPT_TEMPLATES:
            raise ValueError(f"unknown prompt template {value!r} (known: {', '.join(PROMPT_TEMPLATES)})")
        return value

    @field_validator("map_prompt")
    @classmethod
    def _known_map_prompt(cls, value: str | None) -> str | None:
        if value is not None and value not in MAP_PROMPTS:
            raise ValueError(f"unknown map prompt {value!r} (known: {', '.join(MAP_PROMPTS)})")
        return value

    def settings_for(self) -> dict[Capability, tuple[str, ...]]:
        """The fields this variant sets, by the capability they belong to."""
        answer = [
            name
            for name, value in (
                ("prompt", self.prompt_template != DEFAULT_TEMPLATE),
                ("model", self.answer_model),
                ("k", self.retrieval_k is not None),
                ("rerank", self.rerank is not None),
            )
            if value
        ]
        summaries = [
            n for n, v in (("map", self.map_prompt), ("batch", self.batch_map_tokens)) if v is not None
        ]
        tools = [n for n, v in (("tools", self.tools), ("steps", self.tool_max_steps)) if v is not None]
        return {"chat": tuple(answer), "summaries": tuple(summaries), "tools": tuple(tools)}


# Which settings each capability's variants may set (`Variant.settings_for` groups).
_ACCEPTS: dict[Capability, frozenset[str]] = {
    "chat": frozenset({"chat"}),
    "document_qa": frozenset({"chat"}),
    "summaries": frozenset({"summaries"}),
    "tools": frozenset({"tools"}),
}


class ExperimentSpec(BaseModel):
    """What an admin asks for: a capability, two or more variants whose shares add up to 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=SLUG)
    capability: Capability
    variants: tuple[Variant, ...] = Field(min_length=2, max_length=6)
    description: str = Field(default="", max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if not math.isclose(sum(v.share for v in self.variants), 1.0, abs_tol=1e-6):
            raise ValueError("variant shares must add up to 1")
        self._check_settings()
        return self

    def _check_settings(self) -> None:
        """A new experiment's variants set only what its capability uses."""
        for variant in self.variants:
            for group, keys in variant.settings_for().items():
                if keys and group not in _ACCEPTS[self.capability]:
                    raise ValueError(
                        f"variant {variant.name!r} sets {', '.join(keys)}, which a "
                        f"{self.capability.replace('_', ' ')} experiment does not use"
                    )


class Experiment(ExperimentSpec):
    """A stored experiment with its lifecycle."""

    status: Status = "running"
    created_by: str = ""
    created_at: datetime
    stopped_at: datetime | None = None

    def _check_settings(self) -> None:
        """Stored experiments load as they were defined (older ones may carry a setting their
        capability ignores; nothing applies it)."""

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(name)


class TurnVariant(BaseModel):
    """The variant one turn runs under (chosen once, at the start of the turn)."""

    model_config = ConfigDict(frozen=True)

    experiment_id: str
    variant: Variant

    @property
    def label(self) -> str:
        """`experiment/variant`: how the audit trail and the turn record name it."""
        return f"{self.experiment_id}/{self.variant.name}"


def parse_label(label: str) -> tuple[str, str]:
    experiment_id, _, variant = label.partition("/")
    return experiment_id, variant


VARIANT_KEYS = {
    "prompt": "prompt_template",
    "k": "retrieval_k",
    "rerank": "rerank",
    "model": "answer_model",
    "map": "map_prompt",
    "batch": "batch_map_tokens",
    "tools": "tools",
    "steps": "tool_max_steps",
}
SWITCHES = frozenset({"rerank", "tools"})


def parse_variant(text: str) -> dict[str, Any]:
    """`NAME:SHARE[:key=value,...]` → the fields of a `Variant` (which then validates them).

    Keys: prompt (a template version), k (retrieval), rerank (on/off), model (preferred answer
    model) for chat and document Q&A; map (a map prompt version) and batch (tokens per map step)
    for summaries; tools (on/off) and steps (at most this many tool rounds) for tools.
    """
    name, _, rest = text.strip().partition(":")
    share, _, options = rest.partition(":")
    fields: dict[str, Any] = {"name": name, "share": share}
    for option in filter(None, (o.strip() for o in options.split(","))):
        key, _, value = option.partition("=")
        if key not in VARIANT_KEYS:
            raise ValueError(f"unknown variant setting {key!r} (known: {', '.join(VARIANT_KEYS)})")
        fields[VARIANT_KEYS[key]] = {"on": True, "off": False}.get(value, value) if key in SWITCHES else value
    return fields
