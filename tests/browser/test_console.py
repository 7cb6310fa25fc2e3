"""The admin console in Chromium: every page for an admin (axe, screenshots, desktop and phone,
light and dark), axis labels not clipped, the header link for admins only, anonymous visitors
sent to sign in, and grading an answer in the review queue (the form POST carries `Origin: null`
under the app's Referrer-Policy; the session's CSRF token is what lets it through)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from assistant.governance.audit import AuditEvent
from assistant.governance.component import Governance, build_governance
from assistant.governance.settings import GovernanceSettings
from assistant.review.models import ReviewCandidate, ReviewSettings
from assistant.review.queue import ReviewQueue
from tests.browser.app_server import AppServer
from tests.browser.axe import blocking, run_axe
from tests.browser.conftest import PHONE, OpenChat

Shot = Callable[[Page, str], Path]
PAGES = {
    "/admin/dashboard": "how the assistant is doing",
    "/admin/experiments": "Experiments",
    "/admin/review": "Review queue",
    "/admin/capabilities": "Capability map",
}


@contextmanager
def _governance(server: AppServer) -> Iterator[Governance]:
    governance = build_governance(GovernanceSettings(), server.data_dir)
    try:
        yield governance
    finally:
        governance.close()


def _labels_inside_their_svg(page: Page) -> list[str]:
    """Texts of chart labels that stick out of their SVG's viewBox on the left or right."""
    return page.evaluate(
        """() => [...document.querySelectorAll('figure.chart svg text')].filter(t => {
            const box = t.getBBox(); const view = t.ownerSVGElement.viewBox.baseVal;
            return box.x < 0 || box.x + box.width > view.width;
        }).map(t => t.textContent)"""
    )


def test_every_console_page_for_an_admin(
    open_chat: OpenChat, app_server: AppServer, axe_js: str, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin")
    with _governance(app_server) as governance:  # one slow call: its axis label must fit
        governance.audit.record(
            AuditEvent(kind="model_call", user_id="morgan", tier="public", route="local", model="m",
                       latency_ms=56883.0, prompt_tokens=1_200_000, completion_tokens=10, outcome="ok")
        )  # fmt: skip
    page = admin.page
    for path, heading in PAGES.items():
        response = page.goto(app_server.base_url + path)
        assert response is not None and response.status == 200, path
        expect(page.locator("h1")).to_contain_text(heading)
        expect(page.get_by_role("link", name="Dashboard", exact=True)).to_be_visible()
        problems = blocking(run_axe(page, axe_js))
        assert not problems, [str(p) for p in problems]
        screenshot(page, f"{path} light")
    page.goto(app_server.base_url + "/admin/dashboard")
    assert _labels_inside_their_svg(page) == []
    text = page.locator("main").inner_text()
    assert "e+" not in text
    assert "56.9 s" in page.content() or "57 s" in page.content()


def test_console_pages_in_dark_mode_and_on_a_phone(
    open_chat: OpenChat, app_server: AppServer, axe_js: str, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin", viewport=PHONE)
    page = admin.page
    page.emulate_media(color_scheme="dark")
    for path in PAGES:
        page.goto(app_server.base_url + path)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(22, 22, 22)", (path, background)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
        problems = blocking(run_axe(page, axe_js))
        assert not problems, [str(p) for p in problems]
        screenshot(page, f"{path} dark phone")


def test_the_header_links_to_the_console_for_admins_only(
    open_chat: OpenChat, app_server: AppServer, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin")
    link = admin.page.locator('#header a[href="/admin/dashboard"]')
    expect(link).to_be_visible()
    screenshot(admin.page, "chat header with the console link")
    link.click()
    admin.page.wait_for_url(app_server.base_url + "/admin/dashboard")
    expect(admin.page.locator("h1")).to_contain_text("how the assistant is doing")

    user = open_chat(as_="user")
    expect(user.page.locator("#header")).to_be_visible()
    expect(user.page.locator('#header a[href="/admin/dashboard"]')).to_be_hidden()


def test_anonymous_visitors_are_sent_to_sign_in(
    browser: Browser, app_server: AppServer, screenshot: Shot
) -> None:
    context = browser.new_context(base_url=app_server.base_url)
    try:
        page = context.new_page()
        for path in PAGES:
            response = page.goto(app_server.base_url + path)
            assert response is not None and response.status == 401, path
            expect(page.locator("h1")).to_have_text("Sign in first.")
        screenshot(page, "console for an anonymous visitor")
        page.get_by_role("link", name="Sign in").click()
        page.wait_for_url("**/login")
    finally:
        context.close()


def test_a_reviewer_grades_an_answer_in_chromium(
    open_chat: OpenChat, app_server: AppServer, axe_js: str, screenshot: Shot
) -> None:
    admin = open_chat(as_="admin")  # the suite's accounts exist from here on
    with _governance(app_server) as governance:
        queue = ReviewQueue(governance.engine, ReviewSettings(share={"chat": 1.0}))
        public = queue.offer(
            ReviewCandidate(turn_id="browser-review-1", capability="chat", tier="public", user_id="avery",
                            question="How do I book the big meeting room?", answer="Use the rooms page.")
        )  # fmt: skip
        queue.offer(
            ReviewCandidate(turn_id="browser-review-2", capability="chat", tier="regulated", user_id="avery",
                            question="My SSN is 078-05-1120: is my pay right?", answer="Checked locally.")
        )  # fmt: skip
    assert public is not None
    page = admin.page
    page.goto(app_server.base_url + "/admin/review")
    item = page.get_by_role("article", name=f"Answer {public.id}")
    expect(item).to_contain_text("How do I book the big meeting room?")
    expect(page.locator("main")).not_to_contain_text("078-05-1120")  # admin, not in the policy's group
    assert not blocking(run_axe(page, axe_js))
    item.get_by_label("partly").check()
    item.get_by_label("Note").fill("right page, no steps")
    screenshot(page, "review before grading")
    item.get_by_role("button", name="Save grade").click()
    page.wait_for_url(app_server.base_url + "/admin/review")
    expect(page.get_by_role("article", name=f"Answer {public.id}")).to_have_count(0)
    expect(page.get_by_role("table", name="Recently graded")).to_contain_text("right page, no steps")
    screenshot(page, "review after grading")
    with _governance(app_server) as governance:
        morgan = governance.accounts.principal(username="morgan")
        assert morgan is not None
        graded = ReviewQueue(governance.engine).graded_for(morgan)
    assert [(i.grade, i.note, i.graded_by) for i in graded if i.turn_id == "browser-review-1"] == [
        ("partly", "right page, no steps", morgan.user_id)
    ]
