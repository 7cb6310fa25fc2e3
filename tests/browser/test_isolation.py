"""The cross-user isolation matrix, against the real app over HTTP and its Socket.IO websocket.

User A chats for real (a thread, messages, an uploaded file element, feedback, an upload job, a
live websocket session). User B, signed in with a valid account of their own, then tries every id
of A's on every route and event that takes one. Each attempt is paired with the same request for
a random id that never existed: B must be denied, and the two answers must be identical (status
and body, with the id itself masked), so a denial never tells B that an id exists. Positive
controls (A reading her own ids) make sure each denial is about ownership, not a broken route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import socketio

from tests.browser.app_server import AppServer
from tests.browser.isolation_client import AppUser, SocketSession, new_id

ALICE = ("ines-isolation", "isolation-pass-a-1")
BOB = ("otto-isolation", "isolation-pass-b-2")
A_QUESTION = "Reply with one short greeting for the garden-party team."
A_FILE_TEXT = b"Zephyr garden party minutes. The garden party budget is 420 euros. " * 3
TURN_TIMEOUT_S = 180.0
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class AliceIds:
    """Everything of A's that B will try."""

    user_id: str
    session_id: str
    thread_id: str
    user_step_id: str
    answer_step_id: str
    element_id: str
    feedback_id: str
    job_id: str
    step_ids: frozenset[str]


def _receipt_seen(session: SocketSession) -> bool:
    return any(step.get("name") == "Privacy receipt" for step in session.steps())


def _saw(session: SocketSession, event: str) -> Callable[[], list[Any]]:
    return lambda: session.named(event)


def _action(session: SocketSession, name: str) -> dict[str, Any] | None:
    return next((a for a in session.named("action") if a.get("name") == name), None)


@pytest.fixture(scope="module")
def users(app_server: AppServer) -> Iterator[tuple[AppUser, AppUser]]:
    for username, password in (ALICE, BOB):
        app_server.add_user(username, password)
    alice, bob = AppUser(app_server.base_url, *ALICE), AppUser(app_server.base_url, *BOB)
    try:
        yield alice, bob
    finally:
        alice.close()
        bob.close()


@pytest.fixture(scope="module")
def alice(users: tuple[AppUser, AppUser]) -> tuple[AppUser, SocketSession, AliceIds]:
    """A's real chat: a file upload with a question, the answer, feedback on it."""
    a, _ = users
    session = a.connect()
    uploaded = a.upload(session, "zephyr-minutes.txt", A_FILE_TEXT, "text/plain")
    assert uploaded.status_code == 200, uploaded.text
    file_id = uploaded.json()["id"]
    # A message with a file is answered by the summary flow only; the question comes next.
    session.send_message("Please summarise the attached minutes.", files=[{"id": file_id}])
    first = session.wait_for(lambda: session.named("first_interaction"), 60, "A's thread")
    thread_id = first[0]["thread_id"]
    cancel = session.wait_for(lambda: _action(session, "cancel_upload_job"), 60, "A's upload job")
    seen = {step["id"] for step in session.steps()}
    user_step = session.send_message(A_QUESTION)

    def _answer() -> dict[str, Any] | None:
        return next(
            (
                s
                for s in session.steps()
                if s["id"] not in seen and s.get("type") == "assistant_message" and "---" in s["output"]
            ),
            None,
        )

    answer = session.wait_for(_answer, TURN_TIMEOUT_S, "A's answer")
    # The answer reaches the browser before its write to the database has finished.
    session.wait_for(lambda: answer["id"] in a.thread(thread_id).text, 30, "A's answer to be saved")
    feedback = a.http.put(
        "/feedback",
        json={
            "feedback": {"forId": answer["id"], "value": 1, "comment": "A's comment"},
            "sessionId": session.session_id,
        },
    )
    assert feedback.status_code == 200, feedback.text
    thread = a.thread(thread_id)
    assert thread.status_code == 200, thread.text
    ids = AliceIds(
        user_id=thread.json()["userId"],
        session_id=session.session_id,
        thread_id=thread_id,
        user_step_id=user_step,
        answer_step_id=answer["id"],
        element_id=file_id,
        feedback_id=feedback.json()["feedbackId"],
        job_id=cancel["payload"]["job_id"],
        step_ids=frozenset(step["id"] for step in thread.json()["steps"]),
    )
    return a, session, ids


def _masked(response: httpx.Response, *ids: str) -> tuple[int, str]:
    body = response.text
    for value in ids:
        body = body.replace(value, "<id>")
    return response.status_code, UUID.sub("<uuid>", body)


def assert_same_denial(name: str, real: httpx.Response, missing: httpx.Response, *ids: str) -> None:
    assert _masked(real, *ids) == _masked(missing, *ids), (
        f"{name}: an existing id of A's is answered differently"
    )


def test_positive_controls_a_reads_her_own_ids(alice: tuple[AppUser, SocketSession, AliceIds]) -> None:
    a, _, ids = alice
    thread = a.thread(ids.thread_id).json()
    assert {ids.user_step_id, ids.answer_step_id} <= ids.step_ids
    assert any(
        step.get("feedback", {}) and step["feedback"]["id"] == ids.feedback_id for step in thread["steps"]
    )
    assert (
        a.http.get(f"/project/thread/{ids.thread_id}/element/{ids.element_id}").json()["id"] == ids.element_id
    )
    assert a.http.get(f"/governance/files/{ids.element_id}").content == A_FILE_TEXT
    own_file = a.http.get(f"/project/file/{ids.element_id}", params={"session_id": ids.session_id})
    assert own_file.status_code == 200 and own_file.content == A_FILE_TEXT


HttpAttack = Callable[[AppUser, dict[str, str]], httpx.Response]


def _http_matrix() -> dict[str, HttpAttack]:
    """Each attack takes B and the ids to use (A's, or random ones of the same shape)."""
    return {
        "read thread": lambda b, i: b.http.get(f"/project/thread/{i['thread']}"),
        "read shared thread": lambda b, i: b.http.get(f"/project/share/{i['thread']}"),
        "read element": lambda b, i: b.http.get(f"/project/thread/{i['thread']}/element/{i['element']}"),
        "download element file": lambda b, i: b.http.get(f"/governance/files/{i['element']}"),
        "rename thread": lambda b, i: b.http.put(
            "/project/thread", json={"threadId": i["thread"], "name": "B"}
        ),
        "share thread": lambda b, i: b.http.put(
            "/project/thread/share", json={"threadId": i["thread"], "isShared": True}
        ),
        "delete thread": lambda b, i: b.http.request(
            "DELETE", "/project/thread", json={"threadId": i["thread"]}
        ),
        "feedback on a step": lambda b, i: b.http.put(
            "/feedback",
            json={"feedback": {"forId": i["step"], "value": 0, "comment": "B"}, "sessionId": i["session"]},
        ),
        "overwrite feedback by id": lambda b, i: b.http.put(
            "/feedback",
            json={
                "feedback": {"id": i["feedback"], "forId": i["step"], "value": 0},
                "sessionId": i["session"],
            },
        ),
        "delete feedback": lambda b, i: b.http.request(
            "DELETE", "/feedback", json={"feedbackId": i["feedback"]}
        ),
        "list threads of a user": lambda b, i: b.http.post(
            "/project/threads", json={"pagination": {"first": 20}, "filter": {"userId": i["user"]}}
        ),
        "session file download": lambda b, i: b.http.get(
            f"/project/file/{i['element']}", params={"session_id": i["session"]}
        ),
        "upload into a session": lambda b, i: b.http.post(
            "/project/file",
            params={"session_id": i["session"]},
            files={"file": ("b.txt", b"B was here", "text/plain")},
        ),
        "run an action in a session": lambda b, i: b.http.post(
            "/project/action",
            json={
                "sessionId": i["session"],
                "action": {
                    "id": new_id(),
                    "name": "cancel_upload_job",
                    "payload": {"job_id": i["job"]},
                    "forId": i["step"],
                },
            },
        ),
        "update an element in a session": lambda b, i: b.http.put(
            "/project/element", json={"sessionId": i["session"], "element": _custom_element(i)}
        ),
        "delete an element in a session": lambda b, i: b.http.request(
            "DELETE", "/project/element", json={"sessionId": i["session"], "element": _custom_element(i)}
        ),
    }


# Chainlit answers these 200 whatever the id (their effect, none on A's data, is checked instead).
ANSWERED_OK_ANYWAY = {"delete feedback", "list threads of a user"}


def _custom_element(i: dict[str, str]) -> dict[str, Any]:
    return {
        "id": i["element"],
        "type": "custom",
        "name": "x",
        "display": "inline",
        "threadId": i["thread"],
        "forId": i["step"],
    }


def _as_dict(ids: AliceIds) -> dict[str, str]:
    return {
        "thread": ids.thread_id,
        "element": ids.element_id,
        "step": ids.answer_step_id,
        "feedback": ids.feedback_id,
        "session": ids.session_id,
        "user": ids.user_id,
        "job": ids.job_id,
    }


def _random_like(ids: dict[str, str]) -> dict[str, str]:
    return {key: new_id() for key in ids}


@pytest.mark.parametrize("attack", list(_http_matrix()))
def test_http_b_is_denied_a_s_ids_exactly_as_missing_ids(
    attack: str, users: tuple[AppUser, AppUser], alice: tuple[AppUser, SocketSession, AliceIds]
) -> None:
    _, bob = users
    a, _, ids = alice
    real_ids = _as_dict(ids)
    run = _http_matrix()[attack]
    real = run(bob, real_ids)
    missing = run(bob, _random_like(real_ids))
    assert_same_denial(attack, real, missing, *real_ids.values())
    assert real.status_code == 200 if attack in ANSWERED_OK_ANYWAY else real.status_code >= 400, real.text
    assert ids.thread_id not in real.text and "garden" not in real.text.lower()
    # A's data is untouched, whatever B's request "succeeded" at.
    thread = a.thread(ids.thread_id)
    assert thread.status_code == 200
    body = thread.json()
    assert body["name"] != "B" and not body["metadata"].get("is_shared")
    assert {step["id"] for step in body["steps"]} >= ids.step_ids
    rated = next(step for step in body["steps"] if step["id"] == ids.answer_step_id)
    assert rated["feedback"]["value"] == 1 and rated["feedback"]["comment"] == "A's comment"
    assert a.http.get(f"/governance/files/{ids.element_id}").content == A_FILE_TEXT


def test_b_s_thread_list_never_contains_a_s_thread(
    users: tuple[AppUser, AppUser], alice: tuple[AppUser, SocketSession, AliceIds]
) -> None:
    _, bob = users
    listing = bob.http.post("/project/threads", json={"pagination": {"first": 100}, "filter": {}})
    assert listing.status_code == 200
    assert alice[2].thread_id not in listing.text


def _connect_outcome(user: AppUser, **kwargs: str) -> tuple[str, SocketSession | None]:
    try:
        return "connected", user.connect(**kwargs)
    except socketio.exceptions.ConnectionError as exc:
        return f"refused: {exc}", None


def test_websocket_b_cannot_take_over_a_s_session(
    users: tuple[AppUser, AppUser], alice: tuple[AppUser, SocketSession, AliceIds]
) -> None:
    _, bob = users
    _, a_session, ids = alice
    real, real_socket = _connect_outcome(bob, session_id=ids.session_id)
    missing, missing_socket = _connect_outcome(bob, session_id=new_id())
    assert real == missing, "connecting with A's session id is answered differently from a random one"
    for socket in (real_socket, missing_socket):
        if socket is not None:
            socket.wait_for(_saw(socket, "task_end"), 30, "B's session")
    # A's session is still A's: her socket is connected and B was shown nothing of hers.
    assert a_session.client.connected
    if real_socket is not None:
        assert "garden" not in real_socket.text().lower() and ids.answer_step_id not in real_socket.text()


def test_websocket_b_cannot_resume_or_write_into_a_s_thread(
    users: tuple[AppUser, AppUser], alice: tuple[AppUser, SocketSession, AliceIds]
) -> None:
    _, bob = users
    a, _, ids = alice
    random_thread = new_id()
    real = bob.connect(thread_id=ids.thread_id)
    missing = bob.connect(thread_id=random_thread)
    for socket in (real, missing):
        socket.wait_for(_saw(socket, "resume_thread_error"), 30, "the resume answer")
    assert real.named("resume_thread_error") == missing.named("resume_thread_error")
    assert not real.named("resume_thread")
    assert "garden" not in real.text().lower() and ids.answer_step_id not in real.text()

    # B writes in both sessions; A's thread must not change, and B must not learn which id was A's.
    for socket in (real, missing):
        socket.send_message("Reply with one word: ok")
    for socket in (real, missing):
        socket.wait_for(lambda: _receipt_seen(socket), TURN_TIMEOUT_S, "B's answer")
    real_thread = real.named("first_interaction")[0]["thread_id"]
    missing_thread = missing.named("first_interaction")[0]["thread_id"]
    assert real_thread != ids.thread_id, "B's session adopted A's thread id"
    assert_same_denial(
        "read back the thread B wrote to",
        bob.thread(ids.thread_id),
        bob.thread(random_thread),
        ids.thread_id,
        random_thread,
    )
    thread = a.thread(ids.thread_id).json()
    steps = {step["id"]: step for step in thread["steps"]}
    assert ids.step_ids <= steps.keys()  # nothing of A's was removed
    # A's own upload job may still post progress or its summary into her thread; nothing else may
    # appear there: no user message, and nothing B wrote.
    added = [steps[step_id] for step_id in steps.keys() - ids.step_ids]
    assert all(step.get("type") != "user_message" for step in added), added
    assert "Reply with one word" not in str(thread)
    for own in (real_thread, missing_thread):
        assert bob.thread(own).status_code == 200, "B's own chat was not saved"


def test_b_cannot_cancel_a_s_upload_job_from_his_own_session(
    users: tuple[AppUser, AppUser], alice: tuple[AppUser, SocketSession, AliceIds]
) -> None:
    _, bob = users
    _, a_session, ids = alice
    own = bob.connect()
    own.wait_for(lambda: own.named("task_end"), 30, "B's session")

    def cancel(job_id: str) -> tuple[httpx.Response, str]:
        seen = len(own.steps())
        action = {
            "id": new_id(),
            "name": "cancel_upload_job",
            "payload": {"job_id": job_id},
            "forId": new_id(),
        }
        response = bob.http.post("/project/action", json={"sessionId": own.session_id, "action": action})
        reply = own.wait_for(lambda: own.steps()[seen:], 30, "the answer to Cancel")
        return response, reply[-1]["output"]

    real, real_reply = cancel(ids.job_id)
    missing, missing_reply = cancel(new_id())
    assert_same_denial("cancel a job", real, missing, ids.job_id)
    assert real_reply == missing_reply == "That summary has already finished or isn't yours to cancel."
    assert "cancelled" not in a_session.text().lower()
