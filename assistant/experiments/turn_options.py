"""How a chosen variant shapes one turn, in the pipeline's terms: the system prompt, retrieval
k and reranking, the order of the models the route already allows, and which tools variant the
turn runs under (recorded with it; `ExperimentTools` applies it).

`prefer_model` only reorders: it never adds a model to a route's chain, so a variant naming a
hosted model still gets the guarded local model alone on a regulated (local-only) turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from assistant.experiments.models import Capability, TurnVariant
from assistant.experiments.prompts import system_prompt
from assistant.experiments.tools_variant import ExperimentTools
from knowledge.access import Principal

T = TypeVar("T")


def capability_of(intent_kind: str, *, use_documents: bool) -> Capability:
    """A company question with documents on is document Q&A; everything else is chat."""
    return "document_qa" if use_documents and intent_kind == "company" else "chat"


def variant_system_prompt(variant: TurnVariant | None, base: str) -> str:
    return base if variant is None else system_prompt(variant.variant.prompt_template, base)


def retrieval_k(variant: TurnVariant | None, default: int) -> int:
    if variant is None or variant.variant.retrieval_k is None:
        return default
    return variant.variant.retrieval_k


def search_options(variant: TurnVariant | None) -> dict[str, bool]:
    """Keyword arguments for `Knowledge.search`: reranking only when the variant sets it."""
    if variant is None or variant.variant.rerank is None:
        return {}
    return {"rerank": variant.variant.rerank}


def prefer_model(chain: Sequence[T], variant: TurnVariant | None, name_of: Callable[[T], str]) -> list[T]:
    """`chain` with the variant's answer model first, if (and only if) it is already in it."""
    wanted = None if variant is None else variant.variant.answer_model
    items = list(chain)
    if not wanted:
        return items
    first = [c for c in items if name_of(c) == wanted]
    return first + [c for c in items if name_of(c) != wanted]


def prompt_version(variant: TurnVariant | None, default: str) -> str:
    """The prompt part of a cache key: a variant's answers are never served to another variant."""
    if variant is None:
        return default
    return f"{variant.variant.prompt_template}@{variant.label}"


def tools_sharing_the_store(tools: object, experiments: object) -> ExperimentTools | None:
    """The app's tools when their tools variant comes from the same experiment store as the turn's
    own variant: then one query can answer both (`ExperimentStore.variants_for`)."""
    if isinstance(tools, ExperimentTools) and tools.experiments is experiments and not tools.resolved:
        return tools
    return None


def tools_for_turn(tools: T, principal: Principal) -> T:
    """The app's tools for one turn: under a tools experiment, with the user's variant looked up
    once for the whole turn (the loop's checks and the turn's record read that one)."""
    return tools.for_turn(principal) if isinstance(tools, ExperimentTools) else tools  # type: ignore[return-value]


def tools_variant(tools: object, principal: Principal) -> TurnVariant | None:
    """The user's variant of the running tools experiment, when the app's tools apply one."""
    return tools.variant(principal) if isinstance(tools, ExperimentTools) else None
