"""Browser-suite fixtures: one real app server and one Debian Chromium for the whole session.

The server is `python -m assistant.cli serve` on a free loopback port with a temporary data
directory and short answers (96 tokens: still long enough to press Stop mid-answer). Chromium is
Debian's (`/usr/bin/chromium`; Playwright's own browser download is never used) with the flags
that stop it from reaching the internet.
Each test gets a fresh browser context (a new Chainlit session, a new chat). When the app asks
for sign-in, accounts are created through the real admin CLI and the login form is used.
Screenshots go to `test-artifacts/screenshots/` (gitignored); a failing test leaves one too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.browser.app_server import REPO, AppServer
from tests.browser.axe import axe_source
from tests.browser.chat_page import ChatPage
from tests.browser.scripted_upstream import ScriptedUpstream
from tests.support.servers import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    admin: bool = False


USER = Account("avery", "browser-test-pass-1")
ADMIN = Account("morgan", "browser-test-pass-2", admin=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    browser_items = [item for item in items if here in Path(str(item.fspath)).parents]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    # Browser tests run last: sync Playwright keeps an event loop running in the main thread until
    # the session ends, and any async test after it would fail ("another loop is running").
    chosen = set(map(id, browser_items))
    items[:] = [item for item in items if id(item) not in chosen] + browser_items


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, object]:
    report = yield
    if getattr(report, "when", "") == "call":
        item.stash[_FAILED] = bool(getattr(report, "failed", False))
    return report


_FAILED = pytest.StashKey[bool]()


# Short questions end on their own; the cap only bounds long ones, and must leave a long answer
# several seconds on a quiet machine (~70 tokens/s) so that Stop lands mid-answer.
SERVER_ENV = {"CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "320", "CONFIDANTE_LOGGING__LEVEL": "INFO"}
HANDBOOK_TITLE = "Northwind Employee Handbook"
HANDBOOK = f"""# {HANDBOOK_TITLE}

## Cafeteria

The cafeteria opens at 7:30 on weekdays and closes at 15:00. It is closed on Saturdays and Sundays.
Vegetarian dishes are served every day at the second counter.

## Remote work

Employees may work remotely up to three days per week after agreeing it with their manager.
Remote days are recorded in the team calendar.

## Equipment

Laptops are replaced every four years. Broken equipment is reported to the IT service desk.
"""


@contextmanager
def running(server: AppServer) -> Iterator[AppServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("browser-app")
    with running(AppServer(root / "data", root / "serve.log", env=SERVER_ENV)) as server:
        yield server


@pytest.fixture(scope="session")
def knowledge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """A second app whose knowledge base holds the handbook, ingested by the real CLI *before* the
    server starts (the embedded store belongs to one process at a time)."""
    root = tmp_path_factory.mktemp("knowledge-app")
    handbook = root / "northwind-handbook.md"
    handbook.write_text(HANDBOOK, encoding="utf-8")
    server = AppServer(root / "data", root / "serve.log", env=SERVER_ENV)
    server.cli("ingest", str(handbook), "--public")
    with running(server):
        yield server


def scripted_answer(messages: list[dict[str, object]]) -> str:
    """What the scripted hosted model writes: fixed by the question, never by a real model."""
    asked = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user").lower()
    if "cafeteria open" in asked and "laptops" not in asked:
        return "The cafeteria opens at 7:30 on weekdays [1]."
    if "laptops" in asked:
        return "Laptops are replaced every four years [1]."
    return "Here is a short answer."


@pytest.fixture(scope="session")
def scripted_knowledge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The handbook app with a scripted hosted model (`scripted_answer`) for UI-logic tests."""
    root = tmp_path_factory.mktemp("scripted-knowledge-app")
    handbook = root / "northwind-handbook.md"
    handbook.write_text(HANDBOOK, encoding="utf-8")
    with ScriptedUpstream(scripted_answer) as upstream:
        env = {**SERVER_ENV, "OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": "scripted"}
        server = AppServer(root / "data", root / "serve.log", env=env)
        server.cli("ingest", str(handbook), "--public")
        with running(server):
            yield server


@pytest.fixture
def scripted_knowledge_chat(
    request: pytest.FixtureRequest, browser: Browser, scripted_knowledge_server: AppServer
) -> Iterator[OpenChat]:
    """A chat on the handbook app whose hosted model is scripted."""
    with chat_opener(request, browser, scripted_knowledge_server) as open_:
        yield open_


@pytest.fixture(scope="session")
def hosted_down_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """An app configured for a hosted model at a loopback port where nothing listens."""
    root = tmp_path_factory.mktemp("hosted-down-app")
    dead = f"http://127.0.0.1:{free_port()}/v1"  # bound and released: nothing listens there now
    env = {**SERVER_ENV, "OPENAI_BASE_URL": dead, "OPENAI_API_KEY": "test"}
    with running(AppServer(root / "data", root / "serve.log", env=env)) as server:
        yield server


@pytest.fixture(scope="session")
def accounts(app_server: AppServer) -> dict[str, Account]:
    """The accounts tests sign in with; created only when the app has password sign-in."""
    return ensure_accounts(app_server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is required at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh, throw-away user-data dir.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def axe_js() -> str:
    return axe_source()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """`screenshot(page, "what it shows")` → test-artifacts/screenshots/<test>--<what>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, what: str) -> Path:
        path = SCREENSHOTS / f"{_slug(request.node.name)}--{_slug(what)}.png"
        page.screenshot(path=str(path))
        return path

    return take


OpenChat = Callable[..., ChatPage]


def ensure_accounts(server: AppServer) -> dict[str, Account]:
    """The accounts tests sign in with on `server`; created once, only when it has password sign-in."""
    if not server.accounts_ready and server.requires_sign_in:
        for account in (USER, ADMIN):
            server.add_user(account.username, account.password, admin=account.admin)
    server.accounts_ready = True
    return {"user": USER, "admin": ADMIN}


@contextmanager
def chat_opener(request: pytest.FixtureRequest, browser: Browser, server: AppServer) -> Iterator[OpenChat]:
    """`open_(viewport=PHONE, as_="admin")` on `server`: a new session in its own context, signed in.
    A failing test leaves a screenshot of every page it opened."""
    accounts = ensure_accounts(server)
    contexts = []

    def open_(*, viewport: ViewportSize | None = None, as_: str = "user", theme: str = "dark") -> ChatPage:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=server.base_url)
        # Chainlit keeps the theme choice in localStorage; pin it so screenshots are comparable.
        context.add_init_script(f"window.localStorage.setItem('vite-ui-theme', '{theme}')")
        contexts.append(context)
        chat = ChatPage(context.new_page(), server.base_url)
        chat.open()
        if chat.on_login_page():
            account = accounts[as_]
            chat.sign_in(account.username, account.password)
        chat.wait_until_connected()
        return chat

    yield open_
    if request.node.stash.get(_FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for n, context in enumerate(contexts):
            for page in context.pages:
                page.screenshot(path=str(SCREENSHOTS / f"FAILED--{_slug(request.node.name)}-{n}.png"))
    for context in contexts:
        context.close()


@pytest.fixture
def open_chat(request: pytest.FixtureRequest, browser: Browser, app_server: AppServer) -> Iterator[OpenChat]:
    """A chat on the shared app server."""
    with chat_opener(request, browser, app_server) as open_:
        yield open_


@pytest.fixture
def chat(open_chat: OpenChat) -> ChatPage:
    """A desktop-sized chat, signed in as an ordinary user when the app asks for sign-in."""
    return open_chat()


@pytest.fixture
def knowledge_chat(
    request: pytest.FixtureRequest, browser: Browser, knowledge_server: AppServer
) -> Iterator[OpenChat]:
    """A chat on the app that has the handbook in its knowledge base."""
    with chat_opener(request, browser, knowledge_server) as open_:
        yield open_


@pytest.fixture
def hosted_down_chat(
    request: pytest.FixtureRequest, browser: Browser, hosted_down_server: AppServer
) -> Iterator[OpenChat]:
    """A chat on the app whose hosted model cannot be reached."""
    with chat_opener(request, browser, hosted_down_server) as open_:
        yield open_
