"""The public-only answer cache: keys, TTL, size bound, and refusal of other tiers."""

from __future__ import annotations

from routing.cache import CacheKey, ResponseCache, normalize_question
from routing.reliability_settings import ReliabilitySettings
from routing.tiers import Tier


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def key(question: str = "What is the VPN?", **changes: str) -> CacheKey:
    fields = {"user_id": "ana", "doc_set_version": "v1", "model": "gpt", "prompt_version": "p1"} | changes
    return CacheKey.of(question=question, **fields)


def test_normalization() -> None:
    assert (
        normalize_question("  What is   the\tVPN?? ")
        == normalize_question("what is the vpn")
        == "what is the vpn"
    )
    assert normalize_question("Ｗhat") == "what"  # NFKC folds full-width letters


def test_public_answers_are_cached_per_exact_key() -> None:
    cache: ResponseCache[str] = ResponseCache()
    assert cache.put(key(), "answer", tier=Tier.PUBLIC)
    assert cache.get(key("what is the vpn"), tier=Tier.PUBLIC) == "answer"
    for other in (
        key(user_id="bob"),
        key(doc_set_version="v2"),
        key(model="local"),
        key(prompt_version="p2"),
        key("What is the VPN password?"),
    ):
        assert cache.get(other, tier=Tier.PUBLIC) is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (1, 5, 1)


def test_internal_and_regulated_turns_are_never_cached() -> None:
    cache: ResponseCache[str] = ResponseCache()
    for tier in (Tier.INTERNAL, Tier.REGULATED, "unknown"):
        assert cache.put(key(), "secret", tier=tier) is False
    assert cache.stats().entries == 0 and cache.stats().refused == 3
    cache.put(key(), "public answer", tier=Tier.PUBLIC)
    # A turn the gate now calls regulated does not read the cache either.
    assert cache.get(key(), tier=Tier.REGULATED) is None


def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache: ResponseCache[str] = ResponseCache(ttl_s=60, clock=clock)
    cache.put(key(), "a", tier="public")
    clock.now = 59.9
    assert cache.get(key(), tier="public") == "a"
    clock.now = 60.0
    assert cache.get(key(), tier="public") is None
    assert cache.stats().entries == 0


def test_least_recently_used_goes_first() -> None:
    cache: ResponseCache[str] = ResponseCache(max_entries=2)
    cache.put(key("one"), "1", tier="public")
    cache.put(key("two"), "2", tier="public")
    assert cache.get(key("one"), tier="public") == "1"
    cache.put(key("three"), "3", tier="public")
    assert cache.get(key("two"), tier="public") is None
    assert cache.get(key("one"), tier="public") == "1"
    assert cache.get(key("three"), tier="public") == "3"


def test_invalidate_a_user() -> None:
    cache: ResponseCache[str] = ResponseCache()
    cache.put(key("a"), "1", tier="public")
    cache.put(key("b", user_id="bob"), "2", tier="public")
    assert cache.invalidate_user("ana") == 1
    assert cache.get(key("b", user_id="bob"), tier="public") == "2"


def test_from_settings() -> None:
    cache: ResponseCache[str] = ResponseCache.from_settings(
        ReliabilitySettings(cache_ttl_s=5, cache_max_entries=3)
    )
    assert (cache.ttl_s, cache.max_entries) == (5, 3)
