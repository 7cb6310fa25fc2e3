"""Accessibility checks with axe-core (from the npm registry, pinned in package-lock.json).

`axe_source()` returns axe.min.js, running `npm ci` once when node_modules is missing (the only
step in the browser suite that uses the network, and only the npm registry). `run_axe(page)`
injects it into the page and returns typed violations. It never changes the page.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 A/AA plus axe's best practices: what an accessibility audit of a web app checks.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets[:4])}"


def axe_source() -> str:
    if not AXE_JS.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("axe-core is not installed and npm is missing: apt-get install npm")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, timeout=300)
    return AXE_JS.read_text(encoding="utf-8")


def run_axe(page: Page, source: str, *, exclude: tuple[str, ...] = ()) -> list[Violation]:
    """All violations on the page as it is now (`exclude`: CSS selectors axe should skip)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, not as an inline <script>: the app's
        # Content-Security-Policy (rightly) refuses inline scripts, and must stay on for the test.
        page.evaluate(source + "\n;undefined")
    raw = page.evaluate(
        """async ([tags, exclude]) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            const result = await window.axe.run(context, {runOnly: {type: 'tag', values: tags},
                                                         resultTypes: ['violations']});
            return result.violations.map((v) => ({
                rule: v.id, impact: v.impact || 'minor', help: v.help,
                targets: v.nodes.map((n) => `${n.target.join(' ')} ${n.html.slice(0, 160)}`)}));
        }""",
        [TAGS, list(exclude)],
    )
    return [Violation(r["rule"], r["impact"], r["help"], tuple(r["targets"])) for r in raw]


def blocking(violations: list[Violation]) -> list[Violation]:
    return [v for v in violations if v.impact in BLOCKING]
