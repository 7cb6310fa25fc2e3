"""The token bound that lets a request skip the tokenizer: it must never be below a real count,
and fitting with it must decide exactly what fitting by counting decides."""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from llama_cpp import Llama

from assistant import context
from assistant.context import fit_messages
from assistant.tools import budget
from assistant.tools.budget import fit_tool_round
from models.base import ChatMessage, ToolDefinition
from models.fakes import call
from models.tokens import approximate_tokens, tokens_at_most
from tests.support.servers import bundled_gguf

REPO = Path(__file__).resolve().parents[1]


def ascii_texts() -> Iterator[str]:
    """Every ASCII character alone and repeated, whitespace and digit runs, random printable and
    control text, and every line of our own README and system-prompt-like prose."""
    rng = random.Random(7)
    for code in range(128):
        yield chr(code)
        yield chr(code) * 17
    yield from (" " * n for n in (2, 3, 8, 64))
    yield from ("\n" * n for n in (2, 5, 40))
    yield "\t \n \r\n" * 9
    yield "".join(rng.choice(string.digits) for _ in range(300))
    for _ in range(200):
        alphabet = string.printable if rng.random() < 0.7 else "".join(map(chr, range(128)))
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400)))
    yield from (line for line in (REPO / "README.md").read_text().splitlines() if line.isascii())


@pytest.fixture(scope="module")
def llama_count() -> Callable[[str], int]:
    vocab = Llama(model_path=str(bundled_gguf()), vocab_only=True, verbose=False)
    return lambda text: len(vocab.tokenize(text.encode(), add_bos=False, special=False)) if text else 0


def test_the_bound_is_never_below_the_bundled_models_own_count(llama_count: Callable[[str], int]) -> None:
    checked = 0
    for text in ascii_texts():
        bound = tokens_at_most(text)
        assert bound is not None and llama_count(text) <= bound, repr(text[:60])
        checked += 1
    assert checked > 600


def test_the_bound_is_never_below_the_approximate_count() -> None:
    for text in ascii_texts():
        bound = tokens_at_most(text)
        assert bound is not None and approximate_tokens(text) <= bound


def test_text_that_is_not_ascii_has_no_bound() -> None:
    # NFKC turns "ﷺ" (one character) into 18: only ASCII is safe to bound by its length.
    assert tokens_at_most("ﷺ") is None
    assert tokens_at_most("naïve") is None


def random_message(rng: random.Random, role: str) -> ChatMessage:
    words = " ".join(
        rng.choice(("report", "figure", "Grüße", "the", "42", "x" * 30)) for _ in range(rng.randint(1, 60))
    )
    if rng.random() < 0.7:
        words = words.replace("Grüße", "hello")  # mostly ASCII, as most traffic is
    return ChatMessage(role=role, content=words)  # type: ignore[arg-type]


@pytest.fixture
def counting_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Fitting as it was before the bound: a bound too large to ever fit forces the count."""

    def force() -> None:
        monkeypatch.setattr(context, "tokens_at_most", lambda text: 10**9)
        monkeypatch.setattr(budget, "tokens_at_most", lambda text: 10**9)

    return force


def test_fitting_with_the_bound_decides_what_counting_decides(counting_only: Callable[[], None]) -> None:
    rng = random.Random(11)
    cases = []
    for _ in range(300):
        history = [
            random_message(rng, role) for _ in range(rng.randint(0, 6)) for role in ("user", "assistant")
        ]
        system = [random_message(rng, "system")]
        user = random_message(rng, "user")
        window, reserve = rng.choice((128, 256, 512, 1024, 4096)), rng.choice((16, 64, 256))
        cases.append((system, history, user, window, reserve, rng.choice((None, 0, 1, 3))))

    def fit_all() -> list[tuple[object, ...]]:
        out = []
        for system, history, user, window, reserve, turns in cases:
            fitted = fit_messages(
                system, history, user, context_window=window, answer_reserve=reserve,
                count=approximate_tokens, max_history_turns=turns,
            )  # fmt: skip
            out.append((fitted.messages, fitted.dropped_turns, fitted.shortened))
        return out

    with_bound = fit_all()
    counting_only()
    assert fit_all() == with_bound
    assert sum(1 for messages, dropped, shortened in with_bound if dropped or shortened) > 30


def test_a_tool_round_fitted_with_the_bound_is_the_counted_one(counting_only: Callable[[], None]) -> None:
    rng = random.Random(5)
    lookup = ToolDefinition(name="lookup", description="Look something up in the handbook.")
    cases = []
    for _ in range(200):
        base = [
            random_message(rng, "system"),
            *(random_message(rng, "user") for _ in range(rng.randint(0, 3))),
        ]
        calls = [call("lookup", expression=f"q{i}") for i in range(rng.randint(1, 2))]
        exchange = [ChatMessage(role="assistant", content="", tool_calls=tuple(calls))]
        exchange += [
            ChatMessage(
                role="tool",
                content=random_message(rng, "tool").content * rng.randint(1, 8),
                tool_call_id=c.id,
            )
            for c in calls
        ]
        cases.append((base, exchange, rng.choice((256, 512, 1024, 4096)), rng.choice((16, 128))))

    def fit_all() -> list[tuple[object, ...]]:
        out = []
        for base, exchange, window, reserve in cases:
            fitted = fit_tool_round(
                base,
                exchange,
                (lookup,),
                context_window=window,
                answer_reserve=reserve,
                count=approximate_tokens,
            )
            out.append(
                (
                    fitted.messages,
                    fitted.tools,
                    fitted.dropped_messages,
                    fitted.results_cut,
                    fitted.results_left_out,
                )
            )
        return out

    with_bound = fit_all()
    counting_only()
    assert fit_all() == with_bound
    assert sum(1 for _m, tools, dropped, cut, out in with_bound if dropped or cut or out or not tools) > 20
