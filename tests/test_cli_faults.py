"""`confidante chat` with a broken hosted endpoint: the default strong → cheap → local chain still
ends in an answer from the private model, with a notice saying so (issue 17 item 5).

A real subprocess, real settings and the real SmolLM2 model; the "hosted API" is the fault proxy
on loopback (a hang or a reset needs no upstream behind it; "down" is a closed port). The turn's
hosted deadline is shortened to keep the test quick; what is asserted is behaviour (which model
answered, the notice, how often the endpoint was asked), never a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.proxy import FaultProxy
from tests.test_cli_chat import run_cli

NOTICE = "gpt-4o is unavailable right now; answered by the private local model."


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_port=9).start()  # never forwarded to: every request gets a fault
    try:
        yield proxy
    finally:
        proxy.stop()


def chat(proxy: FaultProxy, data_dir: Path) -> tuple[dict[str, object], str]:
    proc = run_cli(
        ["chat", "Name three colours.", "--json"],
        data_dir,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=proxy.base_url,
        CONFIDANTE_RELIABILITY__HOSTED_TURN_DEADLINE_S="2",
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["hang", "down"])
def test_a_broken_endpoint_ends_in_a_local_answer_with_a_notice(
    fault: str, proxy: FaultProxy, data_dir: Path
) -> None:
    if fault == "down":
        proxy.take_down()
    else:
        proxy.set_fault(fault, times=None)  # type: ignore[arg-type]
    out, stderr = chat(proxy, data_dir)
    assert out["route"] == "local" and out["model"] == "SmolLM2-135M-Instruct"
    assert out["outcome"] == "fallback" and str(out["answer"]).strip()
    assert NOTICE in out["notices"]  # type: ignore[operator]
    assert f"[fallback] {NOTICE}" in stderr
    bodies = [exchange.body for exchange in proxy.chat_exchanges()]
    # A hung or reset endpoint is left for the rest of the turn: the cheap model is never asked.
    assert all('"gpt-4o-mini"' not in body for body in bodies)
    assert len(bodies) <= (0 if fault == "down" else 3)  # the strong model's attempts at most
