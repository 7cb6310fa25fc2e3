"""Two app replicas on shared engines, behind a sticky proxy, with a separate summary worker.

The topology of README "Scaling out", started for real on loopback: one PostgreSQL (database and
job queue), one Chroma server, one private llama.cpp server with SmolLM2, two `confidante serve`
processes with their own data directories, one `confidante worker`, and haproxy in front, sticky
by cookie. Driven like a browser (sign-in over HTTP, chat over Socket.IO, files over Chainlit's
upload route) with the client of `bench/bench_load.py`. It shows a chat on each replica, an upload
accepted by one replica and summarized by the worker with progress reaching the user, and the chat
resumed on the other replica. It asserts only what the app decides (where things ran, what was
stored, which messages the app wrote), never what the model wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, text

from assistant.uploads.rendering import md_escape
from tests.browser.app_server import REPO, AppServer
from tests.postgres import PostgresServer
from tests.support.chat_socket import ChatSocket, sign_in
from tests.support.parallel_server import ParallelLlamaServer, llama_server_binary
from tests.support.servers import bundled_gguf, free_port

# Six servers start on a machine whose two cores the rest of the suite (or other runs) share: the
# module's set-up alone can take minutes there, so the first test gets more than the default 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

PASSWORD = "replica-test-password-1"
ALIAS = "private-shared"
REPLICAS = ("r1", "r2")
FILE_NAME = "travel-policy.txt"
# The line the app writes over the progress message when the worker has finished the summary.
FINISHED = f"✅ Summarizing {md_escape(FILE_NAME)}: finished."
DOCUMENT = (
    "Travel policy. Employees book trains for trips under four hours.\n\n"
    "Hotel nights are reimbursed up to one hundred and twenty euros in most cities.\n"
)


class Process:
    """A server subprocess in its own process group, its output in a log file."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_until(self, ready: Callable[[], bool], what: str, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{what} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError, OSError):
                if ready():
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{what} was not ready in {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, 15)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, 9)
                self.popen.wait(timeout=15)


def _ok(url: str) -> bool:
    return httpx.get(url, timeout=2.0).status_code == 200


HAPROXY = """global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout tunnel 300s
frontend web
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    # Sticky sessions: a Chainlit session (websocket, uploads, actions) lives in one replica.
    cookie SERVERID insert indirect nocache
    http-response set-header X-Replica %[srv_name]
    server r1 127.0.0.1:{r1} cookie r1 check
    server r2 127.0.0.1:{r2} cookie r2 check
"""


@dataclass
class Topology:
    proxy_url: str
    database_url: str
    shared_dir: Path
    replicas: dict[str, AppServer]
    worker: Process


def _database(server: PostgresServer) -> str:
    name = f"replicas_{uuid.uuid4().hex[:12]}"
    dsn = f"host={server.host} port={server.port} user={server.user} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


def _environment(topology_dir: Path, database_url: str, chroma_port: int, llama: ParallelLlamaServer,
                 proxy_port: int) -> dict[str, str]:  # fmt: skip
    shared = topology_dir / "shared"
    return {
        # No hosted endpoint: every answer here is the private server's. (Fresh-clone CI runs saw
        # 'hosted' calls: Chainlit's CI mode had put a fake OPENAI_API_KEY in the servers'
        # environment; `confidante serve` now drops CI and the settings ignore that key.)
        "OPENAI_BASE_URL": "",
        "OPENAI_API_KEY": "",
        "CONFIDANTE_MODELS__HOSTED__BASE_URL": "",
        "CONFIDANTE_MODELS__HOSTED__API_KEY": "",
        "CONFIDANTE_GOVERNANCE__DATABASE_URL": database_url,
        "CONFIDANTE_GOVERNANCE__FILES_DIR": str(shared / "files"),
        "CONFIDANTE_UPLOADS__QUEUE": "procrastinate",
        "CONFIDANTE_UPLOADS__SHARED_DIR": str(shared),
        "CONFIDANTE_UPLOADS__PROGRESS_INTERVAL_S": "1",
        "CONFIDANTE_UPLOADS__FOLLOW_INTERVAL_S": "0.3",
        "CONFIDANTE_KNOWLEDGE__CHROMA__MODE": "http",
        "CONFIDANTE_KNOWLEDGE__CHROMA__HOST": "127.0.0.1",
        "CONFIDANTE_KNOWLEDGE__CHROMA__PORT": str(chroma_port),
        "CONFIDANTE_MODELS__LOCAL__SERVER_URL": llama.base_url,
        "CONFIDANTE_MODELS__LOCAL__SERVER_MODEL": ALIAS,
        "CONFIDANTE_MODELS__LOCAL__SERVER_PARALLEL": "2",
        # Short answers: the test is about where things run, not what the model writes.
        "CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "48",
        "CONFIDANTE_UPLOADS__MAP_ANSWER_TOKENS": "64",
        "CONFIDANTE_UPLOADS__REDUCE_ANSWER_TOKENS": "48",
        "CONFIDANTE_SERVER__AUTH_SECRET": uuid.uuid4().hex * 2,  # one signing secret for all
        "CONFIDANTE_SERVER__ALLOWED_ORIGINS": f'["http://127.0.0.1:{proxy_port}"]',
    }


def _start_all(servers: list[Any], errors: list[BaseException]) -> None:
    """Start servers at once (each `start` waits for readiness); failures land in `errors`."""

    def start(server: Any) -> None:
        try:
            server.start()
        except BaseException as exc:  # raised by the caller, with the server's log in it
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _raise_first(errors: list[BaseException]) -> None:
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def topology(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).is_file():
        pytest.skip("haproxy not installed (apt-get install haproxy; .ci/run installs it)")
    if not llama_server_binary().is_file():
        pytest.fail(f"no llama-server at {llama_server_binary()}: run `make llama-server` (or `make test`)")
    root = tmp_path_factory.mktemp("replicas")
    database_url = _database(postgres_server)
    chroma_port, proxy_port = free_port(), free_port()
    chroma = Process(
        [str(Path(sys.executable).with_name("chroma")), "run", "--host", "127.0.0.1", "--port",
         str(chroma_port), "--path", str(root / "chroma")],
        root / "chroma.log", {"ANONYMIZED_TELEMETRY": "False"},
    )  # fmt: skip
    llama = ParallelLlamaServer(bundled_gguf(), root / "llama.log", alias=ALIAS, slots=2, n_ctx=2048)
    stack: list[Any] = [chroma, llama]
    try:
        env = _environment(root, database_url, chroma_port, llama, proxy_port)
        replicas = {name: AppServer(root / name, root / f"{name}.log", env=env) for name in REPLICAS}
        errors: list[BaseException] = []
        loading = threading.Thread(target=_start_all, args=([llama], errors))
        loading.start()
        # The account first: this also migrates the shared database once, before anyone serves.
        replicas["r1"].add_user("erin", PASSWORD)
        loading.join()
        _raise_first(errors)
        chroma.wait_until(lambda: _ok(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat"), "chroma run")
        worker_env = {**env, "CONFIDANTE_DATA_DIR": str(root / "worker"), "PYTHONUNBUFFERED": "1"}
        worker = Process([sys.executable, "-m", "assistant.cli", "worker", "--name", "w1"],
                         root / "worker.log", worker_env)  # fmt: skip
        stack.extend([worker, *replicas.values()])
        _start_all(list(replicas.values()), errors)
        _raise_first(errors)
        worker.wait_until(lambda: "waiting for summary jobs" in worker.log_tail(200), "confidante worker")
        config = root / "haproxy.cfg"
        config.write_text(HAPROXY.format(port=proxy_port, r1=replicas["r1"].port, r2=replicas["r2"].port))
        proxy = Process([haproxy, "-f", str(config), "-db"], root / "haproxy.log")
        stack.append(proxy)
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        proxy.wait_until(lambda: _ok(f"{proxy_url}/auth/config"), "haproxy")
        yield Topology(proxy_url, database_url, root / "shared", replicas, worker)
    finally:
        for part in reversed(stack):
            part.stop()


class ReplicaSocket(ChatSocket):
    """The load bench's client, pinned to one replica by the proxy's cookie, plus files and resume."""

    def __init__(self, base_url: str, token: str, replica: str, **kwargs: Any) -> None:
        # The client sends `Cookie: access_token=<token>`; the proxy's cookie rides along.
        super().__init__(base_url, f"{token}; SERVERID={replica}", **kwargs)
        self.access_token, self.replica = token, replica
        for event in ("resume_thread", "resume_thread_error"):
            self._client.on(event, self._recorder(event))
        # The thread id the server gave this chat (announced with the first interaction).
        self.stored_thread_id: str | None = None
        self._client.on("first_interaction", self._note_thread)

    async def _note_thread(self, data: Any = None, *_: Any) -> None:
        if isinstance(data, dict) and data.get("thread_id"):
            self.stored_thread_id = str(data["thread_id"])

    async def resume(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Connect to the existing thread `thread_id` as the frontend does; the thread sent back."""
        auth = {"clientType": "webapp", "sessionId": self.session_id, "threadId": self.thread_id,
                "userEnv": "{}", "chatProfile": self.chat_profile}  # fmt: skip
        await self._client.connect(
            self.base_url, socketio_path="/ws/socket.io", transports=["websocket"],
            headers={"Cookie": f"access_token={self.token}", "Origin": self.base_url},
            auth=auth, wait_timeout=timeout_s,
        )  # fmt: skip
        await self._client.emit("connection_successful")
        wanted = ("resume_thread", "resume_thread_error")
        return dict(await self.next_event(lambda event, data: event in wanted, timeout_s))

    async def next_event(self, wanted: Callable[[str, Any], bool], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            event, data = await asyncio.wait_for(self._events.get(), max(0.1, deadline - time.monotonic()))
            if wanted(event, data):
                assert event != "resume_thread_error", data
                return data

    async def send_file(self, name: str, content: bytes, mime: str) -> None:
        """Upload through Chainlit's route (to this session's replica), then send it in a message."""
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60.0) as client:
            response = await client.post(
                "/project/file", params={"session_id": self.session_id},
                files={"file": (name, content, mime)},
                headers={"Cookie": f"access_token={self.access_token}; SERVERID={self.replica}"},
            )  # fmt: skip
        response.raise_for_status()
        assert response.headers["x-replica"] == self.replica  # the session's files stay with it
        reference = {"id": response.json()["id"]}
        message = self._message("")
        await self._client.emit("client_message", {"message": message, "fileReferences": [reference]})


def _output(data: Any) -> str:
    return str(data.get("output", "")) if isinstance(data, dict) else ""


def _rows(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params))
    finally:
        engine.dispose()


def _eventually_rows(
    database_url: str, sql: str, wanted: Callable[[list[Any]], bool], **params: Any
) -> list[Any]:
    """The rows once `wanted` holds (Chainlit writes history in background tasks), else the last."""
    deadline = time.monotonic() + 60
    rows = _rows(database_url, sql, **params)
    while not wanted(rows) and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = _rows(database_url, sql, **params)
    return rows


def test_the_proxy_keeps_a_client_on_its_replica(topology: Topology) -> None:
    for replica in REPLICAS:
        for _ in range(3):
            response = httpx.get(f"{topology.proxy_url}/auth/config", cookies={"SERVERID": replica})
            assert response.headers["x-replica"] == replica


async def test_chats_uploads_and_resume_across_two_replicas(topology: Topology) -> None:
    token = await sign_in(topology.proxy_url, "erin", PASSWORD)

    # 1. A chat on each replica: the same account, the same database, answered by the private server.
    async def chat_on(replica: str) -> str:
        socket = ReplicaSocket(topology.proxy_url, token, replica)
        await socket.connect(timeout_s=120)
        await socket.ask(f"Say hello to replica {replica}.", timeout_s=240)
        await socket.close()
        assert socket.stored_thread_id is not None
        return socket.stored_thread_id

    # At the same time: the private server has a slot for each.
    threads = dict(zip(REPLICAS, await asyncio.gather(*(chat_on(r) for r in REPLICAS)), strict=True))
    expected = {(threads[r], "erin") for r in REPLICAS}
    stored = _eventually_rows(
        topology.database_url, "SELECT id, owner FROM chat_threads",
        lambda rows: {(row.id, row.owner) for row in rows} >= expected,
    )  # fmt: skip
    assert {(row.id, row.owner) for row in stored} >= expected
    calls = _rows(
        topology.database_url,
        "SELECT route, model, outcome, detail FROM audit_records WHERE kind = 'model_call'",
    )
    assert calls and {row.route for row in calls} == {"local"}, [tuple(row) for row in calls]

    # 2. An upload accepted by r1, summarized by the worker, its progress shown in r1's chat.
    socket = ReplicaSocket(topology.proxy_url, token, "r1")
    await socket.connect(timeout_s=120)
    await socket._settle()
    await socket.send_file(FILE_NAME, DOCUMENT.encode(), "text/plain")
    is_progress = lambda event, data: event == "update_message" and _output(data).startswith("⏳ Summarizing")  # noqa: E731
    await socket.next_event(is_progress, 240)
    closing = await socket.next_event(
        lambda event, data: event == "update_message" and _output(data).startswith(("✅", "⚠️")), 300
    )
    summary = await socket.next_event(
        lambda event, data: event == "new_message" and "upload_job" in (data.get("metadata") or {}), 60
    )
    job_id = summary["metadata"]["upload_job"]
    upload_thread = socket.stored_thread_id
    await socket.close()
    assert _output(closing) == FINISHED
    (job,) = _rows(
        topology.database_url, "SELECT status, attempts FROM upload_jobs WHERE id = :id", id=job_id
    )
    assert (job.status, job.attempts) == ("done", 1)
    assert not (topology.shared_dir / "uploads" / job_id).exists()  # staged text removed by the worker
    assert "waiting for summary jobs" in topology.worker.log_tail(400)

    # 3. The same chat resumed on r2: the thread, with the worker's summary, comes from the engines.
    resumed = ReplicaSocket(topology.proxy_url, token, "r2", thread_id=upload_thread)
    thread = await resumed.resume()
    outputs = [step.get("output", "") for step in thread.get("steps", [])]
    assert FINISHED in outputs
    assert any((step.get("metadata") or {}).get("upload_job") == job_id for step in thread["steps"])
    # The uploaded file, stored by r1 as a chat element, downloads from r2 (the shared store).
    (element,) = [e for e in thread.get("elements") or [] if e.get("name") == FILE_NAME]
    async with httpx.AsyncClient(cookies={"access_token": token, "SERVERID": "r2"}, timeout=30) as client:
        download = await client.get(topology.proxy_url + element["url"])
    assert (download.status_code, download.headers["x-replica"]) == (200, "r2")
    assert download.content == DOCUMENT.encode()
    await resumed.ask("What do the hotel nights cost at most?", timeout_s=240)
    await resumed.close()
    steps = _rows(topology.database_url, "SELECT count(*) AS n FROM chat_steps WHERE thread_id = :t",
                  t=upload_thread)  # fmt: skip
    assert steps[0].n > len(outputs)  # the turn on r2 was stored in the same thread
    # Three processes appended to one audit trail: the hash chain is still whole.
    topology.replicas["r2"].cli("audit", "verify")  # exits 1 (raising here) at the first bad record


async def test_a_summary_running_as_the_chat_moves_replica_arrives_live_once(topology: Topology) -> None:
    """The tab that uploaded on r1 closes mid-summary; the chat reopened on r2 gets the result live
    (before the fix, r1, which kept the closed tab's session, could claim it and write it where
    nobody saw it until a reload). Whether the worker ends before or after the reopen, the result
    is in the chat exactly once."""
    token = await sign_in(topology.proxy_url, "erin", PASSWORD)
    socket = ReplicaSocket(topology.proxy_url, token, "r1")
    await socket.connect(timeout_s=120)
    await socket._settle()
    await socket.send_file("moved-" + FILE_NAME, DOCUMENT.encode(), "text/plain")
    is_progress = lambda event, data: event == "new_message" and _output(data).startswith("⏳")  # noqa: E731
    await socket.next_event(is_progress, 240)
    thread_id = socket.stored_thread_id
    assert thread_id is not None
    await socket.close()  # the tab closes while the worker summarizes

    resumed = ReplicaSocket(topology.proxy_url, token, "r2", thread_id=thread_id)
    thread = await resumed.resume()
    stored = [s for s in thread.get("steps", []) if "upload_job" in (s.get("metadata") or {})]
    if not stored:  # still running at the reopen: it must come to r2's open chat, live

        def is_result(event: str, data: Any) -> bool:
            return event == "new_message" and "upload_job" in (data.get("metadata") or {})

        await resumed.next_event(is_result, 300)
    await resumed.close()
    results = _eventually_rows(
        topology.database_url,
        "SELECT id FROM chat_steps WHERE thread_id = :t AND CAST(body AS TEXT) LIKE '%upload_job%'",
        lambda rows: len(rows) >= 1, t=thread_id,
    )  # fmt: skip
    assert len(results) == 1  # one replica showed it (JobStore.claim_announcement)
