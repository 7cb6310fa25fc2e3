"""Answer-level confidence: scripted answers checked against the passages they cite."""

from __future__ import annotations

import pytest

from knowledge.answer_support import assess_answer, detect_degeneration, is_repetitive
from knowledge.confidence import answer_confidence, assess_confidence, support_level
from knowledge.retrieval import RetrievedChunk
from knowledge.testing import HashingEmbedder
from routing.tiers import Tier

ADDRESS = (
    "To change your home address, submit form HR-12 to the HR team within 30 days of moving. "
    "The form is on the intranet under Personal details."
)
LEAVE = "Parental leave is 16 weeks at full pay for the primary carer. Partners get 4 weeks."
ALLOWANCE = "The home office allowance is 300 euros per year, paid with the January salary."


def chunk(text: str, n: int = 1, *, dense: float = 0.8, coverage: float = 0.9) -> RetrievedChunk:
    """A strong retrieval hit: retrieval alone would say "high"."""
    return RetrievedChunk(
        chunk_id=f"v:{n}",
        doc_id=f"d{n}",
        version_id="v",
        title=f"Doc {n}",
        display_name=f"doc{n}.md",
        page=None,
        section="Benefits",
        text=text,
        start=0,
        end=len(text),
        score=0.03,
        dense_similarity=dense,
        bm25_score=9.0,
        dense_rank=1,
        bm25_rank=1,
        coverage=coverage,
        tier=Tier.INTERNAL,
    )


EMBEDDERS = [None, HashingEmbedder().embed]


@pytest.mark.parametrize("embed", EMBEDDERS)
def test_correct_citation_can_be_high(embed) -> None:  # type: ignore[no-untyped-def]
    support = assess_answer(
        "To change your home address, submit form HR-12 to HR within 30 days [1].",
        {1: ADDRESS},
        question="Which form do I use to change my home address?",
        embed=embed,
    )
    assert support.all_strong and support_level(support) == "high"
    assert assess_confidence([chunk(ADDRESS)]).level == "high"
    assert answer_confidence([chunk(ADDRESS)], support).level == "high"


@pytest.mark.parametrize("embed", EMBEDDERS)
def test_wrong_passage_cited_is_low_with_reason(embed) -> None:  # type: ignore[no-untyped-def]
    support = assess_answer(
        "Parental leave is 16 weeks at full pay for the primary carer [1].",
        {1: ALLOWANCE},
        question="How much is the home office allowance?",
        embed=embed,
    )
    badge = answer_confidence([chunk(ALLOWANCE)], support)
    assert badge.level == "low"
    assert badge.reason.startswith("1 of 1 sentence is not supported by the cited passage")
    assert "a number in the answer is not in the passage" in badge.reason


def test_home_office_answer_that_repeats_previous_answer_is_low() -> None:
    previous = "Parental leave is 16 weeks at full pay for the primary carer [1]."
    support = assess_answer(
        previous,
        {1: ALLOWANCE, 2: LEAVE},
        question="How much is the home office allowance?",
        previous_answer=previous,
    )
    assert "repeats_previous_answer" in support.degeneration
    badge = answer_confidence([chunk(ALLOWANCE), chunk(LEAVE, 2)], support)
    assert badge.level == "low"
    assert "repeats the previous answer" in badge.reason


def test_repeated_answer_is_low_even_when_the_passage_supports_it() -> None:
    """Citing the right passage does not rescue an answer that is the previous one again."""
    text = "Parental leave is 16 weeks at full pay [1]."
    support = assess_answer(text, {1: LEAVE}, question="And for partners?", previous_answer=text)
    assert support.sentences[0].supported and support_level(support) == "low"


def test_two_of_three_sentences_unsupported_reason() -> None:
    answer = (
        "The home office allowance is 300 euros per year [1]. "
        "It is paid monthly into a separate savings account [1]. "
        "Managers receive an extra 500 euros bonus [1]."
    )
    support = assess_answer(answer, {1: ALLOWANCE})
    assert support.reason.startswith("2 of 3 sentences are not supported by the cited passage")
    assert answer_confidence([chunk(ALLOWANCE)], support).level == "low"


def test_one_weak_sentence_caps_at_medium() -> None:
    answer = "The home office allowance is 300 euros per year [1]. It is paid with the salary in January [1]."
    support = assess_answer(answer, {1: ALLOWANCE})
    assert support.supported_count == 2
    weak = assess_answer(
        "The home office allowance is 300 euros per year [1]. Ask your manager about the salary [1].",
        {1: ALLOWANCE},
    )
    assert support_level(support) == "high"
    assert support_level(weak) in ("medium", "low")


def test_retrieval_weakness_still_caps_a_supported_answer() -> None:
    support = assess_answer("The home office allowance is 300 euros per year [1].", {1: ALLOWANCE})
    weak = chunk(ALLOWANCE, dense=0.3, coverage=0.2)
    weak = weak.model_copy(update={"bm25_score": 1.0, "bm25_rank": 3})
    assert support_level(support) == "high"
    assert answer_confidence([weak], support).level == assess_confidence([weak]).level != "high"


def test_uncited_claim_is_judged_against_the_best_passage() -> None:
    support = assess_answer("Partners get 4 weeks of parental leave.", {1: ALLOWANCE, 2: LEAVE})
    assert support.sentences[0].supported and support.sentences[0].cited == (2,)


def test_answer_without_claims_is_low() -> None:
    support = assess_answer("Sure!", {1: ALLOWANCE})
    assert support_level(support) == "low" and "no claim" in support.reason


def test_loop_is_detected() -> None:
    loop = "I am writing to you because I want to ask about the allowance. " * 12
    assert is_repetitive(loop)
    assert "repetition" in detect_degeneration(loop)
    assert not is_repetitive(LEAVE + " " + ALLOWANCE + " " + ADDRESS)


def test_markup_debris_and_question_echo_are_detected() -> None:
    debris = "Use HR-12 [1].\n\\[HTML removed: script\\]\n\\[HTML removed: script\\]"
    assert "markup_debris" in detect_degeneration(debris)
    question = "How much is the home office allowance?"
    assert "echoes_question" in detect_degeneration(
        "How much is the home office allowance?", question=question
    )
    assert detect_degeneration("The allowance is 300 euros per year [1].", question=question) == ()


def test_the_answer_and_its_passages_are_embedded_once_in_one_call() -> None:
    """Three sentences citing the same passages: one embedding call, each text in it once, and the
    verdicts those of a sentence-by-sentence check (a hashing embedder is batch-independent)."""
    calls: list[list[str]] = []
    hashing = HashingEmbedder().embed

    def counting(texts):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return hashing(texts)

    answer = (
        "Parental leave is 16 weeks at full pay [1]. Partners get 4 weeks of leave [1][2]. "
        "The allowance is 300 euros per year [2]."
    )
    passages = {1: LEAVE, 2: ALLOWANCE, 3: ADDRESS}
    support = assess_answer(answer, passages, embed=counting)
    assert len(calls) == 1
    assert len(calls[0]) == len(set(calls[0]))
    assert not any("HR-12" in text or "intranet" in text for text in calls[0])  # [3] is cited by none
    one_by_one = [assess_answer(s.sentence, passages, embed=hashing).sentences[0] for s in support.sentences]
    assert list(support.sentences) == one_by_one
    assert support.supported_count == 3
