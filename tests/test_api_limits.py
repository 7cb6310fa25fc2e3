"""What a caller may ask of one completion (issue 15): the answer's cap, the prompt's size, and
OpenAI-shaped answers for paths and methods the API does not serve.

Units use scripted models and a bare Starlette app; the server tests drive the official `openai`
SDK against `confidante serve` on loopback, its hosted endpoint behind the recording proxy in
echo mode and the bundled SmolLM2 as the local model (what it writes is never asserted, only how
many tokens it was allowed and why it stopped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from assistant.api.errors import ApiError
from assistant.api.limits import PromptWindow, answer_cap
from assistant.api.schema import ChatCompletionRequest
from assistant.api.unmatched import unmatched_routes
from assistant.identity import Principal
from assistant.pipeline import ChatPipeline, ModelSet, TurnServices
from assistant.settings import Settings
from assistant.turns import Conversation, TurnResult
from models.base import ModelKind, ModelUnavailable
from models.fakes import FunctionModel, QueueModel
from routing.cache import ResponseCache
from tests.browser.app_server import AppServer
from tests.support.api_server import echo_api_server
from tests.support.privacy import ScriptedPrivacy
from tests.support.proxy import FaultProxy

LONG_ASK: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}
]

# --- units: the answer's cap ------------------------------------------------------------------------


def _request(model: str = "confidante", text: str = "hi", **extra: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    )


def test_the_cap_is_read_from_either_name_and_the_smaller_wins() -> None:
    assert answer_cap(_request()) is None
    assert answer_cap(_request(max_tokens=5)) == 5
    assert answer_cap(_request(max_completion_tokens=7)) == 7
    assert answer_cap(_request(max_tokens=9, max_completion_tokens=4)) == 4


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"max_tokens": 0}, "integer_below_min_value"),
        ({"max_completion_tokens": -3}, "integer_below_min_value"),
        ({"max_tokens": "5"}, "invalid_type"),
        ({"max_tokens": True}, "invalid_type"),
        ({"max_tokens": 2.5}, "invalid_type"),
    ],
)
def test_a_cap_below_one_or_not_an_integer_is_a_400(extra: dict[str, object], code: str) -> None:
    with pytest.raises(ApiError) as caught:
        answer_cap(
            ChatCompletionRequest.model_validate({"model": "confidante", "messages": LONG_ASK, **extra})
        )
    assert caught.value.status == 400 and caught.value.code == code
    assert caught.value.param == next(iter(extra))


def _pipeline(local: FunctionModel | QueueModel, hosted: list[FunctionModel | QueueModel]) -> ChatPipeline:
    return ChatPipeline(
        settings=Settings(), models=ModelSet(local=local, hosted=list(hosted)), privacy=ScriptedPrivacy()
    )


async def _turn(pipeline: ChatPipeline, text: str, cap: int | None) -> TurnResult:
    conversation = Conversation(id="c1", principal=Principal(user_id="u1"), answer_cap=cap)
    events = [event async for event in pipeline.run(conversation, text)]
    assert isinstance(events[-1], TurnResult)
    return events[-1]


async def test_the_cap_reaches_the_hosted_model_and_the_local_fallback() -> None:
    hosted = QueueModel(ModelUnavailable("down"), name="strong", kind="hosted")
    local = QueueModel("local answer", name="local")
    result = await _turn(_pipeline(local, [hosted]), "capital of France?", cap=5)
    assert result.outcome == "fallback"
    assert [r.max_tokens for r in hosted.requests] == [5] and [r.max_tokens for r in local.requests] == [5]


async def test_the_cap_reaches_the_local_model_on_a_regulated_turn() -> None:
    hosted = QueueModel(name="strong", kind="hosted", default="never")
    local = QueueModel("local answer", name="local")
    result = await _turn(_pipeline(local, [hosted]), "my SSN is 078-05-1120", cap=3)
    assert result.route == "local" and [r.max_tokens for r in local.requests] == [3]
    assert hosted.requests == []


async def test_a_cap_above_the_models_limit_is_clamped_to_it() -> None:
    local = QueueModel(name="local", default="answer")
    await _turn(_pipeline(local, []), "hello", cap=10**9)
    await _turn(_pipeline(local, []), "hello", cap=None)
    settings = Settings()
    limit = min(settings.models.local.max_tokens, settings.chat.answer_reserve_tokens)
    assert [r.max_tokens for r in local.requests] == [limit, limit]


async def test_a_capped_turn_is_never_answered_from_the_cache() -> None:
    local = QueueModel("a long cached answer", "short", name="local")
    pipeline = ChatPipeline(
        settings=Settings(),
        models=ModelSet(local=local),
        privacy=ScriptedPrivacy(),
        services=TurnServices(cache=ResponseCache()),
    )
    first = await _turn(pipeline, "capital of France?", cap=None)
    again = await _turn(pipeline, "capital of France?", cap=None)
    capped = await _turn(pipeline, "capital of France?", cap=2)
    assert first.answer == "a long cached answer" and again.cached  # the cache does answer this
    assert not capped.cached and capped.answer == "short"
    assert [r.max_tokens for r in local.requests][1:] == [2]


# --- units: the prompt's size ---------------------------------------------------------------------


class CountingModel(FunctionModel):
    """A scripted model that counts how often its tokenizer ran."""

    def __init__(self, *, kind: ModelKind, context_window: int) -> None:
        super().__init__(lambda _r: "x", name=f"{kind}-model", kind=kind, context_window=context_window)
        self.counted = 0

    def count_tokens(self, text: str) -> int:
        self.counted += 1
        return super().count_tokens(text)


def _window(
    local_ctx: int = 2048, hosted_ctx: int = 8192
) -> tuple[PromptWindow, CountingModel, CountingModel]:
    local, hosted = (
        CountingModel(kind="local", context_window=local_ctx),
        CountingModel(kind="hosted", context_window=hosted_ctx),
    )
    return PromptWindow.of(ModelSet(local=local, hosted=[hosted]), Settings()), local, hosted


async def test_a_short_prompt_passes_without_running_any_tokenizer() -> None:
    window, local, hosted = _window()
    await window.check(_request(text="What is our travel policy?"), None)
    assert local.counted == hosted.counted == 0


async def test_a_prompt_over_the_smallest_window_of_the_routed_model_is_a_400() -> None:
    window, _, _ = _window(local_ctx=2048, hosted_ctx=8192)
    words = "word " * 3000  # fits the hosted window, not the local one: the route is not yet known
    with pytest.raises(ApiError) as caught:
        await window.check(_request(text=words), None)
    error = caught.value
    assert error.status == 400 and error.code == "context_length_exceeded" and error.param == "messages"
    assert "2048 tokens" in error.message and "smallest" in error.message


async def test_a_prompt_that_fits_after_counting_passes_and_the_cap_frees_room() -> None:
    window, local, _ = _window(local_ctx=2048)
    settings = Settings()
    reserve = min(settings.models.local.max_tokens, settings.chat.answer_reserve_tokens)
    system = local.count_tokens(settings.chat.system_prompt) + 4
    room = 2048 - reserve - system - 4  # for the one message's text
    text = "word " * (room - 10)  # more bytes than the window, fewer tokens than the room
    await window.check(_request(text=text), None)
    assert local.counted > 1
    over = "word " * (room + 5)
    with pytest.raises(ApiError):
        await window.check(_request(text=over), None)
    await window.check(_request(text=over), cap=16)  # a small cap leaves the room to the prompt


async def test_history_counts_toward_the_window() -> None:
    window, _, _ = _window(local_ctx=2048)
    history = [{"role": "user", "content": "word " * 900}, {"role": "assistant", "content": "word " * 900}]
    body = ChatCompletionRequest.model_validate(
        {"model": "confidante-local", "messages": [*history, {"role": "user", "content": "and?"}]}
    )
    with pytest.raises(ApiError) as caught:
        await window.check(body, None)
    assert "the local model" in caught.value.message


# --- units: paths and methods not served ------------------------------------------------------------


def _app() -> TestClient:
    async def served(request: Request) -> Response:
        return Response("ok")

    async def chat_page(request: Request) -> Response:  # Chainlit's catch-all, in miniature
        return HTMLResponse("<html>chat</html>")

    served_paths = {"/v1/chat/completions": ["POST"], "/v1/models": ["GET"]}
    routes = [
        Route("/v1/chat/completions", served, methods=["POST"]),
        Route("/v1/models", served, methods=["GET"]),
        *unmatched_routes("/v1", served_paths),
        Route("/{rest:path}", chat_page),
    ]
    return TestClient(Starlette(routes=routes))


def test_a_served_path_with_another_method_is_405_with_allow() -> None:
    client = _app()
    assert client.post("/v1/chat/completions").text == "ok"
    response = client.get("/v1/chat/completions")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert client.delete("/v1/models").headers["allow"] == "GET"


def test_an_unknown_api_path_is_404_json_and_other_paths_stay_the_chat_page() -> None:
    client = _app()
    for path in ("/v1", "/v1/", "/v1/embeddings", "/v1/chat/completion"):
        response = client.post(path)
        assert response.status_code == 404, path
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert client.get("/threads/1").text == "<html>chat</html>"


# --- the running server -----------------------------------------------------------------------------


class Api:
    def __init__(self, server: AppServer, proxy: FaultProxy) -> None:
        self.server, self.proxy = server, proxy
        self.base_url = f"{server.base_url}/v1"
        self.key = server.cli("keys", "create", "svc").stdout.strip().splitlines()[-1]

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key=self.key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with echo_api_server(tmp_path_factory.mktemp("api-limits")) as (server, proxy):
        yield Api(server, proxy)


@pytest.mark.slow
def test_max_tokens_caps_the_local_answer_with_finish_reason_length(api: Api) -> None:
    completion = api.client().chat.completions.create(
        model="confidante-local", messages=LONG_ASK, max_tokens=5
    )  # type: ignore[arg-type]
    usage, finish = completion.usage, completion.choices[0].finish_reason
    assert usage is not None and 1 <= usage.completion_tokens <= 5
    assert finish == "length" or usage.completion_tokens < 5  # only a model that ended by itself says "stop"


@pytest.mark.slow
def test_max_completion_tokens_caps_a_streamed_local_answer(api: Api) -> None:
    stream = api.client().chat.completions.create(
        model="confidante-local", messages=LONG_ASK, max_completion_tokens=4,  # type: ignore[arg-type]
        stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = list(stream)
    finish = next(c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason)
    usage = chunks[-1].usage
    assert usage is not None and 1 <= usage.completion_tokens <= 4
    assert finish == "length" or usage.completion_tokens < 4


@pytest.mark.slow
def test_the_cap_goes_on_the_wire_to_the_hosted_model(api: Api) -> None:
    before = len(api.proxy.chat_exchanges())
    api.client().chat.completions.create(
        model="confidante", messages=[{"role": "user", "content": "Name a colour"}], max_tokens=7
    )
    sent = [json.loads(e.body) for e in api.proxy.chat_exchanges()[before:]]
    assert sent and all(body["max_tokens"] == 7 for body in sent)


@pytest.mark.slow
def test_a_cap_below_one_is_a_400_in_the_openai_shape(api: Api) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        api.client().chat.completions.create(model="confidante", messages=LONG_ASK, max_tokens=0)  # type: ignore[arg-type]
    assert caught.value.body["code"] == "integer_below_min_value"  # type: ignore[index]
    assert caught.value.body["param"] == "max_tokens"  # type: ignore[index]


@pytest.mark.slow
def test_an_over_long_prompt_is_a_400_before_anything_leaves(api: Api) -> None:
    before = len(api.proxy.chat_exchanges())
    prompt = "The quarterly figures for the northern region were reviewed again. " * 1700  # ~110 KB
    with pytest.raises(openai.BadRequestError) as caught:
        api.client().chat.completions.create(
            model="confidante", messages=[{"role": "user", "content": prompt}]
        )
    body = caught.value.body
    assert body["code"] == "context_length_exceeded"  # type: ignore[index]
    # The window depends on the installed model profile (2048 or 4096): the message names it.
    assert re.search(r"context window of \d+ tokens", body["message"])  # type: ignore[index]
    assert len(api.proxy.chat_exchanges()) == before


@pytest.mark.slow
def test_get_on_the_completions_path_is_405_and_unknown_paths_404_not_the_chat_page(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.key}"}
    response = httpx.get(f"{api.base_url}/chat/completions", headers=headers, timeout=60)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    with pytest.raises(openai.NotFoundError) as caught:
        api.client().embeddings.create(model="confidante", input="hello")
    assert caught.value.body["code"] == "unknown_url"  # type: ignore[index]
    assert "<html" not in httpx.get(f"{api.base_url}/nothing-here", timeout=60).text.lower()


@pytest.mark.slow
def test_the_api_served_ahead_of_the_chat_keeps_cors_and_the_security_headers(api: Api) -> None:
    """The API's requests skip the chat's middleware (`ApiFirst`); what a browser app calling it
    needs stays: Chainlit's CORS for the app's own origin, and the same security headers."""
    origin = api.server.base_url
    preflight = httpx.options(
        f"{api.base_url}/chat/completions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=60,
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
    listed = httpx.get(
        f"{api.base_url}/models", headers={"Authorization": f"Bearer {api.key}", "Origin": origin}, timeout=60
    )
    assert listed.status_code == 200 and listed.headers["access-control-allow-origin"] == origin
    assert listed.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in listed.headers
    refused = httpx.options(
        f"{api.base_url}/chat/completions",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
        timeout=60,
    )
    assert "access-control-allow-origin" not in refused.headers
    page = httpx.get(f"{api.server.base_url}/", timeout=60)  # the chat page: still Chainlit's
    assert page.status_code == 200 and "<html" in page.text.lower()
