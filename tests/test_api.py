"""The governed OpenAI-compatible API, driven by the official `openai` SDK against a real server.

`confidante serve` runs on loopback with its hosted endpoint behind the recording proxy in echo
mode (it answers with the last user message it received, so a placeholder that reached it comes
back and must be restored). The local model is the bundled SmolLM2 in process; what it writes is
never asserted, only where it ran. Unit tests cover the pieces (keys, limiter, request shape,
taint of the request's history) without a server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from assistant.api.completions import LOCAL_REASON, conversation_for
from assistant.api.ratelimit import RateLimiter
from assistant.api.schema import ChatCompletionRequest
from assistant.governance.api_keys import ApiKeyError, ApiKeys, AuthorizedKey
from assistant.governance.component import build_governance
from assistant.governance.settings import GovernanceSettings
from routing.tiers import Tier
from tests.browser.app_server import AppServer
from tests.support.api_server import echo_api_server
from tests.support.proxy import FaultProxy

SSN = "536-22-4567"
NAME = "Margaret Thornbury"

# --- units ---------------------------------------------------------------------------------------


def test_the_rate_limiter_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.acquire("k", 2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("k", 2) == pytest.approx(30.0)
    now[0] = 30.0
    assert limiter.acquire("k", 2) == 0.0
    assert limiter.acquire("other", 2) == 0.0


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[ApiKeys]:
    governance = build_governance(GovernanceSettings(), tmp_path)
    governance.accounts.add_user(username="svc", password=None, groups=["finance"])
    yield governance.api_keys
    governance.close()


def test_a_key_is_shown_once_stored_hashed_and_acts_as_its_owner(keys: ApiKeys, tmp_path: Path) -> None:
    public, secret = keys.create(owner="svc", name="reports", created_by="admin")
    assert secret.startswith(f"cfd_{public.prefix}_")
    authorized = keys.authorize(secret)
    assert authorized is not None and authorized.principal.user_id == "svc"
    assert authorized.principal.groups == frozenset({"finance"})
    assert secret.split("_")[-1] not in (tmp_path / "confidante.db").read_bytes().decode("latin-1")
    assert keys.authorize(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert keys.authorize("sk-not-ours") is None


def test_revoked_and_expired_keys_stop_working(keys: ApiKeys) -> None:
    public, secret = keys.create(owner="svc", name="a", created_by="admin")
    keys.revoke(prefix=public.prefix)
    assert keys.authorize(secret) is None
    assert keys.list()[0].status == "revoked"
    with pytest.raises(ApiKeyError, match="no account"):
        keys.create(owner="nobody", name="b", created_by="admin")


def _request(messages: list[dict[str, object]], model: str = "confidante") -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": model, "messages": messages})


def test_the_request_must_end_with_a_user_message_of_text() -> None:
    with pytest.raises(ValueError, match="last message"):
        _request([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    with pytest.raises(ValueError, match="text content"):
        _request([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])


class _Assessment:
    def __init__(self, tier: Tier) -> None:
        self.tier = tier


class _Privacy:
    def assess(self, text: str, *, source: str) -> _Assessment:
        return _Assessment(Tier.REGULATED if SSN in text else Tier.PUBLIC)


def _key(keys: ApiKeys) -> AuthorizedKey:
    _, secret = keys.create(owner="svc", name="a", created_by="admin")
    authorized = keys.authorize(secret)
    assert authorized is not None
    return authorized


def test_a_regulated_value_anywhere_in_the_history_taints_the_turn(keys: ApiKeys) -> None:
    request = _request(
        [
            {"role": "user", "content": f"my SSN is {SSN}"},
            {"role": "assistant", "content": "noted"},
            {"role": "user", "content": "what did I just tell you?"},
        ]
    )
    conversation = conversation_for(request, _key(keys), _Privacy())
    assert conversation.tier is Tier.REGULATED and conversation.tainted_by == ["history"]
    assert [m.role for m in conversation.history] == ["user", "assistant"]
    assert conversation.id.startswith("api-")


def test_the_local_model_name_keeps_the_turn_local(keys: ApiKeys) -> None:
    request = _request([{"role": "user", "content": "hello"}], model="confidante-local")
    conversation = conversation_for(request, _key(keys), _Privacy())
    assert conversation.tier is Tier.REGULATED and LOCAL_REASON in conversation.tainted_by


# --- the running server ---------------------------------------------------------------------------


class Api:
    def __init__(self, server: AppServer, proxy: FaultProxy) -> None:
        self.server, self.proxy = server, proxy
        self.base_url = f"{server.base_url}/v1"

    def key(self, *options: str) -> str:
        output = self.server.cli("keys", "create", "svc", *options).stdout
        return output.strip().splitlines()[-1]

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=120)

    def audit(self) -> list[dict[str, object]]:
        lines = self.server.cli("audit", "export").stdout.splitlines()
        return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    env = {"CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "48"}
    with echo_api_server(tmp_path_factory.mktemp("api"), env) as (server, proxy):
        yield Api(server, proxy)


@pytest.mark.slow
def test_the_sdk_streams_an_answer_with_the_receipt_in_the_last_chunk(api: Api) -> None:
    stream = api.client(api.key()).chat.completions.create(
        model="confidante",
        messages=[{"role": "user", "content": "Suggest a name for a team newsletter"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "team newsletter" in text  # the echo stub handed the question back through the pipeline
    receipt = chunks[-1].model_extra["confidante"]  # type: ignore[index]
    assert receipt["route"] == "hosted" and receipt["tier"] == "public"
    assert set(receipt["ms_by_phase"]) >= {"gate", "attempt"}  # the server's own gate time, for benches
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.slow
def test_a_regulated_prompt_is_answered_locally_and_never_reaches_the_hosted_endpoint(api: Api) -> None:
    before = len(api.proxy.chat_exchanges())
    response = api.client(api.key()).chat.completions.with_raw_response.create(
        model="confidante",
        messages=[{"role": "user", "content": f"My SSN is {SSN}. Which form updates my tax withholding?"}],
    )
    completion = response.parse()
    assert response.headers["x-confidante-tier"] == "regulated"
    assert response.headers["x-confidante-route"] == "local"
    assert completion.model_extra["confidante"]["route"] == "local"  # type: ignore[index]
    assert not any(SSN.replace("-", "") in e.body.replace("-", "") for e in api.proxy.chat_exchanges())
    assert len(api.proxy.chat_exchanges()) == before


@pytest.mark.slow
def test_a_name_is_pseudonymized_on_the_wire_and_restored_in_the_answer(api: Api) -> None:
    before = len(api.proxy.chat_exchanges())
    completion = api.client(api.key()).chat.completions.create(
        model="confidante",
        messages=[{"role": "user", "content": f"Write a thank-you note to {NAME} for the quarterly report"}],
    )
    sent = [e.body for e in api.proxy.chat_exchanges()[before:]]
    assert sent and not any("Thornbury" in body for body in sent)
    assert NAME in (completion.choices[0].message.content or "")
    assert completion.model_extra["confidante"]["pseudonymized"]  # type: ignore[index]


@pytest.mark.slow
def test_a_revoked_key_gets_401_in_the_openai_error_shape(api: Api) -> None:
    key = api.key()
    api.server.cli("keys", "revoke", key.split("_")[1])
    with pytest.raises(openai.AuthenticationError) as caught:
        api.client(key).models.list()
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]


@pytest.mark.slow
def test_the_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    client = api.client(api.key("--rate", "1"))
    ask = {"model": "confidante", "messages": [{"role": "user", "content": "Say hello to the team"}]}
    client.chat.completions.create(**ask)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert int(caught.value.response.headers["retry-after"]) >= 1


@pytest.mark.slow
def test_the_key_budget_answers_429_insufficient_quota(api: Api) -> None:
    client = api.client(api.key("--daily-tokens", "1"))
    ask = {"model": "confidante", "messages": [{"role": "user", "content": "Say hello to the team"}]}
    client.chat.completions.create(**ask)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert caught.value.body["code"] == "insufficient_quota"  # type: ignore[index]


@pytest.mark.slow
def test_an_owner_over_budget_gets_429_streamed_or_not(api: Api) -> None:
    """The owner's budget is the pipeline's first check; its refusal was a 200 stream carrying the
    refusal sentence before the API read the turn's result behind it."""
    api.server.cli("users", "add", "spent", "--no-password")
    api.server.cli("users", "set-budget", "spent", "--daily-tokens", "0")
    key = api.server.cli("keys", "create", "spent").stdout.strip().splitlines()[-1]
    before = len(api.proxy.chat_exchanges())
    ask = {"model": "confidante", "messages": [{"role": "user", "content": "Say hello to the team"}]}
    for stream in (True, False):
        with pytest.raises(openai.RateLimitError) as caught:
            api.client(key).chat.completions.create(**ask, stream=stream)  # type: ignore[call-overload]
        assert caught.value.body["code"] == "insufficient_quota"  # type: ignore[index]
    assert len(api.proxy.chat_exchanges()) == before  # refused before any model call


@pytest.mark.slow
def test_bad_requests_get_4xx_in_the_openai_shape(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key()}"}
    url = f"{api.base_url}/chat/completions"
    cases = [
        (b"{not json", 422),
        (json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}).encode(), 404),
        (json.dumps({"model": "confidante", "messages": []}).encode(), 422),
        (
            b'{"model": "confidante", "messages": [{"role": "user", "content": "'
            + b"a" * 1_100_000
            + b'"}]}',
            413,
        ),
    ]
    for body, status in cases:
        response = httpx.post(url, content=body, headers=headers, timeout=60)
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        assert "Traceback" not in response.text
    assert httpx.get(f"{api.base_url}/models", timeout=30).status_code == 401


@pytest.mark.slow
def test_a_client_that_disconnects_mid_stream_is_recorded(api: Api) -> None:
    client = api.client(api.key())
    stream = client.chat.completions.create(
        model="confidante-local",
        messages=[{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        stream=True,
    )
    next(iter(stream))
    stream.close()
    for _ in range(120):
        details = [str(r.get("detail")) for r in api.audit() if r.get("kind") == "api_request"]
        if any("client disconnected" in d for d in details):
            break
        time.sleep(0.5)
    assert any("client disconnected" in d for d in details)


@pytest.mark.slow
def test_caller_tools_get_a_400_and_nothing_reaches_the_hosted_endpoint(api: Api) -> None:
    before = len(api.proxy.chat_exchanges())
    client = api.client(api.key())
    schema: dict[str, Any] = {"name": "lookup", "description": f"records for SSN {SSN}", "parameters": {}}
    tool: Any = {"type": "function", "function": schema}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="confidante", messages=[{"role": "user", "content": "Look me up"}], tools=[tool]
        )
    assert caught.value.status_code == 400
    assert caught.value.body["code"] == "unsupported_parameter" and caught.value.body["param"] == "tools"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as result:
        client.chat.completions.create(
            model="confidante",
            messages=[
                {"role": "user", "content": "Look me up"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": f"SSN {SSN} belongs to {NAME}"},
                {"role": "user", "content": "Summarize that"},
            ],
        )  # fmt: skip
    assert result.value.body["param"] == "messages.1"  # type: ignore[index]
    sent = [e.body for e in api.proxy.chat_exchanges()[before:]]
    assert sent == []  # refused before the gate: not even a pseudonymized copy went out


@pytest.mark.slow
def test_a_finished_stream_is_charged_and_recorded_after_its_last_byte(api: Api) -> None:
    key = api.key("--daily-tokens", "1")
    client = api.client(key)
    ask: Any = {"model": "confidante", "messages": [{"role": "user", "content": "Say hello to the team"}]}
    chunks = list(client.chat.completions.create(**ask, stream=True))
    assert chunks and chunks[-1].choices[0].finish_reason == "stop"
    prefix = key.split("_")[1]
    for _ in range(120):  # the record is written by a background task once the response is sent
        details = [str(r.get("detail")) for r in api.audit() if r.get("kind") == "api_request"]
        if any(d.startswith(f"key={prefix} status=200 stream outcome=") for d in details):
            break
        time.sleep(0.5)
    assert any(d.startswith(f"key={prefix} status=200 stream outcome=") for d in details)
    with pytest.raises(openai.RateLimitError):  # the stream's tokens were charged to the key
        client.chat.completions.create(**ask)
