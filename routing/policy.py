"""The routing policy: a versioned TOML file, validated, that says which findings force which tier.

Per tier it names the route (`local`, `hosted_pseudonymized`, `hosted`); per entity type the tier
it forces, its score threshold and whether it is pseudonymized before a hosted call; a topic
taxonomy for regulated content that carries no identifier; and organisation-specific recognizers
(regex or deny-list) so an admin can add an identifier without code.

A policy can never send the regulated tier anywhere but `local`: validation refuses it. A broken
file fails loading with one readable line; a broken edit of a running policy keeps the last good
policy (and says so) rather than running without one.
"""

from __future__ import annotations

import logging
import re
import threading
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from routing.known_test_values import KnownTestValues
from routing.tiers import Route, Tier

log = logging.getLogger(__name__)

DEFAULT_POLICY_RESOURCE = "default_policy.toml"
_ENTITY_NAME = r"^[A-Z][A-Z0-9_]*$"


class PolicyError(Exception):
    """The policy file is missing or invalid; the message is one line naming the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierRule(_Strict):
    route: Route
    description: str = ""


class EntityRule(_Strict):
    tier: Tier
    # Findings scoring below this are ignored (None: the policy's `min_score`).
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    # Replaced by a placeholder before any hosted call.
    pseudonymize: bool = True


class TopicRule(_Strict):
    """Contextual content with no identifier in it (a diagnosis, a salary, a disciplinary case)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tier: Tier = Tier.REGULATED
    description: str = ""
    # The weights of matched phrases are summed; the topic is found at `threshold`.
    threshold: float = Field(default=1.0, gt=0.0)
    # Lower-case phrases; a trailing `*` on a word matches any ending ("diagnos*").
    phrases: dict[str, float] = Field(default_factory=dict)
    # Regular expressions (case-insensitive) with weights, e.g. money amounts.
    patterns: dict[str, float] = Field(default_factory=dict)
    # Example sentences for the optional embedding similarity check.
    exemplars: tuple[str, ...] = ()
    similarity_threshold: float = Field(default=0.6, ge=0.0, le=1.0)

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, patterns: dict[str, float]) -> dict[str, float]:
        for pattern in patterns:
            _compile(pattern, "topic pattern")
        return patterns

    @model_validator(mode="after")
    def _has_signal(self) -> Self:
        if not (self.phrases or self.patterns or self.exemplars):
            raise ValueError(f"topic {self.name!r} has no phrases, patterns or exemplars")
        return self


class CustomRecognizer(_Strict):
    """An organisation-specific identifier: a regular expression or a deny-list of terms."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    entity: str = Field(pattern=_ENTITY_NAME)
    tier: Tier = Tier.INTERNAL
    score: float = Field(default=0.9, ge=0.0, le=1.0)
    regex: str | None = None
    deny_list: tuple[str, ...] = ()
    case_sensitive: bool = False
    # When set, a match counts only with one of these words within `context_window` characters.
    context: tuple[str, ...] = ()
    context_window: int = Field(default=60, ge=1, le=500)
    pseudonymize: bool = True

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, regex: str | None) -> str | None:
        if regex is not None:
            compiled = _compile(regex, "custom recognizer regex")
            if compiled.match(""):
                raise ValueError("custom recognizer regex matches the empty string")
        return regex

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.regex is None) == (not self.deny_list):
            raise ValueError(f"custom recognizer {self.name!r} needs exactly one of `regex` or `deny_list`")
        return self


# The DLP taxonomy the contextual classifier scores (`routing.contextual`).
CONTEXTUAL_CATEGORIES = (
    "contact", "account", "authentication", "device", "financial",
    "health", "identification", "location", "media",
)  # fmt: skip
_CONTEXTUAL_TIERS = {
    "contact": Tier.INTERNAL, "account": Tier.INTERNAL, "device": Tier.INTERNAL,
    "location": Tier.INTERNAL, "authentication": Tier.REGULATED, "financial": Tier.REGULATED,
    "health": Tier.REGULATED, "identification": Tier.REGULATED, "media": Tier.REGULATED,
}  # fmt: skip


class ContextualRule(_Strict):
    """The learned contextual layer: disclosures with no detectable value ("the sugar one")."""

    enabled: bool = True
    # "public": only messages the deterministic layers found public; "all": every message.
    run_on: Literal["public", "all"] = "public"
    # With "public": a message found internal only for these entity types is still read (a place
    # made personal by its sentence says nothing of what else the message discloses).
    run_on_internal_types: list[str] = Field(default_factory=list)
    # Categories whose verdict does not count on a message read only for those types: "media" (a
    # chat log or signature carrying personal values) names the values the rules already found and
    # pseudonymize, not something the message implies besides them.
    internal_ignores_categories: list[str] = Field(default_factory=list)
    # The score at which a verdict counts on such a message (None: `threshold`). Its values are
    # pseudonymized already; a higher bar keeps ordinary named messages off the weaker local model.
    internal_threshold: float | None = Field(default=None, gt=0.0, lt=1.0)
    # The calibrated probability of the most likely category at which it counts.
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    # A general question that names no one ("How do I reset a password?") is not scored.
    skip_general_questions: bool = True
    # The tier a category forces; a category left out forces `regulated` (fail closed).
    categories: dict[str, Tier] = Field(default_factory=lambda: dict(_CONTEXTUAL_TIERS))

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, categories: dict[str, Tier]) -> dict[str, Tier]:
        unknown = sorted(set(categories) - set(CONTEXTUAL_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown contextual category {unknown[0]!r}")
        return categories

    @field_validator("internal_ignores_categories")
    @classmethod
    def _known_ignored(cls, categories: list[str]) -> list[str]:
        unknown = sorted(set(categories) - set(CONTEXTUAL_CATEGORIES))
        if unknown:
            raise ValueError(f"unknown contextual category {unknown[0]!r}")
        return categories

    def tier_for(self, category: str) -> Tier:
        return self.categories.get(category, Tier.REGULATED)


class ReviewRule(_Strict):
    """Who may read regulated answers in the human review queue (`assistant.review`).

    Regulated turns are listed, shown and gradable only to members of these groups; no group (an
    empty list, or a policy with no `[review]` table) means nobody reviews them (fail closed).
    Settings may narrow this list, never widen it.
    """

    regulated_reviewer_groups: tuple[str, ...] = ()

    @field_validator("regulated_reviewer_groups")
    @classmethod
    def _group_names(cls, groups: tuple[str, ...]) -> tuple[str, ...]:
        for group in groups:
            if not re.fullmatch(r"[a-z0-9][a-z0-9._:@-]{0,149}", group):  # as governance allows
                raise ValueError(f"{group!r} is not a group name (lower case, e.g. compliance)")
        return groups


class Policy(_Strict):
    version: str = Field(min_length=1)
    name: str = "default"
    description: str = ""
    # Default score threshold for entity findings.
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    tiers: dict[Tier, TierRule]
    entities: dict[str, EntityRule] = Field(default_factory=dict)
    topics: tuple[TopicRule, ...] = ()
    custom_recognizers: tuple[CustomRecognizer, ...] = ()
    # Words that are never personal data here, whatever NER thinks (the assistant's own name,
    # product names that look like people). Compared case-insensitively, whole value only; never
    # put an identifier here.
    allow_terms: tuple[str, ...] = ()
    # Published test and sample values (test cards, advertising SSNs, example IBANs, documentation
    # IP ranges, fictional phone numbers): a finding whose whole value is one is dropped.
    known_test_values: KnownTestValues = KnownTestValues()
    contextual: ContextualRule = ContextualRule()
    review: ReviewRule = ReviewRule()

    @field_validator("entities")
    @classmethod
    def _entity_names(cls, entities: dict[str, EntityRule]) -> dict[str, EntityRule]:
        for name in entities:
            if not re.match(_ENTITY_NAME, name):
                raise ValueError(f"entity type {name!r} must be upper case like US_SSN")
        return entities

    @model_validator(mode="after")
    def _tiers_are_safe(self) -> Self:
        missing = [tier.value for tier in Tier if tier not in self.tiers]
        if missing:
            raise ValueError(f"tiers.{missing[0]} is missing: every tier needs a route")
        if self.tiers[Tier.REGULATED].route is not Route.LOCAL:
            raise ValueError(
                "tiers.regulated.route must be 'local': regulated content never leaves the machine"
            )
        names = [recognizer.name for recognizer in self.custom_recognizers]
        if len(names) != len(set(names)):
            raise ValueError("custom recognizer names must be unique")
        return self

    def route_for(self, tier: Tier) -> Route:
        return self.tiers[tier].route

    def entity_rule(self, entity_type: str) -> EntityRule | None:
        rule = self.entities.get(entity_type)
        if rule is not None:
            return rule
        for recognizer in self.custom_recognizers:
            if recognizer.entity == entity_type:
                return EntityRule(tier=recognizer.tier, pseudonymize=recognizer.pseudonymize)
        return None

    def threshold_for(self, entity_type: str) -> float:
        rule = self.entity_rule(entity_type)
        return self.min_score if rule is None or rule.min_score is None else rule.min_score

    def pseudonymized_types(self) -> frozenset[str]:
        listed = {name for name, rule in self.entities.items() if rule.pseudonymize}
        custom = {
            r.entity for r in self.custom_recognizers if r.pseudonymize and r.entity not in self.entities
        }
        return frozenset(listed | custom)


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{what} {pattern!r} does not compile: {exc}") from None


def parse_policy(text: str, *, origin: str = "policy") -> Policy:
    """Validate policy TOML text; any problem becomes one `PolicyError` line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin} is not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(root)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PolicyError(f"{origin}: {where}: {first['msg']}{more}") from None


def default_policy_text() -> str:
    return resources.files("routing").joinpath(DEFAULT_POLICY_RESOURCE).read_text(encoding="utf-8")


def load_policy(path: Path | None = None) -> Policy:
    """The policy at `path`, or the built-in default policy when `path` is None."""
    if path is None:
        return parse_policy(default_policy_text(), origin="built-in default policy")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc.strerror or exc}") from None
    return parse_policy(text, origin=f"policy file {path}")


class PolicySource:
    """The current policy, reloaded when its file changes (an mtime check per call)."""

    def __init__(self, path: Path | None = None, *, policy: Policy | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._policy = policy if policy is not None else load_policy(path)
        self._mtime = self._stat()
        self.last_error: str | None = None

    def _stat(self) -> float | None:
        if self.path is None:
            return None
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> Policy:
        mtime = self._stat()
        if mtime == self._mtime:
            return self._policy
        with self._lock:
            if mtime != self._mtime:
                self._reload(mtime)
            return self._policy

    def _reload(self, mtime: float | None) -> None:
        self._mtime = mtime
        try:
            self._policy = load_policy(self.path)
            self.last_error = None
            log.info("routing policy reloaded: %s version %s", self.path, self._policy.version)
        except PolicyError as exc:
            # Keep enforcing the last good policy: running without one is not an option.
            self.last_error = str(exc)
            log.error("routing policy not reloaded, keeping version %s: %s", self._policy.version, exc)
