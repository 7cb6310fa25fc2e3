"""The escalated conversation page for admins (`assistant/ui/escalation_page.py`) over real HTTP.

A FastAPI app with a Chainlit-style catch-all route runs under uvicorn on loopback with the real
governance database; threads are written through the same chat history the data layer uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from tests.support.console_server import console_server, session_cookie

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
# Stored out of order on purpose: the page must show them by time.
STEPS = [
    ("s3", "2026-11-29T10:00:03Z", "user_message", "Still broken, I want a person", {}),
    ("s1", "2026-11-29T10:00:01Z", "user_message", "My payslip is wrong " + XSS, {}),
    ("s2", "2026-11-29T10:00:02Z", "assistant_message", "Check the payroll portal.",
     {"tier": "internal", "route": "hosted"}),
    ("s2r", "2026-11-29T10:00:02.5Z", "tool", "Privacy receipt: tool step text", {}),
]  # fmt: skip


def _store_thread(gov: Governance, thread_id: str, owner: str, steps: list[tuple]) -> None:
    for step_id, at, kind, text, meta in steps:
        step = {"id": f"{thread_id}-{step_id}", "threadId": thread_id, "createdAt": at, "type": kind}
        assert gov.history.upsert_step({**step, "output": text, "metadata": meta}, owner)


@pytest.fixture(scope="module")
def governance(tmp_path_factory) -> Iterator[Governance]:
    gov = build_governance(GovernanceSettings(passwords=FAST), tmp_path_factory.mktemp("esc"))
    gov.accounts.add_user(username="admin", password="admin password", role="admin")
    for name in ("alice", "bob"):
        gov.accounts.add_user(username=name, password=f"{name} password")
    _store_thread(gov, "tAlice", "alice", STEPS)
    _store_thread(gov, "tBob", "bob", [("b1", "2026-11-29T11:00:00Z", "user_message", "bob's secret", {})])
    yield gov
    gov.close()


@pytest.fixture(scope="module")
def server(governance) -> Iterator[str]:
    with console_server(governance, "escalations") as url:
        yield url


def _views(governance: Governance) -> list:
    return [record for record in governance.audit.records() if record.kind == "escalation_view"]


def test_admin_reads_the_escalated_conversation_in_order(server, governance):
    item = governance.escalations.open("tAlice", "alice", "user_request", "Asked for a person <b>now</b>")
    response = httpx.get(f"{server}/admin/escalations/{item.id}", cookies=session_cookie("admin"))
    assert response.status_code == 200
    html = response.text
    texts = ["My payslip is wrong", "Check the payroll portal.", "Still broken, I want a person"]
    positions = [html.index(text) for text in texts]
    assert positions == sorted(positions)
    assert "Privacy receipt: tool step text" not in html  # tool steps are not messages
    assert "2026-11-29T10:00:01Z" in html and "route hosted" in html and "tier-internal" in html
    assert "user request" in html and "Asked for a person &lt;b&gt;now&lt;/b&gt;" in html
    assert f'action="/admin/escalations/{item.id}/resolve"' in html
    assert re.search(r'name="csrf_token" value="[^"]+"', html)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_stored_markup_is_escaped(server, governance):
    item = governance.escalations.open("tAlice", "alice", "low_confidence", XSS)
    html = httpx.get(f"{server}/admin/escalations/{item.id}", cookies=session_cookie("admin")).text
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_dashboard_links_to_the_page_instead_of_the_owner_only_chat(server, governance):
    item = governance.escalations.open("tAlice", "alice", "user_request", "link check")
    html = httpx.get(f"{server}/admin/dashboard", cookies=session_cookie("admin")).text
    assert f'<a href="/admin/escalations/{item.id}">read the conversation</a>' in html
    assert 'href="/thread/' not in html


def test_signed_out_gets_401_and_a_user_403_and_neither_is_audited(server, governance):
    item = governance.escalations.open("tAlice", "alice", "user_request", "access check")
    before = len(_views(governance))
    url = f"{server}/admin/escalations/{item.id}"
    anonymous = httpx.get(url)
    assert anonymous.status_code == 401 and 'href="/login"' in anonymous.text
    # alice owns the thread, and her token claims admin: the database says user, so still 403.
    as_owner = httpx.get(url, cookies=session_cookie("alice"))
    assert as_owner.status_code == 403 and "Administrators only." in as_owner.text
    for response in (anonymous, as_owner):
        assert "My payslip" not in response.text and response.headers["content-type"].startswith("text/html")
    assert len(_views(governance)) == before


def test_only_a_thread_an_escalation_names_and_its_owner_opened(server, governance):
    admin = session_cookie("admin")
    no_thread = governance.escalations.open(None, "alice", "policy_block", "no thread")
    # bob names alice's thread in his ticket: the page must not become a way to read her chat.
    foreign = governance.escalations.open("tAlice", "bob", "user_request", "someone else's thread")
    before = len(_views(governance))
    urls = [
        "/admin/escalations/tBob",  # a thread id without an escalation
        "/admin/escalations/no-such-escalation",
        f"/admin/escalations/{no_thread.id}",
        f"/admin/escalations/{foreign.id}",
    ]
    responses = [httpx.get(server + url, cookies=admin) for url in urls]
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert not any("bob&#x27;s secret" in r.text or "My payslip" in r.text for r in responses)
    assert len(_views(governance)) == before


def test_each_view_is_audited_without_the_conversation(server, governance):
    item = governance.escalations.open("tAlice", "alice", "user_request", "audit check")
    before = len(_views(governance))
    httpx.get(f"{server}/admin/escalations/{item.id}", cookies=session_cookie("admin"))
    views = _views(governance)
    assert len(views) == before + 1
    view = views[-1]
    assert view.user_id == "admin" and view.thread_id == "tAlice"
    assert item.id in (view.detail or "") and "alice" in (view.detail or "")
    assert view.request_sha256 is None and view.response_sha256 is None
    assert governance.audit.raw_text(view.seq) in (None, (None, None))
    stored = view.model_dump_json()
    for fragment in ("payslip", "payroll", "Still broken", "audit check", "script"):
        assert fragment not in stored
    assert governance.audit.verify().ok


def test_a_resolved_escalation_stays_readable(server, governance):
    item = governance.escalations.open("tAlice", "alice", "user_request", "resolved check")
    governance.escalations.resolve(item.id, admin="admin", note="called <i>back</i>")
    html = httpx.get(f"{server}/admin/escalations/{item.id}", cookies=session_cookie("admin")).text
    assert "My payslip is wrong" in html and "Resolved by admin" in html
    assert "called &lt;i&gt;back&lt;/i&gt;" in html and "/resolve" not in html
