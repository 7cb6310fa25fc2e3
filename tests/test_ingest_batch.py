"""The gate per document: each distinct chunk text classified once, a classifier's `many` used as
one batch, and any failure of the batch fails closed (every chunk regulated)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.ingestion import classify_all
from routing.tiers import Tier


class Counting:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> Tier:
        self.calls.append(text)
        return Tier.REGULATED if "ssn" in text else Tier.PUBLIC


class Batching(Counting):
    def __init__(self, result: list[str] | None = None, fail: bool = False) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self._result, self._fail = result, fail

    def many(self, texts: Sequence[str]) -> list[str]:
        self.batches.append(list(texts))
        if self._fail:
            raise RuntimeError("gate down")
        return self._result if self._result is not None else [self(t).value for t in texts]


TEXTS = ["a note", "my ssn is 078-05-1120", "a note", "another note"]


def test_each_distinct_text_is_classified_once() -> None:
    classify = Counting()
    assert classify_all(classify, TEXTS) == [Tier.PUBLIC, Tier.REGULATED, Tier.PUBLIC, Tier.PUBLIC]
    assert classify.calls == ["a note", "my ssn is 078-05-1120", "another note"]


def test_a_batch_classifier_is_called_once_per_document() -> None:
    classify = Batching()
    assert classify_all(classify, TEXTS) == [Tier.PUBLIC, Tier.REGULATED, Tier.PUBLIC, Tier.PUBLIC]
    assert classify.batches == [["a note", "my ssn is 078-05-1120", "another note"]]


def test_a_failed_or_short_batch_makes_every_chunk_regulated() -> None:
    for classify in (Batching(fail=True), Batching(result=["public"]), Batching(result=["nonsense"] * 3)):
        assert classify_all(classify, TEXTS) == [Tier.REGULATED] * 4


def test_a_failing_single_classifier_fails_closed_per_text() -> None:
    def classify(text: str) -> Tier:
        if "another" in text:
            raise RuntimeError("boom")
        return Tier.PUBLIC

    assert classify_all(classify, TEXTS) == [Tier.PUBLIC, Tier.PUBLIC, Tier.PUBLIC, Tier.REGULATED]
