"""The answer filter releases streamed text as soon as it can no longer change.

Only a possible start is held back: of a placeholder (`<PER`), a markup tag (`<im`), a URL start
(`htt`), a domain from its first dot (`evil.c`) or a regulated value being echoed (`536-2`).
Every case is cut at every pair of positions: since streamed pieces are only ever appended, the
streamed whole equal to the whole-answer form means no piece ever showed anything that was later
restored, masked or removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from assistant.answer_filter import AnswerFilter, EchoGuard
from assistant.privacy import Restorer, passthrough_restorer
from assistant.security.leak_guard import PromptLeakGuard
from assistant.security.output_hygiene import OutputSanitizer
from assistant.security.render_check import rendered_risk
from assistant.security.urls import LinkPolicy
from routing.restore import StreamRestorer
from routing.vault import PseudonymVault


def _vault() -> PseudonymVault:
    vault = PseudonymVault()
    vault.placeholder_for("PERSON", "John Smith")
    vault.placeholder_for("US_SSN", "078-05-1120")
    return vault


def _filter(
    vault: PseudonymVault | None = None, echo: Sequence[str] = (), policy: LinkPolicy | None = None
) -> AnswerFilter:
    restorer: Restorer = StreamRestorer(vault) if vault is not None else passthrough_restorer()
    return AnswerFilter(restorer, OutputSanitizer(policy), PromptLeakGuard([]), echo_values=echo)


def _cuts(text: str) -> Iterator[list[str]]:
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            yield [text[:i], text[i:j], text[j:]]


def _streamed(answer: AnswerFilter, pieces: list[str]) -> list[str]:
    shown = [answer.feed(piece) for piece in pieces]
    return [*shown, answer.flush()]


PLACEHOLDERS = "Dear <PERSON_1>, SSN <US_SSN_1> is on file; ask PERSON_1 or [PERSON_1] (<PERSON_3>)."


def test_a_placeholder_split_at_every_position_is_never_shown_in_part() -> None:
    whole = _filter(_vault())
    _streamed(whole, [PLACEHOLDERS])
    expected = whole.final_text()
    assert expected == (
        "Dear John Smith, SSN 078-05-1120 is on file; ask John Smith or John Smith ()."  # unknown: a tag
    )
    for pieces in _cuts(PLACEHOLDERS):
        assert "".join(_streamed(_filter(_vault()), pieces)) == expected, pieces


TAGS = 'Look <img src=x onerror="alert(1)"> and <b>bold</b>, <script>x()</script><!-- c --> ok'


def test_a_tag_split_at_every_position_is_never_shown_in_part() -> None:
    whole = _filter()
    _streamed(whole, [TAGS])
    expected = whole.final_text()
    assert "<img" not in expected and "<script" not in expected and "&lt;b>bold&lt;/b>" in expected
    for pieces in _cuts(TAGS):
        assert "".join(_streamed(_filter(), pieces)) == expected, pieces


ECHO = "Yours is 536 22 4567, not 536-22-4568 or 5362245671; zebra corp knows."


def test_an_echoed_value_split_at_every_position_is_never_shown_in_part() -> None:
    expected = "Yours is [hidden], not 536-22-4568 or 5362245671; [hidden] knows."
    for pieces in _cuts(ECHO):
        answer = _filter(echo=["536-22-4567", "Zebra Corp"])
        assert "".join(_streamed(answer, pieces)) == expected, pieces
        assert answer.cleanup() == {"echoed_value": 2}


DOMAINS = "Go to evil.com/x, a.b.evil.co.uk or wiki.corp.example.org; e.g. 1.5 x_evil.com www.evil.com now"


@pytest.mark.parametrize("policy", [None, LinkPolicy(["wiki.corp.example.org"])])
def test_a_domain_or_url_split_at_every_position_is_never_shown_in_part(policy: LinkPolicy | None) -> None:
    expected = OutputSanitizer(policy).sanitize(DOMAINS).text
    assert "evil[.]com/x" in expected and ("wiki.corp.example.org" in expected) == (policy is not None)
    for pieces in _cuts(DOMAINS):
        shown = _streamed(_filter(policy=policy), pieces)
        assert "".join(shown) == expected, pieces
        for end in range(1, len(shown)):
            assert rendered_risk("".join(shown[:end]), policy or LinkPolicy()).total == 0


@pytest.mark.parametrize(
    ("first", "shown_at_once"),
    [
        ("Dear <PER", "Dear "),  # a placeholder still arriving
        ("Dear PERSO", "Dear "),  # a mangled one (no brackets)
        ("Look <im", "Look "),  # a tag
        ("See htt", "See "),  # a URL scheme
        ("Go to WW", "Go to "),  # "www."
        ("Run javascr", "Run "),
        ("Yours is 536 2", "Yours is "),  # the echoed value
        ("Ask zebra co", "Ask "),
        ("Go to evil.c", "Go to evil"),  # a domain: held from its first dot
        ("Number 1", "Number 1"),  # nothing these can become
        ("Dear Jo", "Dear Jo"),
        ("The brief", "The brief"),
        ("Look <", "Look "),
    ],
)
def test_only_a_possible_start_is_held_back(first: str, shown_at_once: str) -> None:
    answer = _filter(_vault(), echo=["536-22-4567", "Zebra Corp"])
    assert answer.feed(first) == shown_at_once


def test_a_paced_model_stream_shows_each_token_as_it_arrives() -> None:
    """The bench's scripted tokens: each one is shown when it arrives, except a lone "." (it may
    still begin a domain's suffix), which follows with the next token."""
    answer = _filter(PseudonymVault())
    tokens = ["1", ".", " **", "Be", " brief", "**", ":", " say", " what", " changed", ".", "\n", "2"]
    shown = _streamed(answer, tokens)
    assert shown[:6] == ["1", "", ". **", "Be", " brief", "**"]
    assert "".join(shown) == "".join(tokens)


def test_the_echo_guard_holds_only_what_may_still_become_a_value() -> None:
    guard = EchoGuard(["536-22-4567"])
    assert guard.feed("call 53") == "call "
    assert guard.feed("7 now") == "537 now"  # diverged: released at once
    assert guard.feed(" 536-22-45") == " "
    assert guard.feed("67.") + guard.flush() == "[hidden]."


def test_a_restorer_without_placeholders_holds_nothing() -> None:
    restorer = StreamRestorer(PseudonymVault())
    assert restorer.feed("a <b or [PERSON") == "a <b or [PERSON"


@pytest.mark.parametrize("label", ["x" * 63, "x" * 64])
def test_a_long_first_label_split_anywhere_is_judged_like_the_whole_answer(label: str) -> None:
    """63 characters may begin a domain and 64 may not, however the word arrives."""
    text = f"See {label}.com now"
    expected = OutputSanitizer().sanitize(text).text
    assert ("[.]com" in expected) == (len(label) == 63)
    for cut in range(len(text) + 1):
        answer = _filter()
        assert "".join(_streamed(answer, [text[:cut], text[cut:]])) == expected, cut
