"""The sensitivity gate: one typed, immutable decision per text, and it fails closed.

`SensitivityGate.classify(text)` normalizes the text, runs Presidio's NER plus our identifier
rules and the policy's topic taxonomy, then (on what those found public, per the policy's
`[contextual]` section) the learned contextual classifier, and returns a `GateDecision`: tier,
route, the deciding policy rule, human-readable reasons, the entities found as
type/span/score/recognizer and the classifier's verdict. The decision is what the UI shows, the
audit log stores and tests assert on, so it must never carry a detected value. Values, needed
for pseudonymization, live only in `Detection.spans` (`PiiSpan`), which is not serializable and
hides values from `repr`.

Any error or a timeout makes the decision `regulated` with a reason: when in doubt, stay local.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from routing.contextual import ContextualError, ContextualFinding, is_general_question

# Re-exported: the decision is still named from here by the gate's callers.
from routing.decision import EntityFinding as EntityFinding
from routing.decision import GateDecision as GateDecision
from routing.names import refine_person_findings
from routing.normalize import MappedText, normalize
from routing.policy import Policy, PolicySource
from routing.recognizers import (
    ADDRESS_RULES,
    BUILTIN_RULES,
    PERSON_RULES,
    Finding,
    IdentifierRule,
    custom_rules,
    find_identifiers,
)
from routing.settings import RoutingSettings
from routing.taint import combine
from routing.tiers import Route, Tier, highest
from routing.topics import Embedder, TopicClassifier, TopicFinding

log = logging.getLogger(__name__)

FAIL_CLOSED_RULE = "fail_closed"
DEFAULT_RULE = "default"


class EntityDetector(Protocol):
    """Finds entities in (normalized) text; Presidio in production, anything in unit tests."""

    def find(self, text: str) -> list[Finding]: ...


class ContextualScorer(Protocol):
    """(likeliest sensitive category, probability the text is sensitive); `routing.contextual`."""

    def best(self, text: str) -> tuple[str, float]: ...


class GateError(Exception):
    """Detection could not run; callers must not send anything to a hosted model."""


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """A detected value in the original text. Lives in memory only: never log or serialize it."""

    type: str
    start: int
    end: int
    score: float
    recognizer: str
    value: str = field(repr=False)

    def __repr__(self) -> str:
        return f"PiiSpan({self.type}, {self.start}:{self.end}, score={self.score:.2f})"

    def __reduce__(self) -> str | tuple[Any, ...]:
        raise TypeError("PiiSpan holds a personal value and must not be pickled")


@dataclass(frozen=True, slots=True)
class Detection:
    """A decision together with the spans (and values) behind it, for pseudonymization."""

    decision: GateDecision
    spans: tuple[PiiSpan, ...] = field(repr=False)


def canonical_value(value: str) -> str:
    """The shared form of two mentions of one value ("John  Smith" ~ "john smith")."""
    text = normalize(value).text
    text = unicodedata.normalize("NFKC", text).casefold()
    if sum(char.isdigit() for char in text) >= max(4, len(text) // 2):
        return "".join(char for char in text if char.isalnum())
    return " ".join(re.sub(r"[^\w@.+-]+", " ", text).split())


@dataclass(frozen=True, slots=True)
class _Deterministic:
    """One text's decision from the rules, the detector and the topics, before the contextual
    layer; `weak` are the topic findings that count only if the classifier agrees."""

    text: str
    decision: GateDecision
    weak: tuple[TopicFinding, ...]
    spans: tuple[PiiSpan, ...]


@dataclass(frozen=True)
class _Compiled:
    policy: Policy
    rules: tuple[IdentifierRule, ...]
    topics: TopicClassifier


class SensitivityGate:
    """Classifies texts under the current policy; shared by all conversations, thread-safe."""

    def __init__(
        self,
        policy: PolicySource | Policy,
        detector: EntityDetector | None,
        *,
        timeout_s: float = 2.0,
        embed: Embedder | None = None,
        contextual: ContextualScorer | None = None,
    ) -> None:
        """`contextual` None leaves the learned layer out (unit tests); `build_gate` always wires it."""
        self._source = policy if isinstance(policy, PolicySource) else PolicySource(policy=policy)
        self._detector = detector
        self._timeout_s = timeout_s
        self._embed = embed
        self._contextual = contextual
        self._compiled: _Compiled | None = None
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sensitivity-gate")

    @property
    def policy(self) -> Policy:
        return self._source.current()

    def classify(self, text: str, *, source: str = "message") -> GateDecision:
        return self.detect(text, source=source).decision

    def detect(self, text: str, *, source: str = "message") -> Detection:
        """The decision and the spans behind it; fails closed on any error or timeout."""
        return self._guarded(lambda policy: [self._detect(text, source, policy)], 1, source)[0]

    def classify_many(self, texts: Sequence[str], *, source: str = "message") -> list[GateDecision]:
        return [detection.decision for detection in self.detect_many(texts, source=source)]

    def detect_many(self, texts: Sequence[str], *, source: str = "message") -> list[Detection]:
        """`detect` of each text (a document's chunks), with the models run over all of them in
        batches: the same decisions as one by one, for less CPU. The time limit is the per-text
        one times the number of texts; any error or timeout fails every text closed."""
        batch = list(texts)
        if not batch:
            return []
        return self._guarded(lambda policy: self._detect_many(batch, source, policy), len(batch), source)

    def _guarded(self, work: Callable[[Policy], list[Detection]], count: int, source: str) -> list[Detection]:
        """`work`'s detections (each timed as its share of the call), or `count` fail-closed ones."""
        started = time.perf_counter()
        timeout_s = self._timeout_s * count
        try:
            policy = self.policy
            detections = self._pool.submit(work, policy).result(timeout=timeout_s)
        except ContextualError as exc:
            # The message names the cause (missing head, other model), never the input.
            return [_fail_closed(str(exc), source, started, self)] * count
        except FutureTimeout:
            reason = f"classification timed out after {timeout_s:g} s"
            return [_fail_closed(reason, source, started, self)] * count
        except Exception as exc:
            # The exception text may quote the input; log its type only.
            log.error("sensitivity gate failed (%s); failing closed", type(exc).__name__)
            return [_fail_closed(f"classifier error ({type(exc).__name__})", source, started, self)] * count
        elapsed = (time.perf_counter() - started) * 1000 / count
        return [
            Detection(detection.decision.model_copy(update={"elapsed_ms": elapsed}), detection.spans)
            for detection in detections
        ]

    def find_pii(self, text: str, *, source: str = "message") -> list[PiiSpan]:
        """Spans to pseudonymize (policy types, no overlaps). Raises `GateError` if detection failed."""
        detection = self.detect(text, source=source)
        if detection.decision.failed_closed:
            raise GateError(detection.decision.reasons[0])
        wanted = self.policy.pseudonymized_types()
        return resolve_overlaps([span for span in detection.spans if span.type in wanted])

    def classify_turn(
        self, message: str, *, context: Mapping[str, str] | None = None, prior: GateDecision | None = None
    ) -> GateDecision:
        """A turn's decision: the message, its attachments / retrieved chunks (by source name), and the
        conversation so far (`prior`), highest tier wins (taint)."""
        parts = [self.classify(text, source=name) for name, text in (context or {}).items()]
        if prior is not None:
            parts.append(prior)
        return combine(self.classify(message), *parts, route_for=self.policy.route_for)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _compiled_for(self, policy: Policy) -> _Compiled:
        compiled = self._compiled
        if compiled is None or compiled.policy is not policy:
            rules = BUILTIN_RULES + ADDRESS_RULES + PERSON_RULES + custom_rules(policy.custom_recognizers)
            compiled = _Compiled(policy, rules, TopicClassifier(policy.topics, embed=self._embed))
            self._compiled = compiled
        return compiled

    def _detect(self, text: str, source: str, policy: Policy) -> Detection:
        mapped = normalize(text)
        found = self._detector.find(mapped.text) if self._detector is not None and mapped.text.strip() else []
        first = self._deterministic(text, mapped, found, source, policy)
        verdict = self._verdict(_scored_text(first)) if self._needs_verdict(first, policy) else None
        return Detection(self._finish(first, verdict, policy), first.spans)

    def _detect_many(self, texts: Sequence[str], source: str, policy: Policy) -> list[Detection]:
        """`_detect` of each text; the detector and the classifier each see all texts in one call."""
        mapped = [normalize(text) for text in texts]
        found = self._find_many([m.text for m in mapped])
        firsts = [
            self._deterministic(text, m, f, source, policy)
            for text, m, f in zip(texts, mapped, found, strict=True)
        ]
        asking = [row for row, first in enumerate(firsts) if self._needs_verdict(first, policy)]
        scored = [_scored_text(firsts[row]) for row in asking]
        verdicts = dict(zip(asking, self._verdicts(scored), strict=True))
        return [
            Detection(self._finish(first, verdicts.get(row), policy), first.spans)
            for row, first in enumerate(firsts)
        ]

    def _find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """The detector's findings per (normalized) text, through its `find_many` when it has one;
        blank texts are not given to it, as in `_detect`."""
        found: list[list[Finding]] = [[] for _ in texts]
        if self._detector is None:
            return found
        rows = [row for row, text in enumerate(texts) if text.strip()]
        many = getattr(self._detector, "find_many", None)
        batch = [texts[row] for row in rows]
        results = list(many(batch)) if callable(many) else [self._detector.find(text) for text in batch]
        if len(results) != len(rows):
            raise GateError(f"detector gave {len(results)} results for {len(rows)} texts")
        for row, findings in zip(rows, results, strict=True):
            found[row] = list(findings)
        return found

    def _verdict(self, text: str) -> tuple[str, float]:
        assert self._contextual is not None  # `_needs_verdict` asks for none without a classifier
        return self._contextual.best(text)

    def _verdicts(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        if not texts:
            return []
        assert self._contextual is not None
        many = getattr(self._contextual, "best_many", None)
        verdicts = list(many(texts)) if callable(many) else [self._contextual.best(text) for text in texts]
        if len(verdicts) != len(texts):
            raise ContextualError(
                f"contextual classifier gave {len(verdicts)} verdicts for {len(texts)} texts"
            )
        return verdicts

    def _deterministic(
        self, text: str, mapped: MappedText, found: Sequence[Finding], source: str, policy: Policy
    ) -> _Deterministic:
        """The rules', the detector's and the topics' decision, before the contextual layer."""
        compiled = self._compiled_for(policy)
        findings = find_identifiers(mapped.text, compiled.rules) + list(found)
        findings = refine_person_findings(mapped.text, findings)
        spans = _to_original_spans(findings, mapped.to_original, text, policy)
        topics = tuple(compiled.topics.find(mapped.text))
        weak = self._weak_topics(topics, policy)
        decision = decide(spans, [t for t in topics if t not in weak], policy, source=source)
        return _Deterministic(text, decision, weak, tuple(spans))

    def _weak_topics(self, topics: Sequence[TopicFinding], policy: Policy) -> tuple[TopicFinding, ...]:
        """Topic findings that need the classifier's agreement; with no classifier, none do."""
        if self._contextual is None or not policy.contextual.enabled:
            return ()
        return tuple(topic for topic in topics if not topic.strong)

    def _needs_verdict(self, first: _Deterministic, policy: Policy) -> bool:
        """Whether the contextual classifier is asked: topic words in a message about no one count
        only when it agrees (a second opinion), and it takes a second look at what the
        deterministic layers found public (or at all, per the policy)."""
        rule = policy.contextual
        if not first.weak:
            if self._contextual is None or not rule.enabled or not first.text.strip():
                return False
            if (
                rule.run_on == "public"
                and first.decision.tier is not Tier.PUBLIC
                and not _internal_only_for(first.decision, rule.run_on_internal_types)
            ):
                return False
        return not (rule.skip_general_questions and is_general_question(first.text))

    @staticmethod
    def _finish(first: _Deterministic, verdict: tuple[str, float] | None, policy: Policy) -> GateDecision:
        """The decision with the classifier's verdict, if it was asked and is sure enough: weak topics
        then count, and its own tier applies if higher. (A classifier error raised `ContextualError`
        before this, which fails the decision closed.)"""
        rule = policy.contextual
        if verdict is None or verdict[1] < rule.threshold:
            return first.decision
        category, score = verdict
        decision = first.decision
        internal_read = decision.tier is Tier.INTERNAL and not first.weak  # for its pseudonymized values
        if internal_read and (
            category in rule.internal_ignores_categories or score < (rule.internal_threshold or 0.0)
        ):
            return decision
        if first.weak:
            decision = decide(first.spans, (*decision.topics, *first.weak), policy, source=decision.source)
        finding = ContextualFinding(category=category, score=score, tier=rule.tier_for(category))
        return apply_contextual(decision, finding, policy)


def _scored_text(first: _Deterministic) -> str:
    """The text the classifier reads: the message as the hosted model would get it, every
    non-public value replaced by a placeholder. The value is handled already (pseudonymized); the
    question is what the rest implies, and a phone number or a name read as such looked like an ID
    or a secret to the classifier ("Text +44 7700 900123 that I'm late" scored authentication)."""
    spans = sorted((e for e in first.decision.entities if e.tier is not Tier.PUBLIC), key=lambda e: e.start)
    parts, end, seen = [], 0, Counter[str]()
    for entity in spans:
        if entity.start < end:
            continue
        seen[entity.type] += 1
        parts += [first.text[end : entity.start], f"<{entity.type}_{seen[entity.type]}>"]
        end = entity.end
    return "".join(parts) + first.text[end:]


def _internal_only_for(decision: GateDecision, types: Sequence[str]) -> bool:
    """Internal for these entity types alone: no topic, no other non-public entity."""
    raised = {entity.type for entity in decision.entities if entity.tier is not Tier.PUBLIC}
    return decision.tier is Tier.INTERNAL and not decision.topics and bool(raised) and raised <= set(types)


def _to_original_spans(
    findings: Sequence[Finding], to_original: object, text: str, policy: Policy
) -> list[PiiSpan]:
    best: dict[tuple[str, int, int], PiiSpan] = {}
    allowed = {term.casefold() for term in policy.allow_terms}
    for finding in findings:
        if finding.score < policy.threshold_for(finding.entity_type) or finding.end <= finding.start:
            continue
        start, end = to_original(finding.start, finding.end)  # type: ignore[operator]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if text[start:end].strip().casefold() in allowed:
            continue
        # A published test value (test card, advertising SSN, documentation IP) is nobody's data.
        if policy.known_test_values.covers(finding.entity_type, text, start, end):
            continue
        key = (finding.entity_type, start, end)
        if start < end and (key not in best or best[key].score < finding.score):
            best[key] = PiiSpan(
                finding.entity_type, start, end, finding.score, finding.recognizer, text[start:end]
            )
    return sorted(best.values(), key=lambda span: (span.start, -span.end, span.type))


def resolve_overlaps(spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans for replacement: longer first, then higher score. A span that sticks
    out of a chosen one widens it (keeping the chosen type): dropping it would leave its
    outer part in clear (a name "Fritz-Armstrong Đoko" over an address "Đoko and ul. Miła 53")."""
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), -s.score, s.start)):
        overlapping = [other for other in chosen if span.start < other.end and other.start < span.end]
        if not overlapping:
            chosen.append(span)
        elif len(overlapping) == 1 and (span.start < overlapping[0].start or span.end > overlapping[0].end):
            chosen[chosen.index(overlapping[0])] = _widened(overlapping[0], span)
    return sorted(chosen, key=lambda s: s.start)


def _widened(kept: PiiSpan, other: PiiSpan) -> PiiSpan:
    value = kept.value
    if other.start < kept.start:
        value = other.value[: kept.start - other.start] + value
    if other.end > kept.end:
        value += other.value[kept.end - other.start :]
    start, end = min(kept.start, other.start), max(kept.end, other.end)
    return PiiSpan(kept.type, start, end, kept.score, kept.recognizer, value)


def _entity_tier(policy: Policy, entity_type: str) -> Tier:
    rule = policy.entity_rule(entity_type)
    return rule.tier if rule is not None else Tier.PUBLIC


def decide(
    spans: Sequence[PiiSpan], topics: Sequence[TopicFinding], policy: Policy, *, source: str
) -> GateDecision:
    """The pure policy step: findings in, decision out."""
    entities = tuple(
        EntityFinding(
            type=s.type, start=s.start, end=s.end, score=s.score, recognizer=s.recognizer,
            tier=_entity_tier(policy, s.type), source=source,
        )
        for s in spans
    )  # fmt: skip
    tier = highest(*(e.tier for e in entities), *(t.tier for t in topics))
    reasons: list[str] = []
    rule = DEFAULT_RULE
    for entity in sorted(entities, key=lambda e: (-e.tier.rank, -e.score)):
        if entity.tier is Tier.PUBLIC:
            continue
        reason = (
            f"{entity.type} detected (score {entity.score:.2f}, {entity.recognizer}) "
            f"→ {entity.tier.value} by rule entity:{entity.type}"
        )
        if reason not in reasons:
            reasons.append(reason)
        if rule == DEFAULT_RULE and entity.tier is tier:
            rule = f"entity:{entity.type}"
    for topic in sorted(topics, key=lambda t: -t.tier.rank):
        reasons.append(
            f"topic {topic.name} (score {topic.score:.2f}: {', '.join(topic.matched)}) "
            f"→ {topic.tier.value} by rule topic:{topic.name}"
        )
        if rule == DEFAULT_RULE and topic.tier is tier:
            rule = f"topic:{topic.name}"
    if not reasons:
        reasons.append(f"no personal or regulated content found → {tier.value} by rule {DEFAULT_RULE}")
    return GateDecision(
        tier=tier, route=policy.route_for(tier), rule=rule, reasons=tuple(reasons), entities=entities,
        topics=tuple(topics), policy_version=policy.version, source=source,
    )  # fmt: skip


def apply_contextual(decision: GateDecision, finding: ContextualFinding, policy: Policy) -> GateDecision:
    """The pure step that adds the classifier's verdict: its reason, and its tier if higher."""
    tier = highest(decision.tier, finding.tier)
    raised = tier is not decision.tier
    reasons = decision.reasons if decision.entities or decision.topics else ()
    return decision.model_copy(
        update={
            "tier": tier,
            "route": policy.route_for(tier),
            "rule": f"contextual:{finding.category}" if raised else decision.rule,
            "reasons": (*reasons, finding.reason()),
            "contextual": finding,
        }
    )


def _fail_closed(reason: str, source: str, started: float, gate: SensitivityGate) -> Detection:
    try:
        version = gate.policy.version
    except Exception:
        version = "unknown"
    decision = GateDecision(
        tier=Tier.REGULATED,
        route=Route.LOCAL,
        rule=FAIL_CLOSED_RULE,
        reasons=(f"{reason} → regulated by rule {FAIL_CLOSED_RULE}",),
        policy_version=version,
        source=source,
        failed_closed=True,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
    return Detection(decision, ())


def build_gate(
    settings: RoutingSettings, *, embed: Embedder | None = None, preload: bool = True
) -> SensitivityGate:
    """The production gate: Presidio (spaCy from its installed package) plus our rules, the policy,
    and the contextual classifier on the local MiniLM embedder (built here; if it cannot be built,
    every decision fails closed with the reason).

    `preload` loads spaCy now, so the first classification does not spend its timeout loading it.
    """
    from routing.analyzer import PresidioDetector
    from routing.contextual import build_contextual

    detector = PresidioDetector(settings)
    if preload:
        detector.load()
    source = PolicySource(settings.policy_path)
    return SensitivityGate(
        source, detector, timeout_s=settings.classify_timeout_s, embed=embed, contextual=build_contextual()
    )
