"""Yes/no verdicts from next-token log-probabilities: the arithmetic, the server wire, real llama.cpp."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.base import ChatMessage, ChatRequest, ModelBadResponse, ModelTimeout, YesNoJudge, collect
from models.local import LocalModel
from models.settings import LocalModelSettings
from models.yes_no import ServerYesNoJudge, single_token_ids, verdict, verdict_from_top, word_of

QUESTION = [
    ChatMessage(role="system", content="Reply with one word: Yes or No."),
    ChatMessage(
        role="user", content="Question: Is Paris in France?\n\nPassage: Paris is the capital of France."
    ),
]


def test_p_yes_is_normalised_over_both_words_and_their_spellings() -> None:
    # yes: 0.3 + 0.1, no: 0.2 (the rest of the vocabulary does not count).
    found = verdict([math.log(0.3), math.log(0.1)], [math.log(0.2)], latency_ms=1.0, model="m")
    assert found.p_yes == pytest.approx(0.4 / 0.6)
    assert found.yes_logprob == pytest.approx(math.log(0.4))
    assert found.no_logprob == pytest.approx(math.log(0.2))


def test_one_word_missing_is_certainty_and_both_missing_is_an_error() -> None:
    assert verdict([-0.1], [], latency_ms=0, model="m").p_yes == 1.0
    assert verdict([], [-0.1], latency_ms=0, model="m").p_yes == 0.0
    with pytest.raises(ModelBadResponse):
        verdict([], [], latency_ms=0, model="m")


def test_spellings_are_recognised_and_other_tokens_ignored() -> None:
    assert [word_of(t) for t in ("Yes", " yes", "NO", " no", "Not", "yes!")] == [
        "yes",
        "yes",
        "no",
        "no",
        None,
        None,
    ]
    found = verdict_from_top(
        [("Yes", math.log(0.5)), (" yes", math.log(0.1)), ("No", math.log(0.2)), ("Maybe", math.log(0.2))],
        latency_ms=0,
        model="m",
    )
    assert found.p_yes == pytest.approx(0.6 / 0.8)


def test_only_single_token_spellings_are_used() -> None:
    vocabulary = {"Yes": [7], " yes": [8], "YES": [1, 2]}
    assert single_token_ids(lambda text: vocabulary[text], ["Yes", " yes", "YES"]) == (7, 8)


def server_body(top: list[tuple[str, float]]) -> dict[str, object]:
    entries = [{"token": t, "logprob": lp} for t, lp in top]
    content = [{"token": top[0][0], "logprob": top[0][1], "top_logprobs": entries}]
    return {"choices": [{"message": {"content": top[0][0]}, "logprobs": {"content": content}}]}


def test_the_server_judge_asks_for_one_greedy_token_with_its_alternatives() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        assert request.url.path == "/v1/chat/completions"
        return httpx.Response(200, json=server_body([("No", math.log(0.75)), ("Yes", math.log(0.25))]))

    judge = ServerYesNoJudge("http://127.0.0.1:9/v1", "private", transport=httpx.MockTransport(handler))
    assert isinstance(judge, YesNoJudge) and judge.idle()
    found = judge.judge_yes_no(QUESTION, timeout_s=5)
    assert found.p_yes == pytest.approx(0.25) and found.model == "private"
    body = sent[0]
    assert (body["max_tokens"], body["temperature"], body["logprobs"]) == (1, 0.0, True)
    assert body["top_logprobs"] == 20 and body["messages"] == [m.wire() for m in QUESTION]


def test_the_server_judge_reports_a_missing_field_and_a_timeout() -> None:
    def no_logprobs(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "Yes"}}]})

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def judge(handler: httpx.MockTransport) -> ServerYesNoJudge:
        return ServerYesNoJudge("http://127.0.0.1:9/v1", "m", transport=handler)

    with pytest.raises(ModelBadResponse):
        judge(httpx.MockTransport(no_logprobs)).judge_yes_no(QUESTION, timeout_s=5)
    with pytest.raises(ModelTimeout):
        judge(httpx.MockTransport(slow)).judge_yes_no(QUESTION, timeout_s=5)


def test_the_server_judge_is_not_idle_while_the_private_model_is_busy() -> None:
    assert not ServerYesNoJudge("http://127.0.0.1:9/v1", "m", busy=lambda: True).idle()


@pytest.mark.slow
async def test_real_llama_cpp_gives_a_probability_from_both_words(local_llama_model: LocalModel) -> None:
    import asyncio

    assert isinstance(local_llama_model, YesNoJudge)
    found = await asyncio.to_thread(local_llama_model.judge_yes_no, QUESTION, timeout_s=300)
    assert local_llama_model.yes_no_token_ids is not None
    yes_ids, no_ids = local_llama_model.yes_no_token_ids
    assert yes_ids and no_ids and not set(yes_ids) & set(no_ids)
    assert 0.0 <= found.p_yes <= 1.0
    assert math.isfinite(found.yes_logprob) and math.isfinite(found.no_logprob)
    assert found.yes_logprob <= 0.0 and found.no_logprob <= 0.0
    # The worker's KV cache was reused for the judgement: an answer streamed next still comes.
    request = ChatRequest.of([ChatMessage(role="user", content="Say hello.")], max_tokens=4, temperature=0.0)
    end = await collect(local_llama_model.stream(request))
    assert end.finish_reason in ("stop", "length") and end.text


class HeldLlama:
    """Stands in for `Llama`: a chat completion that holds the worker until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def create_chat_completion(self, **_: object) -> Iterator[dict[str, object]]:
        self.started.set()
        self.release.wait(timeout=60)
        yield {"choices": [{"delta": {"content": "done"}, "finish_reason": "stop"}]}

    def tokenize(self, text: bytes, **_: object) -> list[int]:
        return list(range(len(text.split())))


async def test_a_judgement_behind_a_running_answer_times_out_and_leaves_the_line() -> None:
    import asyncio

    held = HeldLlama()
    model = LocalModel(Path("unused.gguf"), LocalModelSettings(queue_size=4), loader=lambda: held)
    model.wait_ready()
    try:
        assert model.idle()
        answer = asyncio.create_task(collect(model.stream(ChatRequest.of(QUESTION, max_tokens=4))))
        await asyncio.to_thread(held.started.wait, 60)
        assert not model.idle()
        with pytest.raises(ModelTimeout):
            await asyncio.to_thread(model.judge_yes_no, QUESTION, timeout_s=0.2)
        assert model.queue.waiting == 0
        held.release.set()
        assert (await answer).text == "done"
    finally:
        held.release.set()
        model.close()


class CountingEval:
    """Stands in for `Llama` in `next_token_logits`: records what it evaluates."""

    def __init__(self, cached: list[int]) -> None:
        import numpy as np

        self._input_ids = np.asarray(cached)
        self.n_tokens = len(cached)
        self.evaluated: list[list[int]] = []

    @staticmethod
    def longest_token_prefix(a: list[int], b: list[int]) -> int:
        return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))

    def eval(self, tokens: list[int]) -> None:
        self.evaluated.append(tokens)
        self.n_tokens += len(tokens)


def test_a_cancelled_judgement_stops_between_prompt_steps() -> None:
    from models.local import JUDGE_EVAL_STEP, next_token_logits

    llm = CountingEval(cached=[1, 2, 3])
    prompt = [1, 2, 3, *range(10, 10 + 3 * JUDGE_EVAL_STEP)]

    def cancelled() -> bool:
        return len(llm.evaluated) >= 1  # the caller gives up after the first step

    with pytest.raises(ModelTimeout):
        next_token_logits(llm, prompt, cancelled=cancelled)
    # The cached prefix was kept, and only one step of the rest was evaluated.
    assert llm.evaluated == [prompt[3 : 3 + JUDGE_EVAL_STEP]]
