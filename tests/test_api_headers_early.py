"""A streamed completion's response headers leave once the hosted model accepted the request, while
it works on its first token, as a proxy's do (issue 15: the client read them on the first token's
path). Real server, official-SDK-shaped HTTP, and an upstream that holds its first token until
the test lets it go: nothing here depends on timing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.app_server import AppServer
from tests.support.scripted_openai import ScriptedOpenAI, _sse, text_stream

pytestmark = pytest.mark.slow


class HeldUpstream(ScriptedOpenAI):
    """Answers 200 with an event stream at once, then holds the stream until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.answered = threading.Event()
        self.held_to_the_end = False  # the release never came: the headers waited for the token
        base = self._server.RequestHandlerClass
        upstream = self

        class Held(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                upstream.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.flush()
                upstream.answered.set()
                upstream.held_to_the_end = not upstream.release.wait(timeout=20)
                for line in _sse(text_stream("Here are three tips")):
                    self.wfile.write(line)
                self.wfile.flush()

        self._server.RequestHandlerClass = Held


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, HeldUpstream, str]]:
    upstream = HeldUpstream().start()
    root: Path = tmp_path_factory.mktemp("api-early")
    env = {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "upstream-key"}
    server = AppServer(root / "data", root / "serve.log", env=env)
    server.start()
    try:
        server.cli("users", "add", "svc", "--no-password")
        key = server.cli("keys", "create", "svc").stdout.strip().splitlines()[-1]
        yield server, upstream, key
    finally:
        upstream.release.set()
        server.stop()
        upstream.stop()


def test_the_headers_arrive_while_the_hosted_model_holds_its_first_token(
    served: tuple[AppServer, HeldUpstream, str],
) -> None:
    server, upstream, key = served
    body = {
        "model": "confidante",
        "stream": True,
        "messages": [{"role": "user", "content": "List three tips for a weekly status update"}],
    }
    headers = {"Authorization": f"Bearer {key}"}
    # If the headers only came with the first token, entering the stream would wait for the
    # release, which only comes after the assertions below: the upstream gives up after 20 s.
    with httpx.Client(base_url=server.base_url, timeout=90) as client:
        with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
            assert upstream.answered.is_set() and not upstream.release.is_set()
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            upstream.release.set()
            frames = [
                line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")
            ]
    chunks = [json.loads(frame) for frame in frames if frame != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert not upstream.held_to_the_end
    assert text == "Here are three tips" and frames[-1] == "[DONE]"
    assert chunks[-1]["confidante"]["route"] == "hosted"
