"""The review queue and capability map pages over real HTTP (the dashboard tests' server):
who gets which page, regulated text only for the policy's groups, grading with the CSRF token,
and the capability map's routing and figures."""

from __future__ import annotations

import os
import re

import httpx
import pytest

from assistant.governance.component import Governance
from assistant.review.models import ReviewCandidate, ReviewSettings
from assistant.review.queue import ReviewQueue
from tests.test_dashboard import governance, server, session_cookie  # noqa: F401

SECRET_QUESTION = "My SSN is 078-05-1120, what is my leave balance?"


@pytest.fixture(scope="module")
def items(governance: Governance) -> dict[str, int]:  # noqa: F811
    governance.accounts.add_user(username="cora", password="cora password")
    governance.accounts.add_group(name="compliance")
    governance.accounts.add_member(group="compliance", username="cora")
    queue = ReviewQueue(governance.engine, ReviewSettings(share={"chat": 1.0}))
    made = {}
    seeds = [("t-pub", "public", "How do I book a room?"), ("t-reg", "regulated", SECRET_QUESTION)]
    for turn, tier, question in seeds:
        candidate = {"turn_id": turn, "capability": "chat", "tier": tier, "user_id": "alice"}
        candidate |= {"question": question, "answer": f"answer {turn}"}
        item = queue.offer(ReviewCandidate.model_validate(candidate))
        assert item is not None
        made[turn] = item.id
    return made


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def test_who_gets_the_review_page(server: str, items: dict[str, int]) -> None:  # noqa: F811
    assert httpx.get(f"{server}/admin/review").status_code == 401
    refused = httpx.get(f"{server}/admin/review", cookies=session_cookie("alice"))
    assert refused.status_code == 403 and "Reviewers only." in refused.text and "<html" in refused.text
    admin = httpx.get(f"{server}/admin/review", cookies=session_cookie("admin"))
    assert admin.status_code == 200 and "answer t-pub" in admin.text
    assert "078-05-1120" not in admin.text and "answer t-reg" not in admin.text
    cora = httpx.get(f"{server}/admin/review", cookies=session_cookie("cora"))
    assert cora.status_code == 200 and "078-05-1120" in cora.text
    assert "default-src 'none'" in admin.headers["content-security-policy"] and "<script" not in admin.text


def test_grading_needs_the_token_and_the_right_group(server: str, items: dict[str, int]) -> None:  # noqa: F811
    admin = session_cookie("admin")
    token = _token(httpx.get(f"{server}/admin/review", cookies=admin).text)
    url = f"{server}/admin/review/{items['t-pub']}/grade"
    assert httpx.post(url, data={"grade": "correct"}, cookies=admin).status_code == 403
    regulated = f"{server}/admin/review/{items['t-reg']}/grade"
    as_admin = httpx.post(regulated, data={"grade": "correct", "csrf_token": token}, cookies=admin)
    assert as_admin.status_code == 404 and "078-05-1120" not in as_admin.text
    ok = httpx.post(
        url, data={"grade": "partly", "note": "missed a step", "csrf_token": token}, cookies=admin,
        headers={"Origin": "null"},
    )  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/review"
    page = httpx.get(f"{server}/admin/review", cookies=admin).text
    assert "missed a step" in page and "Nothing to review right now." in page
    assert os.environ["CHAINLIT_AUTH_SECRET"]


def test_capability_map(server: str) -> None:  # noqa: F811
    assert httpx.get(f"{server}/admin/capabilities").status_code == 401
    assert httpx.get(f"{server}/admin/capabilities", cookies=session_cookie("alice")).status_code == 403
    page = httpx.get(f"{server}/admin/capabilities", cookies=session_cookie("admin"))
    assert page.status_code == 200
    html = page.text
    for name in ("chat", "document Q&amp;A", "summaries", "tools", "API"):
        assert f">{name}</h2>" in html
    assert "local model only, never leaves this machine" in html
    assert "hosted model, names and identifiers replaced first" in html
    # The dashboard fixture's 12 model calls are chat calls: m on local and hosted routes.
    chat = html[html.index(">chat</h2>") : html.index(">document Q&amp;A</h2>")]
    assert "12 model calls" in chat and "m (local): 4 calls" in chat and "$0.0009" in chat
    assert "Answered without a problem</dt><dd>67%" in chat
