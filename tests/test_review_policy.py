"""Reviewer groups come from the privacy policy (`[review] regulated_reviewer_groups`): a reviewer
outside the groups the policy in force names never sees a regulated item or its values — not in
the queue, not by grading it, not over HTTP — settings can only narrow the list, a policy edit
applies at once, and an unreadable policy hides regulated items from everyone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from assistant.governance.component import Governance, build_governance
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.review.models import ReviewCandidate, ReviewSettings
from assistant.review.queue import ReviewError, ReviewQueue
from knowledge.access import Principal
from routing.policy import Policy, PolicyError, PolicySource, default_policy_text, load_policy, parse_policy
from tests.test_dashboard import server, session_cookie  # noqa: F401

SSN = "078-05-1120"
ALL = ReviewSettings(share={"chat": 1.0})
ADMIN = Principal(user_id="admin", role="admin")
COMPLIANCE = Principal(user_id="cora", groups=frozenset({"compliance"}))
PRIVACY = Principal(user_id="pia", groups=frozenset({"privacy-office"}))
REVIEWER = Principal(user_id="rita", groups=frozenset({"reviewers"}))
DEFAULT_GROUPS = 'regulated_reviewer_groups = ["compliance"]'


def policy_text(groups: str) -> str:
    text = default_policy_text()
    assert DEFAULT_GROUPS in text
    return text.replace(DEFAULT_GROUPS, f"regulated_reviewer_groups = {groups}")


def policy_with(groups: str) -> Policy:
    return parse_policy(policy_text(groups), origin="test policy")


def _candidate(turn: str, tier: str) -> ReviewCandidate:
    question = (
        f"My SSN is {SSN}, what is my leave balance?" if tier == "regulated" else "How do I book a room?"
    )
    fields = {"turn_id": turn, "capability": "chat", "tier": tier, "user_id": "bob"}
    return ReviewCandidate.model_validate(fields | {"question": question, "answer": f"answer {turn}"})


@pytest.fixture
def engine(data_dir: Path) -> Iterator[Engine]:
    engine = open_database(GovernanceSettings(), data_dir)
    yield engine
    engine.dispose()


def _seed(queue: ReviewQueue) -> int:
    queue.offer(_candidate("pub", "public"))
    secret = queue.offer(_candidate("reg", "regulated"))
    assert secret is not None
    return secret.id


def _sees_regulated(queue: ReviewQueue, who: Principal) -> bool:
    listed = [i.turn_id for i in queue.pending_for(who)] + [i.turn_id for i in queue.graded_for(who)]
    return "reg" in listed


def test_the_shipped_policy_names_the_compliance_group_and_checks_names() -> None:
    assert load_policy().review.regulated_reviewer_groups == ("compliance",)
    with pytest.raises(PolicyError, match=r"review\.regulated_reviewer_groups.*not a group name"):
        policy_with('["Compliance Team"]')
    without = default_policy_text().replace("[review]\n" + DEFAULT_GROUPS, "")
    assert parse_policy(without).review.regulated_reviewer_groups == ()  # no table: nobody (fail closed)


def test_only_the_groups_the_policy_names_see_regulated_items(engine: Engine) -> None:
    queue = ReviewQueue(engine, ALL, policy=lambda: policy_with('["privacy-office"]'))
    secret = _seed(queue)
    # compliance is no longer named: its member is no reviewer now; an admin and a reviewer see the
    # public item only.
    assert queue.pending_for(COMPLIANCE) == []
    for outsider in (COMPLIANCE, ADMIN, REVIEWER):
        assert "reg" not in [i.turn_id for i in queue.pending_for(outsider)]
        with pytest.raises(ReviewError, match="No such review item"):
            queue.grade(secret, outsider, "correct")
    assert [i.turn_id for i in queue.pending_for(PRIVACY)] == ["pub", "reg"]
    queue.grade(secret, PRIVACY, "wrong", f"it repeated {SSN}")
    for outsider in (COMPLIANCE, ADMIN, REVIEWER):
        assert not _sees_regulated(queue, outsider)
        assert all(SSN not in (i.question + i.answer + (i.note or "")) for i in queue.graded_for(outsider))
    assert _sees_regulated(queue, PRIVACY)


def test_settings_narrow_the_policys_groups_and_never_widen_them(engine: Engine) -> None:
    policy = policy_with('["compliance", "privacy-office"]')
    narrowed = ReviewQueue(engine, ReviewSettings(share={"chat": 1.0}, regulated_groups=("privacy-office",)))
    narrowed = ReviewQueue(engine, narrowed.settings, policy=lambda: policy)
    _seed(narrowed)
    assert _sees_regulated(narrowed, PRIVACY) and not _sees_regulated(narrowed, COMPLIANCE)
    widened = ReviewQueue(
        engine,
        ReviewSettings(share={"chat": 1.0}, regulated_groups=("reviewers",)),
        policy=lambda: policy_with('["compliance"]'),
    )
    assert not _sees_regulated(widened, REVIEWER) and not _sees_regulated(widened, COMPLIANCE)


def test_a_policy_edit_applies_at_once(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(policy_text('["compliance"]'))
    source = PolicySource(path)
    queue = ReviewQueue(engine, ALL, policy=source.current)
    secret = _seed(queue)
    assert _sees_regulated(queue, COMPLIANCE)
    path.write_text(policy_text('["privacy-office"]').replace('version = "', 'version = "edited-'))
    os.utime(path, ns=(1, 10**18))
    assert not _sees_regulated(queue, COMPLIANCE) and _sees_regulated(queue, PRIVACY)
    with pytest.raises(ReviewError):
        queue.grade(secret, COMPLIANCE, "correct")


def test_an_unreadable_policy_hides_regulated_items_from_everyone(engine: Engine) -> None:
    def broken() -> Policy:
        raise PolicyError("policy file gone")

    queue = ReviewQueue(engine, ALL, policy=broken)
    _seed(queue)
    for who in (COMPLIANCE, PRIVACY, ADMIN):
        assert not _sees_regulated(queue, who)
    assert [i.turn_id for i in queue.pending_for(ADMIN)] == ["pub"]  # the rest of the queue still works


# --- over HTTP: the console reads the groups from the policy file the settings point at ----------


@pytest.fixture(scope="module")
def governance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governance]:
    data_dir = tmp_path_factory.mktemp("review-policy")
    path = data_dir / "policy.toml"
    path.write_text(policy_text('["privacy-office"]'))
    previous = os.environ.get("CONFIDANTE_ROUTING__POLICY_PATH")
    os.environ["CONFIDANTE_ROUTING__POLICY_PATH"] = str(path)
    fast = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)
    gov = build_governance(GovernanceSettings(passwords=fast), data_dir)
    gov.accounts.add_user(username="admin", password="admin password", role="admin")
    for user, group in (("cora", "compliance"), ("pia", "privacy-office")):
        gov.accounts.add_user(username=user, password=f"{user} password")
        gov.accounts.add_group(name=group)
        gov.accounts.add_member(group=group, username=user)
    _seed(ReviewQueue(gov.engine, ALL))
    yield gov
    if previous is None:
        os.environ.pop("CONFIDANTE_ROUTING__POLICY_PATH", None)
    else:
        os.environ["CONFIDANTE_ROUTING__POLICY_PATH"] = previous


def test_the_review_page_shows_regulated_values_only_to_the_policys_groups(server: str) -> None:  # noqa: F811
    admin = httpx.get(f"{server}/admin/review", cookies=session_cookie("admin"))
    assert admin.status_code == 200 and "answer pub" in admin.text
    # compliance is in settings' old default but not in this policy: not a reviewer at all.
    cora = httpx.get(f"{server}/admin/review", cookies=session_cookie("cora"))
    assert cora.status_code == 403
    for page in (admin, cora):
        assert SSN not in page.text and "answer reg" not in page.text
    page = httpx.get(f"{server}/admin/review", cookies=session_cookie("pia"))
    assert page.status_code == 200 and SSN in page.text and "answer reg" in page.text
