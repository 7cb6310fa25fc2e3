"""The admin dashboard, escalation resolution, file downloads and /metrics over real HTTP.

A FastAPI app with a Chainlit-style catch-all route runs under uvicorn on loopback; sessions are
Chainlit's own signed tokens, sent as its cookie.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from assistant.governance.audit import AuditEvent
from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.ui.datalayer import data_layer_for
from tests.support.console_server import console_server, session_cookie

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


@pytest.fixture(scope="module")
def governance(tmp_path_factory) -> Iterator[Governance]:
    data_dir = tmp_path_factory.mktemp("dash")
    gov = build_governance(GovernanceSettings(passwords=FAST), data_dir)
    gov.accounts.add_user(username="admin", password="admin password", role="admin")
    gov.accounts.add_user(username="alice", password="alice password")
    gov.accounts.add_user(username="bob", password="bob password")
    for i, (route, tier, outcome) in enumerate(
        [("local", "regulated", "ok"), ("hosted", "public", "ok"), ("hosted", "internal", "fallback")] * 4
    ):
        gov.audit.record(AuditEvent(kind="routing_decision", user_id="alice", tier=tier, route=route))
        gov.audit.record(
            AuditEvent(
                kind="model_call", user_id="alice", tier=tier, route=route, model="m", outcome=outcome,
                latency_ms=100.0 * (i + 1), prompt_tokens=50, completion_tokens=10, cost_usd=0.001,
                schema_valid=i % 2 == 0,
            )
        )  # fmt: skip
    gov.escalations.open("tA", "alice", "user_request", "Wants to talk to a person <b>now</b>")
    gov.telemetry.observe_model_call(
        route="local", tier="regulated", model="SmolLM2", latency_s=1.5, ttft_s=0.3, prompt_tokens=12,
        completion_tokens=34, outcome="ok",
    )  # fmt: skip
    yield gov
    gov.close()


@pytest.fixture(scope="module")
def server(governance) -> Iterator[str]:
    with console_server(governance, "dashboard") as url:
        yield url


def test_anonymous_gets_401(server):
    assert httpx.get(f"{server}/admin/dashboard").status_code == 401


def test_forged_token_gets_401(server):
    import jwt

    forged = jwt.encode(
        {"identifier": "admin", "metadata": {}, "exp": time.time() + 60}, "wrong", algorithm="HS256"
    )
    assert httpx.get(f"{server}/admin/dashboard", cookies={"access_token": forged}).status_code == 401


def test_non_admin_gets_403_even_with_admin_claims_in_the_token(server):
    # The token says role=admin; the database says user: the database wins.
    response = httpx.get(f"{server}/admin/dashboard", cookies=session_cookie("alice"))
    assert response.status_code == 403


def test_admin_sees_charts_without_scripts(server, governance):
    response = httpx.get(f"{server}/admin/dashboard", cookies=session_cookie("admin"))
    assert response.status_code == 200
    html = response.text
    assert html.count("<svg") >= 9 and html.count("<title") >= 9
    titles = ["Latency by route: local", "Routing split by tier", "Cost per day", "Cost per query"]
    titles += [
        "Token usage per day",
        "Feedback",
        "Escalation and fallback rates",
        "Answers in the expected format",
    ]
    for title in titles:
        assert title in html
    assert "regulated" in html and "p95" in html
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "&lt;b&gt;now&lt;/b&gt;" in html  # escalation detail escaped
    ticket = next(item for item in governance.escalations.list_open() if item.thread_id == "tA")
    assert f'<a href="/admin/escalations/{ticket.id}">read the conversation</a>' in html
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_routes_win_over_the_catch_all(server):
    assert httpx.get(f"{server}/some/page").text == "chainlit frontend"
    assert httpx.get(f"{server}/metrics").text != "chainlit frontend"


def _csrf_from_page(server: str, cookies: dict[str, str]) -> str:
    import re

    html = httpx.get(f"{server}/admin/dashboard", cookies=cookies).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the dashboard's resolve form carries no CSRF token"
    return found.group(1)


def test_resolving_an_escalation_requires_admin_and_the_sessions_csrf_token(server, governance):
    item = governance.escalations.list_open()[0]
    url = f"{server}/admin/escalations/{item.id}/resolve"
    admin = session_cookie("admin")
    token = _csrf_from_page(server, admin)
    as_alice = httpx.post(url, data={"note": "x", "csrf_token": token}, cookies=session_cookie("alice"))
    assert as_alice.status_code == 403 and "Administrators only." in as_alice.text
    from assistant.ui.csrf import csrf_token

    other_session = csrf_token("another-session", os.environ["CHAINLIT_AUTH_SECRET"])
    refused = [
        httpx.post(url, data={"note": "x"}, cookies=admin),  # no token
        httpx.post(url, data={"note": "x", "csrf_token": token + "x"}, cookies=admin),  # wrong token
        httpx.post(url, data={"note": "x", "csrf_token": other_session}, cookies=admin),  # not this session's
        httpx.post(
            url, data={"note": "x", "csrf_token": token}, cookies=admin,
            headers={"Origin": "https://evil.example"},
        ),  # a valid token but another site's Origin
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert "application/json" not in refused[0].headers["content-type"]
    assert governance.escalations.get(item.id).status == "open"
    # What Chromium sends under Referrer-Policy: no-referrer: Origin "null", and the token.
    ok = httpx.post(
        url, data={"note": "called back", "csrf_token": token}, cookies=admin, headers={"Origin": "null"}
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/dashboard"
    resolved = governance.escalations.get(item.id)
    assert (
        resolved.status == "resolved"
        and resolved.resolved_by == "admin"
        and resolved.resolution_note == "called back"
    )


def test_anonymous_and_non_admin_visitors_get_a_page_not_json(server):
    anonymous = httpx.get(f"{server}/admin/dashboard")
    assert anonymous.headers["content-type"].startswith("text/html") and 'href="/login"' in anonymous.text
    user = httpx.get(f"{server}/admin/dashboard", cookies=session_cookie("alice"))
    assert user.headers["content-type"].startswith("text/html") and "Administrators only." in user.text


def test_metrics_endpoint_content(server):
    response = httpx.get(f"{server}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'confidante_model_latency_seconds_bucket{le="2.0",route="local",tier="regulated"} 1.0' in body
    assert 'confidante_time_to_first_token_seconds_count{route="local",tier="regulated"} 1.0' in body
    assert 'confidante_tokens_total{direction="completion",model="SmolLM2"} 34.0' in body
    assert (
        "confidante_schema_validations_total" in body
        or "# TYPE confidante_schema_validations counter" in body
    )


def test_files_are_served_only_to_the_thread_owner(server, governance):
    import asyncio

    from chainlit.context import init_http_context
    from chainlit.element import File
    from chainlit.user import User

    async def create() -> None:
        init_http_context(user=User(identifier="alice"))
        layer = data_layer_for(governance)
        await layer.update_thread("tFile", name="with a file")
        await layer.create_element(File(id="eFile", thread_id="tFile", name="a.txt", content=b"alice's file"))

    asyncio.run(create())
    url = f"{server}/governance/files/eFile"
    assert httpx.get(url, cookies=session_cookie("alice")).content == b"alice's file"
    denied = httpx.get(url, cookies=session_cookie("bob"))
    missing = httpx.get(f"{server}/governance/files/no-such-element", cookies=session_cookie("bob"))
    assert denied.status_code == missing.status_code == 404 and denied.text == missing.text
    assert httpx.get(url).status_code == 404


def test_a_disabled_accounts_session_is_refused(server, governance):
    governance.accounts.add_user(username="carol", password="carol password")
    cookie = session_cookie("carol")
    assert httpx.get(f"{server}/some/page", cookies=cookie).status_code == 200
    governance.accounts.set_disabled(username="carol", disabled=True)
    assert httpx.get(f"{server}/some/page", cookies=cookie).status_code == 401
