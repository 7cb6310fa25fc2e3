"""The map plan of a summary: consecutive sections grouped into at most N map steps, each with a tier.

Grouping is deterministic (the same document always gives the same plan, so a resumed job skips
exactly the steps it finished). A group never mixes tiers unless the step budget forces it, and
then it takes the highest tier of what it holds: a regulated page is never summarized by anything
but the local model because it sat next to public pages. Each step shows the model an excerpt that
fits its context window, every passage prefixed with its page/section reference.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict

from assistant.uploads.citing import ref_for
from knowledge.parsing.documents import Section
from routing.tiers import Tier, highest

CountTokens = Callable[[str], int]
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class MapGroup(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    section_indexes: tuple[int, ...]
    refs: tuple[str, ...]
    tier: Tier

    @property
    def label(self) -> str:
        first, last = self.refs[0], self.refs[-1]
        if first.startswith("p. ") and last.startswith("p. ") and first != last:
            return f"pages {first[3:]}–{last[3:]}"
        return first if first == last else f"{first} – {last}"


def plan_groups(
    sections: Sequence[Section],
    tiers: Sequence[Tier],
    max_groups: int,
    *,
    fill_tokens: int = 0,
    count_tokens: CountTokens | None = None,
) -> list[MapGroup]:
    """Group sections (consecutive, tier-homogeneous where possible) into at most `max_groups` steps.

    Sizes are in `count_tokens` units (characters without it). With `fill_tokens`, a group also
    takes sections until it holds that many tokens: short
    documents become one or two map calls instead of one per page (the prompt and the answer cost
    more per call than the page text does).
    """
    if len(tiers) != len(sections):
        raise ValueError("one tier per section")
    if not sections:
        return []
    size = count_tokens or len
    sizes = [size(s.text) for s in sections]
    target = max(1, -(-sum(sizes) // max_groups), fill_tokens)  # ceiling division
    runs: list[list[int]] = [[0]]
    for index in range(1, len(sections)):
        current = runs[-1]
        tier_changes = tiers[index] != tiers[current[-1]]
        too_big = sum(sizes[i] for i in current) + sizes[index] > target
        if tier_changes or too_big:
            runs.append([index])
        else:
            current.append(index)
    while len(runs) > max_groups:
        runs = _merge_cheapest(runs, sizes, tiers)
    return [
        MapGroup(
            index=number,
            section_indexes=tuple(run),
            refs=tuple(dict.fromkeys(ref_for(sections[i], i) for i in run)),
            tier=highest(*(tiers[i] for i in run)),
        )
        for number, run in enumerate(runs)
    ]


def _merge_cheapest(runs: list[list[int]], sizes: Sequence[int], tiers: Sequence[Tier]) -> list[list[int]]:
    """Merge the adjacent pair that costs least: same tier first, then the smallest combined size."""

    def cost(pair: int) -> tuple[int, int]:
        left, right = runs[pair], runs[pair + 1]
        same = highest(*(tiers[i] for i in left)) == highest(*(tiers[i] for i in right))
        return (0 if same else 1, sum(sizes[i] for i in left + right))

    best = min(range(len(runs) - 1), key=cost)
    return [*runs[:best], runs[best] + runs[best + 1], *runs[best + 2 :]]


def build_excerpt(
    sections: Sequence[Section], refs: Sequence[str], budget_tokens: int, count_tokens: CountTokens
) -> str:
    """Each section's opening sentences, round-robin, under `[ref]` headers, within the token budget.

    Round-robin keeps every page represented when the group is longer than the budget.
    """
    queues = [_SENTENCE_END.split(" ".join(s.text.split())) for s in sections]
    taken: list[list[str]] = [[] for _ in sections]
    used = sum(count_tokens(f"[{ref}]\n") for ref in refs)
    progress = True
    while progress:
        progress = False
        for position, queue in enumerate(queues):
            if not queue:
                continue
            cost = count_tokens(queue[0]) + 1
            if used + cost > budget_tokens:
                queue.clear()
                continue
            taken[position].append(queue.pop(0))
            used += cost
            progress = True
    blocks = [f"[{ref}]\n{' '.join(parts)}" for ref, parts in zip(refs, taken, strict=True) if parts]
    return "\n\n".join(blocks)


def group_sources(sections: Sequence[Section], group: MapGroup) -> dict[str, str]:
    """The full text behind each reference of a group (what cited points are checked against)."""
    sources: dict[str, str] = {}
    for index in group.section_indexes:
        ref = ref_for(sections[index], index)
        sources[ref] = f"{sources.get(ref, '')}\n{sections[index].text}".strip()
    return sources
