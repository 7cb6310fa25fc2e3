"""Reading a yes/no answer from next-token log-probabilities, in process or from a private server.

One forward pass, one token, no sampling: the probability the model puts on "yes" against "no"
(each summed over its spellings) is the verdict, so it is deterministic for a given prompt and
model. The in-process path is in `models.local` (it owns the llama.cpp object); this module holds
the arithmetic both paths share and the adapter for a private OpenAI-compatible server
(`models.local.server_url`), which returns `logprobs`/`top_logprobs`.

Only ever pointed at the private model: nothing here may send a prompt to a hosted endpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
import numpy as np

from models.base import ChatMessage, ModelBadResponse, ModelError, ModelTimeout, YesNoVerdict

YES_SPELLINGS: tuple[str, ...] = ("Yes", "yes", "YES", " Yes", " yes", " YES")
NO_SPELLINGS: tuple[str, ...] = ("No", "no", "NO", " No", " no", " NO")
# Enough alternatives that both words appear even when the model is sure of one of them.
TOP_LOGPROBS = 20


def _logsumexp(values: Sequence[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def verdict(yes: Sequence[float], no: Sequence[float], *, latency_ms: float, model: str) -> YesNoVerdict:
    """The verdict from the log-probabilities of every yes and no spelling found.

    Neither word among them means the model was not answering yes/no at all: that is an error,
    not a 0.5 (a caller must not mistake it for an opinion).
    """
    yes_lp, no_lp = _logsumexp(yes), _logsumexp(no)
    if yes_lp == -math.inf and no_lp == -math.inf:
        raise ModelBadResponse("neither 'yes' nor 'no' among the next-token candidates")
    # P(yes) / (P(yes) + P(no)) = sigmoid(log P(yes) - log P(no)), stable at the extremes.
    if no_lp == -math.inf:
        p_yes = 1.0
    elif yes_lp == -math.inf:
        p_yes = 0.0
    else:
        p_yes = 1.0 / (1.0 + math.exp(no_lp - yes_lp))
    return YesNoVerdict(p_yes=p_yes, yes_logprob=yes_lp, no_logprob=no_lp, latency_ms=latency_ms, model=model)


def word_of(token: str) -> str | None:
    """ "yes" or "no" when a token is a spelling of either, else None."""
    word = token.strip().lower()
    return word if word in ("yes", "no") else None


def verdict_from_top(
    candidates: Iterable[tuple[str, float]], *, latency_ms: float, model: str
) -> YesNoVerdict:
    """The verdict from (token text, log-probability) pairs, as an OpenAI-style server lists them."""
    yes: list[float] = []
    no: list[float] = []
    for token, logprob in candidates:
        word = word_of(token)
        if word == "yes":
            yes.append(logprob)
        elif word == "no":
            no.append(logprob)
    return verdict(yes, no, latency_ms=latency_ms, model=model)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return np.asarray(shifted - math.log(float(np.exp(shifted).sum())))


def single_token_ids(tokenize: Callable[[str], list[int]], spellings: Sequence[str]) -> tuple[int, ...]:
    """Token ids of the spellings that are one token in this vocabulary (the others can't be next)."""
    ids = [tokenize(text) for text in spellings]
    return tuple(dict.fromkeys(one[0] for one in ids if len(one) == 1))


class ServerYesNoJudge:
    """The yes/no judgement from a private OpenAI-compatible server (llama.cpp's `llama-server`).

    `busy` says whether the private model has work waiting (the app's fair queue for the server);
    a judgement is then not asked for at all.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        busy: Callable[[], bool] = lambda: False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._busy = busy
        self._transport = transport

    @property
    def name(self) -> str:
        return self._model

    def idle(self) -> bool:
        return not self._busy()

    def judge_yes_no(self, messages: Sequence[ChatMessage], *, timeout_s: float) -> YesNoVerdict:
        started = time.monotonic()
        body = {
            "model": self._model,
            "messages": [m.wire() for m in messages],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        try:
            with httpx.Client(timeout=timeout_s, transport=self._transport) as client:
                response = client.post(self._url, json=body, headers=self._headers)
                response.raise_for_status()
                data = response.json()
        except httpx.TimeoutException as exc:
            raise ModelTimeout(f"yes/no judgement took over {timeout_s} s") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelError(f"yes/no judgement failed: {exc}") from exc
        latency_ms = (time.monotonic() - started) * 1000
        return verdict_from_top(_top_logprobs(data), latency_ms=latency_ms, model=self._model)


def _top_logprobs(data: Any) -> list[tuple[str, float]]:
    """The first generated token's alternatives from an OpenAI chat-completion body."""
    try:
        first = data["choices"][0]["logprobs"]["content"][0]
        # The chosen token itself too, in case the server lists no alternatives; each token once.
        pairs = {str(first["token"]): float(first["logprob"])}
        pairs.update((str(t["token"]), float(t["logprob"])) for t in first.get("top_logprobs") or [])
        return list(pairs.items())
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ModelBadResponse(f"no next-token log-probabilities in the server's answer: {exc}") from exc
