"""A throwaway PostgreSQL server for tests, from Debian's binaries (`apt-get install postgresql`).

Use it as a pytest plugin (`pytest_plugins = ["tests.postgres"]` in conftest.py) or import the
fixtures into a test module. `postgres_server` (session) runs `initdb` and `pg_ctl` from
`/usr/lib/postgresql/*/bin` in a temp dir on a free loopback port; as root it runs them as the
unprivileged `postgres` (or `nobody`) user. `postgres_url` gives each test a fresh database.
The server is skipped, with the reason printed, only where it truly cannot run.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def _bin_dir() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    return candidates[-1].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> tuple[list[str], str | None]:
    """The command prefix that drops root privileges (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", name, "--"], name
    return [], None


def _start(bin_dir: Path, root: Path, prefix: list[str]) -> int:
    data, log = root / "data", root / "server.log"
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -F -c max_connections=60"
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
         "-w", "-t", "60", "start"],
        check=True, capture_output=True, timeout=90,
    )  # fmt: skip
    return port


_server: PostgresServer | None = None
_skip_reason: str | None = None


def _start_once() -> PostgresServer:
    """One server per test process, however many modules import these fixtures; stopped at exit."""
    global _server, _skip_reason
    if _server is None and _skip_reason is None:
        try:
            _server = _launch()
        except _CannotRun as exc:
            _skip_reason = str(exc)
    if _server is None:
        pytest.skip(_skip_reason or "PostgreSQL could not start")
    return _server


class _CannotRun(Exception):
    pass


def _launch() -> PostgresServer:
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise _CannotRun(
            "PostgreSQL not installed: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)"
        )
    prefix, user = _run_as()
    if os.geteuid() == 0 and user is None:
        raise _CannotRun("running as root and no unprivileged user (postgres/nobody) with runuser")
    root = Path(tempfile.mkdtemp(prefix="confidante-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    try:
        port = _start(bin_dir, root, prefix)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log = (
            (root / "server.log").read_text(errors="replace")[-2000:]
            if (root / "server.log").exists()
            else ""
        )
        stderr = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[-1000:]
        shutil.rmtree(root, ignore_errors=True)
        raise _CannotRun(f"PostgreSQL could not start: {exc}; {stderr} {log}") from None
    atexit.register(_stop, bin_dir, root, prefix)
    return PostgresServer(host="127.0.0.1", port=port)


def _stop(bin_dir: Path, root: Path, prefix: list[str]) -> None:
    subprocess.run(
        [*prefix, str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "-w", "stop"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    return _start_once()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = (
        f"host={postgres_server.host} port={postgres_server.port} user={postgres_server.user} dbname=postgres"
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_server.url(name)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_engine(postgres_url: str, data_dir: Path) -> Iterator[object]:
    """The app's database engine on a fresh PostgreSQL database, migrated; disposed after the test."""
    from assistant.governance.db import create_db_engine, migrate
    from assistant.governance.settings import GovernanceSettings

    engine = create_db_engine(GovernanceSettings(database_url=postgres_url), data_dir)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against a SQLite file and against a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'confidante.db'}"
    return request.getfixturevalue("postgres_url")
