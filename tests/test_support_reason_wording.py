"""The confidence reason agrees in number with what is unsupported: "1 of 2 sentences is not
supported" (a fresh install showed "1 of 2 sentences are not supported")."""

from knowledge.answer_support import SentenceSupport, support_reason

NO, YES = False, True


def _reason(*supported: bool) -> str:
    sentences = [
        SentenceSupport(
            sentence="x", cited=(1,), lexical=0.5, semantic=None, numbers_ok=True, names_ok=True, supported=s
        )
        for s in supported
    ]
    return support_reason(sentences, [])


def test_the_verb_follows_the_number_of_unsupported_sentences() -> None:
    assert _reason(NO, YES).startswith("1 of 2 sentences is not supported")
    assert _reason(NO, NO, YES).startswith("2 of 3 sentences are not supported")
    assert _reason(NO).startswith("1 of 1 sentence is not supported")
