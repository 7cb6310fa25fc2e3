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
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.browser.app_server import REPO, AppServer
from tests.browser.axe import axe_source
from tests.browser.chat_page import ChatPage

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
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, object, object]:
    report = yield
    if getattr(report, "when", "") == "call":
        item.stash[_FAILED] = bool(getattr(report, "failed", False))
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp("browser-app")
    server = AppServer(
        root / "data",
        root / "serve.log",
        env={"CONFIDANTE_MODELS__LOCAL__MAX_TOKENS": "96", "CONFIDANTE_LOGGING__LEVEL": "INFO"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def accounts(app_server: AppServer) -> dict[str, Account]:
    """The accounts tests sign in with; created only when the app has password sign-in."""
    if app_server.requires_sign_in:
        for account in (USER, ADMIN):
            app_server.add_user(account.username, account.password, admin=account.admin)
    return {"user": USER, "admin": ADMIN}


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


@pytest.fixture
def open_chat(
    request: pytest.FixtureRequest, browser: Browser, app_server: AppServer, accounts: dict[str, Account]
) -> Iterator[OpenChat]:
    """`open_chat(viewport=PHONE, as_="admin")`: a new session in its own context, signed in."""
    contexts = []

    def open_(*, viewport: ViewportSize | None = None, as_: str = "user", theme: str = "dark") -> ChatPage:
        context = browser.new_context(viewport=viewport or DESKTOP, base_url=app_server.base_url)
        # Chainlit keeps the theme choice in localStorage; pin it so screenshots are comparable.
        context.add_init_script(f"window.localStorage.setItem('vite-ui-theme', '{theme}')")
        contexts.append(context)
        chat = ChatPage(context.new_page(), app_server.base_url)
        chat.open()
        if chat.on_login_page():
            account = accounts[as_]
            chat.sign_in(account.username, account.password)
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
def chat(open_chat: OpenChat) -> ChatPage:
    """A desktop-sized chat, signed in as an ordinary user when the app asks for sign-in."""
    return open_chat()
