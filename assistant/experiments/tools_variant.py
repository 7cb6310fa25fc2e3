"""Tools under an experiment: a tools variant switches tools off for a user's turns, or lowers the
step limit of their tool loop, and the tool audit records of those turns name the variant.

`ExperimentTools` is the app's `ChatTools` with the running tools experiment applied per user (the
same sticky hash as every experiment; `ExperimentRecorder` counts the turn for the same variant).
It can only withhold: it never offers a tool the registry would not, never raises a limit, and
never touches the turn's decision, so every tier and permission check of the loop stands. An
experiment that cannot be read leaves tools as configured. `VariantAudit` wraps the tool
recorder's audit sink and adds "variant EXPERIMENT/NAME" to the records written inside a loop
that ran under one.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

from assistant.tools.chat_turn import ChatTools
from assistant.tools.loop import ModelRound, ToolLoop

if TYPE_CHECKING:
    from assistant.experiments.models import Capability, TurnVariant
    from knowledge.access import Principal
    from routing.routed import Candidate
    from routing.tiers import Tier

log = logging.getLogger(__name__)

# The label of the tools variant whose loop is running in this context (read by `VariantAudit`).
TOOLS_VARIANT: ContextVar[str | None] = ContextVar("confidante_tools_variant", default=None)


class _Variants(Protocol):
    """What `ExperimentTools` needs from `ExperimentStore`."""

    def variant_for(self, user_id: str, capability: Capability) -> TurnVariant | None: ...


def capped(loop: ToolLoop, max_steps: int) -> ToolLoop:
    """A copy of `loop` that stops after at most `max_steps` tool rounds (never more than before)."""
    limited = copy.copy(loop)
    limited.limits = dataclasses.replace(loop.limits, max_steps=min(loop.limits.max_steps, max_steps))
    return limited


@dataclasses.dataclass
class ExperimentTools(ChatTools):
    experiments: _Variants | None = None
    # Set only on the copy `for_turn` makes for one turn: its variant, looked up once (each look-up
    # is a store query; `available`, `run` and the turn's record would otherwise ask three times).
    turn_variant: TurnVariant | None = None
    resolved: bool = False

    @classmethod
    def wrap(cls, tools: ChatTools, experiments: _Variants) -> ExperimentTools:
        values = {field.name: getattr(tools, field.name) for field in dataclasses.fields(tools) if field.init}
        return cls(**values, experiments=experiments)

    def for_turn(self, principal: Principal) -> ExperimentTools:
        """A copy for one turn of `principal`, with their variant looked up now and kept. Never
        kept across turns: starting or stopping an experiment takes effect on the next turn."""
        return self.with_variant(self.variant(principal))

    def with_variant(self, variant: TurnVariant | None) -> ExperimentTools:
        """A copy for one turn whose tools variant was already looked up (with the turn's own)."""
        return dataclasses.replace(self, turn_variant=variant, resolved=True)

    def variant(self, principal: Principal) -> TurnVariant | None:
        if self.resolved:
            return self.turn_variant
        if self.experiments is None:
            return None
        try:
            return self.experiments.variant_for(principal.user_id, "tools")
        except Exception:  # an experiment must never break a turn: tools as configured
            log.exception("could not read the running tools experiment")
            return None

    def available(self, chain: Sequence[Candidate], principal: Principal, tier: Tier) -> bool:
        chosen = self.variant(principal)
        if chosen is not None and chosen.variant.tools is False:
            return False
        return super().available(chain, principal, tier)

    async def run(self, round_: ModelRound, **kwargs: Any) -> AsyncIterator[object]:  # type: ignore[override]
        """`ChatTools.run`, with the variant's step limit and its name on the loop's audit records."""
        chosen = self.variant(kwargs["principal"])
        target: ChatTools = self
        if chosen is not None and chosen.variant.tool_max_steps is not None:
            target = dataclasses.replace(self, loop=capped(self.loop, chosen.variant.tool_max_steps))
        token = TOOLS_VARIANT.set(chosen.label if chosen is not None else None)
        try:
            async for item in ChatTools.run(target, round_, **kwargs):
                yield item
        finally:
            # Finalized from another context (a dropped stream): nothing to undo in this one.
            with contextlib.suppress(ValueError):
                TOOLS_VARIANT.reset(token)


class VariantAudit:
    """An audit sink that names the running tools variant in each record's detail."""

    def __init__(self, audit: Any) -> None:
        self._audit = audit

    def record(self, event: Any) -> object:
        label = TOOLS_VARIANT.get()
        if label:
            # First, so the 500-character cap never cuts it; "key=value" parsers skip it.
            detail = f"variant {label}; {event.detail}" if event.detail else f"variant {label}"
            event = event.model_copy(update={"detail": detail[:500]})
        return self._audit.record(event)

    def __getattr__(self, name: str) -> Any:
        # Anything else of the trail (a batch write, verify) as it is: only `record` is named here.
        return getattr(self._audit, name)
