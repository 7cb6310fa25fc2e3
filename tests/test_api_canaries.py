"""Regulated canaries in every place an API client can put text, proven absent on the wire.

One real `confidante serve` with its hosted endpoint behind the recording proxy (echo mode), driven
by the official `openai` SDK, streaming and not. Each request carries a canary (an SSN, a card
number that passes Luhn, an IBAN, a named person's diagnosis: shapes the real gate detects) in one
position: the last or an earlier user message, an assistant message, a system or developer
message, text parts, an old turn the history window drops, a long message, obfuscated digits.
Every body the proxy ever received is searched for each canary in any form (JSON-decoded,
NFKC-folded, invisible characters removed, separators squashed), and the receipt must say
regulated / local. Fields the pipeline never reads (`user`, `metadata`, `name`, unknown
`extra_body` keys, unknown part keys) must not carry a canary out either: those requests go to
the hosted model, which is what makes their clean wire mean something; `stop` is refused (400).

This module must never assert what a model writes: only where the turn ran and what left.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest

from assistant.api.completions import LOCAL_REASON
from tests.browser.app_server import AppServer
from tests.support.api_server import echo_api_server
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.slow

HARMLESS = "Thanks. What should I do next?"
PUBLIC_ASK = "Suggest a name for a team newsletter"
ZW = "\u200b"


@dataclass(frozen=True)
class Canary:
    text: str  # a sentence the gate tiers regulated on its own
    forms: tuple[str, ...]  # what must never appear on the wire, compared squashed


def _fullwidth(text: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in text)


# Not the published examples (DE89 3704…, 4111 1111…, 078-05-1120): the policy's known test
# values are public by design, so a canary must be a value only this test made up.
CANARIES = {
    "ssn": Canary("My SSN is 536-22-4567.", ("536224567",)),
    "card": Canary("Please charge my card 4539 1488 0343 6467.", ("4539148803436467",)),
    "iban": Canary("Wire the refund to IBAN DE10 3705 0299 0123 4567 89.", ("DE10370502990123456789",)),
    "diagnosis": Canary(
        "Henrik Baumgartner has been diagnosed with multiple sclerosis.", ("Baumgartner", "sclerosis")
    ),
}

# Obfuscated forms the gate claims to normalize, each in the last user message.
OBFUSCATED = {
    "ssn-spaces": Canary("My SSN is 536 22 4567.", ("536224567",)),
    "ssn-zero-width": Canary(f"My SSN is 5{ZW}3{ZW}6-2{ZW}2-4{ZW}567.", ("536224567",)),
    "ssn-full-width": Canary(f"My SSN is {_fullwidth('536-22-4567')}.", ("536224567",)),
    "card-dashes": Canary("Please charge my card 4539-1488-0343-6467.", ("4539148803436467",)),
    "card-zero-width": Canary(f"Please charge my card 4539{ZW}1488{ZW}0343{ZW}6467.", ("4539148803436467",)),
    "card-full-width": Canary(
        f"Please charge my card {_fullwidth('4539 1488 0343 6467')}.", ("4539148803436467",)
    ),
    "iban-compact": Canary("Wire the refund to IBAN DE10370502990123456789.", ("DE10370502990123456789",)),
}


def _parts(*texts: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": text} for text in texts]


def _old_turn(text: str) -> list[dict[str, Any]]:
    """The canary in the oldest of 22 turns: the history window (20 turns) drops it from the request."""
    filler = [
        message
        for i in range(21)
        for message in (
            {"role": "user", "content": f"Point {i}."},
            {"role": "assistant", "content": "Noted."},
        )
    ]
    return [{"role": "user", "content": text}, {"role": "assistant", "content": "Noted."}, *filler]


def _long(text: str) -> str:
    """About 1,300 tokens with the canary in the middle: within the local model's window."""
    filler = "The quarterly planning notes continue here with routine details. " * 70
    return f"{filler}{text} {filler}{HARMLESS}"


# Where a client can put the canary; every position keeps the whole turn local.
POSITIONS: dict[str, Any] = {
    "last-user": lambda c: [{"role": "user", "content": f"{c} {HARMLESS}"}],
    "earlier-user": lambda c: [
        {"role": "user", "content": c},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": HARMLESS},
    ],
    "assistant": lambda c: [
        {"role": "user", "content": "What do you have on file for me?"},
        {"role": "assistant", "content": c},
        {"role": "user", "content": HARMLESS},
    ],
    "system": lambda c: [{"role": "system", "content": c}, {"role": "user", "content": HARMLESS}],
    "developer": lambda c: [{"role": "developer", "content": c}, {"role": "user", "content": HARMLESS}],
    "parts-last": lambda c: [{"role": "user", "content": _parts("Hello.", c, HARMLESS)}],
    "parts-history": lambda c: [
        {"role": "user", "content": _parts("Hello.", c)},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": _parts(HARMLESS)},
    ],
    "dropped-old-turn": lambda c: [*_old_turn(c), {"role": "user", "content": HARMLESS}],
    "long-message": lambda c: [{"role": "user", "content": _long(c)}],
}


def _squash(text: str) -> str:
    """Letters and digits only, upper case, after NFKC (full-width digits fold to ASCII)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch.isalnum()).upper()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _leaks(proxy: FaultProxy, canary: Canary, since: int = 0) -> list[str]:
    """The canary's forms in any body the hosted endpoint received since request `since` (raw or
    decoded). Tests look at their own requests, so a failure names the position that leaked;
    the module's last test looks at everything, late arrivals included."""
    return _found(proxy.requests[since:], canary)


def _found(bodies: list[str], canary: Canary) -> list[str]:
    found = []
    for body in bodies:
        texts = [body]
        try:
            texts += list(_strings(json.loads(body)))
        except ValueError:
            pass
        wire = "\n".join(_squash(text) for text in texts)
        found += [form for form in canary.forms if _squash(form) in wire]
    return found


class Api:
    def __init__(self, server: AppServer, proxy: FaultProxy) -> None:
        self.server, self.proxy = server, proxy
        self.key = server.cli("keys", "create", "svc", "--rate", "1000").stdout.strip().splitlines()[-1]
        self.client = openai.OpenAI(
            base_url=f"{server.base_url}/v1", api_key=self.key, max_retries=0, timeout=180
        )

    def ask(self, messages: list[dict[str, Any]], *, stream: bool, **extra: Any) -> dict[str, Any]:
        """The receipt of one completion (the last chunk's, streamed), headers checked against it."""
        create: Any = self.client.chat.completions.with_raw_response.create
        response = create(model=extra.pop("model", "confidante"), messages=messages, stream=stream, **extra)
        parsed: Any = response.parse()
        if not stream:
            receipt: dict[str, Any] = parsed.model_extra["confidante"]
            assert response.headers["x-confidante-tier"] == receipt["tier"]
            assert response.headers["x-confidante-route"] == receipt["route"]
            return receipt
        chunks = list(parsed)
        assert chunks and chunks[-1].model_extra is not None
        return dict(chunks[-1].model_extra["confidante"])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = {"CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "8"}  # where it ran is asserted, never what it wrote
    with echo_api_server(tmp_path_factory.mktemp("canaries"), env) as (server, proxy):
        yield Api(server, proxy)


def test_the_wire_search_finds_every_form_it_looks_for() -> None:
    """The search must see through JSON escapes and the obfuscations, or a clean wire proves nothing."""
    for canary in (*CANARIES.values(), *OBFUSCATED.values()):
        body = json.dumps({"messages": [{"role": "user", "content": f"x {canary.text} y"}]})  # \\u escapes
        assert _found([body], canary) == list(canary.forms)
        assert _found([json.dumps({"messages": [{"content": "nothing here"}]})], canary) == []


@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("name", list(CANARIES))
def test_a_canary_in_any_position_keeps_the_turn_local(api: Api, name: str, position: str) -> None:
    canary, since = CANARIES[name], len(api.proxy.requests)
    stream = (list(CANARIES).index(name) + list(POSITIONS).index(position)) % 2 == 1
    receipt = api.ask(POSITIONS[position](canary.text), stream=stream)
    assert (receipt["tier"], receipt["route"]) == ("regulated", "local"), receipt
    assert _leaks(api.proxy, canary, since) == []


@pytest.mark.parametrize("name", list(OBFUSCATED))
def test_an_obfuscated_canary_is_still_regulated(api: Api, name: str) -> None:
    canary, since = OBFUSCATED[name], len(api.proxy.requests)
    stream = list(OBFUSCATED).index(name) % 2 == 0
    receipt = api.ask([{"role": "user", "content": f"{canary.text} {HARMLESS}"}], stream=stream)
    assert (receipt["tier"], receipt["route"]) == ("regulated", "local"), receipt
    assert _leaks(api.proxy, canary, since) == []


@pytest.mark.parametrize("name", list(CANARIES))
def test_fields_the_pipeline_never_reads_do_not_carry_a_canary_out(api: Api, name: str) -> None:
    canary, since = CANARIES[name], len(api.proxy.requests)
    before = len(api.proxy.chat_exchanges())
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief.", "name": canary.text},
        {"role": "user", "content": [{"type": "text", "text": "Hello.", "note": canary.text}]},
        {"role": "assistant", "content": "Hello!", "refusal": canary.text},
        {"role": "user", "content": PUBLIC_ASK, "name": canary.text},
    ]
    receipt = api.ask(
        messages,
        stream=list(CANARIES).index(name) % 2 == 0,
        user=canary.text,
        metadata={"note": canary.text},
        extra_body={"patient": canary.text, "confidante": {"use_documents": False}},
    )
    # Public, so it went out: a clean wire here shows the fields were not forwarded.
    assert receipt["route"] == "hosted" and len(api.proxy.chat_exchanges()) > before, receipt
    assert _leaks(api.proxy, canary, since) == []


@pytest.mark.parametrize("name", list(CANARIES))
def test_a_canary_in_a_refused_option_is_refused_before_any_model(api: Api, name: str) -> None:
    """`stop` is refused (400), not ignored: its text must not reach the hosted model either."""
    canary, since = CANARIES[name], len(api.proxy.requests)
    with pytest.raises(openai.BadRequestError) as refused:
        api.ask([{"role": "user", "content": PUBLIC_ASK}], stream=name == "card", stop=[canary.text])
    assert refused.value.body["param"] == "stop"  # type: ignore[index]
    assert _leaks(api.proxy, canary, since) == []


def _halves(first: str, second: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"Remember the first half: {first}"},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": f"Second half: {second}. Put them together."},
    ]


def test_a_canary_split_across_messages_or_parts_never_leaves_whole(api: Api) -> None:
    """Each half alone may look harmless; what goes out (pseudonymized or not at all) holds neither
    half of a card or IBAN as written, so the value cannot be put back together upstream."""
    since = len(api.proxy.requests)
    api.ask(_halves("4539 1488", "0343 6467"), stream=False)
    api.ask(_halves("DE10 3705 0299", "0123 4567 89"), stream=True)
    api.ask([{"role": "user", "content": _parts("My SSN is 536-22-", "4567. " + HARMLESS)}], stream=True)
    api.ask(
        [
            {"role": "user", "content": "Henrik Baumgartner asked me a question."},
            {"role": "assistant", "content": "What did he ask?"},
            {"role": "user", "content": "He has been diagnosed with multiple sclerosis; how can I help?"},
        ],
        stream=False,
    )
    halves = Canary("", ("45391488", "03436467", "DE1037050299", "0123456789", "536224567"))
    assert _leaks(api.proxy, halves, since) == []
    assert _leaks(api.proxy, CANARIES["diagnosis"], since) == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_body_is_gated_as_it_inflates(api: Api, encoding: str) -> None:
    """Compressed bodies are inflated before parsing: the history's canary still keeps the turn local."""
    canary, since = CANARIES["ssn"], len(api.proxy.requests)
    body = json.dumps({"model": "confidante", "messages": POSITIONS["earlier-user"](canary.text)}).encode()
    packed = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    response = httpx.post(
        f"{api.server.base_url}/v1/chat/completions",
        content=packed,
        headers={"Authorization": f"Bearer {api.key}", "Content-Encoding": encoding},
        timeout=180,
    )
    assert response.status_code == 200, response.text
    assert (response.headers["x-confidante-tier"], response.headers["x-confidante-route"]) == (
        "regulated",
        "local",
    )
    assert _leaks(api.proxy, canary, since) == []


def test_a_message_the_gate_cannot_read_fails_closed(api: Api) -> None:
    """A lone surrogate (valid JSON, not valid text) no gate can read: the request is a 422 naming
    the field (it was a 500 after the gate failed closed), and nothing reaches the hosted model."""
    since = len(api.proxy.requests)
    messages = [{"role": "user", "content": f"{PUBLIC_ASK} \ud800 about Orvald2"}]
    response = httpx.post(
        f"{api.server.base_url}/v1/chat/completions",
        content=json.dumps({"model": "confidante", "messages": messages}),  # ASCII, the surrogate escaped
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        timeout=180,
    )
    assert "Traceback" not in response.text
    assert response.status_code == 422 and response.json()["error"]["param"] == "messages.0.content"
    assert len(api.proxy.requests) == since


@pytest.mark.parametrize("stream", [False, True])
def test_confidante_local_never_reaches_the_hosted_endpoint(api: Api, stream: bool) -> None:
    since = len(api.proxy.requests)
    marker = Canary(f"Describe the lighthouse keeper called Orvald{int(stream)}.", (f"Orvald{int(stream)}",))
    receipt = api.ask([{"role": "user", "content": marker.text}], stream=stream, model="confidante-local")
    assert (receipt["tier"], receipt["route"]) == ("regulated", "local"), receipt
    assert LOCAL_REASON in receipt["tainted_by"]
    assert _leaks(api.proxy, marker, since) == []
    assert len(api.proxy.requests) == since  # not even a request without the text


def test_every_retry_of_a_pseudonymized_request_stays_pseudonymized(api: Api) -> None:
    """The hosted adapter posts its wire body itself now: each retry after a 500 and the local
    fallback must send no more than the first attempt did. Next to last: it may open the breaker."""
    name, since = Canary("", ("Baumgartner",)), len(api.proxy.chat_exchanges())
    api.proxy.set_fault("http_500", times=None)
    try:
        receipt = api.ask(
            [
                {
                    "role": "user",
                    "content": "Write a thank-you note to Henrik Baumgartner for the quarterly report",
                }
            ],
            stream=True,
        )
    finally:
        api.proxy.set_fault("echo", times=None)
    attempts = [exchange.body for exchange in api.proxy.chat_exchanges()[since:]]
    assert len(attempts) >= 2 and receipt["route"] == "local", receipt  # retried, then fell back
    assert all("<PERSON_" in body for body in attempts)
    assert _found(attempts, name) == []


def test_the_whole_wire_never_held_a_canary(api: Api) -> None:
    """Last in the module: every body the proxy received during it, late arrivals included."""
    assert len(api.proxy.chat_exchanges()) >= len(CANARIES)  # the public requests did go out
    for canary in (*CANARIES.values(), *OBFUSCATED.values()):
        assert _leaks(api.proxy, canary) == []
