"""The Chainlit data layer on real databases: history persists, and user B is denied user A's ids.

The requester comes from Chainlit's own context (as in a websocket handler) or from our
middleware's context variable (as in an HTTP request); both paths are exercised.
"""

from __future__ import annotations

import pytest
from chainlit.context import init_http_context
from chainlit.element import File
from chainlit.types import Feedback, Pagination, ThreadFilter
from chainlit.user import User as ChainlitUser

from assistant.governance.chat_history import NotFound
from assistant.governance.component import build_governance
from assistant.governance.file_store import LocalFileStorage, UnsafeObjectKey
from assistant.governance.requester import acting_as
from assistant.governance.settings import GovernanceSettings, PasswordHashSettings
from assistant.ui.datalayer import data_layer_for
from tests.postgres import any_database_url, postgres_server, postgres_url  # noqa: F401

FAST = PasswordHashSettings(time_cost=1, memory_cost_kib=64, parallelism=1)


def as_user(name: str | None) -> None:
    """Like a websocket handler: Chainlit's context carries the session's user."""
    init_http_context(user=ChainlitUser(identifier=name) if name else None)


@pytest.fixture
def governance(any_database_url, data_dir):  # noqa: F811
    gov = build_governance(GovernanceSettings(database_url=any_database_url, passwords=FAST), data_dir)
    gov.accounts.add_user(username="alice", password="alice password")
    gov.accounts.add_user(username="bob", password="bob password")
    yield gov
    gov.close()


def step(step_id: str, thread_id: str, kind: str, text: str, at: str) -> dict:
    return {"id": step_id, "threadId": thread_id, "type": kind, "name": kind, "output": text, "createdAt": at}


@pytest.fixture
async def alice_thread(governance):
    layer = data_layer_for(governance)
    as_user("alice")
    await layer.update_thread("tA", name="Alice's question", metadata={"chat_profile": "default"})
    await layer.create_step(
        step("sA1", "tA", "user_message", "What is our travel policy?", "2026-01-01T10:00:00Z")
    )
    await layer.create_step(
        step("sA2", "tA", "assistant_message", "Economy class [1].", "2026-01-01T10:00:02Z")
    )
    await layer.create_element(
        File(
            id="eA",
            thread_id="tA",
            for_id="sA1",
            name="policy.txt",
            content=b"secret travel policy",
            mime="text/plain",
        )
    )
    feedback_id = await layer.upsert_feedback(Feedback(forId="sA2", value=1, comment="helpful"))
    return layer, feedback_id


async def test_owner_sees_and_resumes_the_thread(governance, alice_thread):
    layer, feedback_id = alice_thread
    as_user("alice")
    thread = await layer.get_thread("tA")
    assert thread["userIdentifier"] == "alice" and thread["name"] == "Alice's question"
    assert [s["id"] for s in thread["steps"]] == ["sA1", "sA2"]
    assert thread["steps"][1]["feedback"] == {
        "id": feedback_id,
        "forId": "sA2",
        "value": 1,
        "comment": "helpful",
    }
    assert thread["elements"][0]["url"] == "/governance/files/eA"
    assert await layer.get_thread_author("tA") == "alice"
    element = await layer.get_element("tA", "eA")
    assert element["name"] == "policy.txt" and "path" not in element
    row = governance.history.element_for_download("eA", "alice")
    assert LocalFileStorage(governance.files_dir).read_bytes(row.object_key) == b"secret travel policy"
    alice_id = governance.accounts.get_user(username="alice").id
    page = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=alice_id))
    assert [t["id"] for t in page.data] == ["tA"]
    persisted = await layer.get_user("alice")
    assert persisted.id == alice_id and persisted.metadata["role"] == "user"


@pytest.mark.parametrize("requester", ["bob", None])
async def test_isolation_matrix_other_users_and_anonymous_are_denied(governance, alice_thread, requester):
    layer, feedback_id = alice_thread
    as_user(requester)
    # Reads: every answer equals the answer for an id that does not exist.
    assert await layer.get_thread_author("tA") == await layer.get_thread_author("no-such-thread") == ""
    assert await layer.get_thread("tA") is None
    assert await layer.get_element("tA", "eA") is None
    assert governance.history.element_for_download("eA", requester) is None
    alice_id = governance.accounts.get_user(username="alice").id
    assert (await layer.list_threads(Pagination(first=10), ThreadFilter(userId=alice_id))).data == []
    assert (await layer.list_threads(Pagination(first=10), ThreadFilter(search="Alice"))).data == []
    # Feedback: rating A's message fails exactly like rating a missing one; deleting A's is a no-op.
    with pytest.raises(NotFound) as real:
        await layer.upsert_feedback(Feedback(forId="sA2", value=0, comment="bad"))
    with pytest.raises(NotFound) as missing:
        await layer.upsert_feedback(Feedback(forId="no-such-step", value=0))
    assert str(real.value) == str(missing.value)
    assert await layer.delete_feedback(feedback_id) is False
    # Writes into A's thread are ignored.
    await layer.update_thread("tA", name="renamed by someone else", metadata={"x": 1}, user_id=alice_id)
    await layer.create_step(step("sX", "tA", "user_message", "injected", "2026-01-01T11:00:00Z"))
    await layer.update_step(step("sA1", "tA", "user_message", "overwritten", "2026-01-01T10:00:00Z"))
    await layer.update_step(step("sA1", "tB", "user_message", "moved", "2026-01-01T10:00:00Z"))
    await layer.delete_step("sA2")
    await layer.delete_element("eA", "tA")
    await layer.delete_thread("tA")
    # Alice's thread is exactly as she left it.
    as_user("alice")
    thread = await layer.get_thread("tA")
    assert thread["name"] == "Alice's question" and thread["metadata"] == {"chat_profile": "default"}
    assert [(s["id"], s["output"]) for s in thread["steps"]] == [
        ("sA1", "What is our travel policy?"),
        ("sA2", "Economy class [1]."),
    ]
    assert thread["steps"][1]["feedback"]["value"] == 1
    assert await layer.get_element("tA", "eA") is not None


async def test_bob_keeps_his_own_history_separate(governance, alice_thread):
    layer, _ = alice_thread
    with acting_as("bob"):  # like an HTTP request through RequesterMiddleware
        await layer.update_thread("tB", name="Bob's thread")
        await layer.create_step(step("sB1", "tB", "user_message", "hello", "2026-01-02T10:00:00Z"))
        await layer.upsert_feedback(Feedback(forId="sB1", value=0, comment="meh"))
        bob_id = governance.accounts.get_user(username="bob").id
        page = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=bob_id))
        assert [t["id"] for t in page.data] == ["tB"]
        rated = await layer.list_threads(Pagination(first=10), ThreadFilter(userId=bob_id, feedback=0))
        assert [t["id"] for t in rated.data] == ["tB"]
        await layer.delete_thread("tB")
        assert await layer.get_thread("tB") is None


async def test_thread_pagination(governance):
    layer = data_layer_for(governance)
    as_user("alice")
    for i in range(5):
        await layer.update_thread(f"t{i}", name=f"thread {i}")
    alice_id = governance.accounts.get_user(username="alice").id
    first = await layer.list_threads(Pagination(first=2), ThreadFilter(userId=alice_id))
    second = await layer.list_threads(
        Pagination(first=2, cursor=first.pageInfo.endCursor), ThreadFilter(userId=alice_id)
    )
    third = await layer.list_threads(
        Pagination(first=2, cursor=second.pageInfo.endCursor), ThreadFilter(userId=alice_id)
    )
    ids = [t["id"] for page in (first, second, third) for t in page.data]
    assert sorted(ids) == [f"t{i}" for i in range(5)] and len(set(ids)) == 5
    assert first.pageInfo.hasNextPage and not third.pageInfo.hasNextPage


async def test_disabled_or_unknown_accounts_are_not_persisted_users(governance):
    layer = data_layer_for(governance)
    governance.accounts.set_disabled(username="bob", disabled=True)
    assert await layer.get_user("bob") is None
    assert await layer.create_user(ChainlitUser(identifier="eve")) is None
    assert governance.accounts.get_user(username="eve") is None


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "a//b", ".", "a/..", "", "a\\b", "ok/\x00"]
)
def test_file_store_refuses_unsafe_keys(tmp_path, key):
    with pytest.raises(UnsafeObjectKey):
        LocalFileStorage(tmp_path).path_for(key)


async def test_file_store_round_trip(tmp_path):
    store = LocalFileStorage(tmp_path / "files")
    result = await store.upload_file("alice/e1", b"data", mime="text/plain")
    assert result == {"object_key": "alice/e1", "url": "/governance/files/e1"}
    assert store.read_bytes("alice/e1") == b"data"
    assert await store.delete_file("alice/e1") and not await store.delete_file("alice/e1")
