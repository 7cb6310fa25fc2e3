"""Measure what a markdown renderer would actually do with an answer.

Renders with markdown-it-py in its most permissive useful form (raw HTML on, autolinking of bare
URLs and, optionally, bare domains) and counts the elements that would make a browser fetch or
navigate somewhere outside the app: `img`/`iframe`/`script`/... with an external or script
source, and `a` with an external or script `href`. Used by tests and the injection evaluation;
never by the request path (it needs the optional `linkify-it-py`).
"""

from __future__ import annotations

from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict

from assistant.security.urls import LinkPolicy

_FETCHING = {"img", "iframe", "frame", "script", "embed", "object", "video", "audio", "source", "link", "svg"}
_SOURCE_ATTRS = {"src", "href", "data", "srcset", "poster", "action", "formaction", "xlink:href"}


class RenderedRisk(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_images: int  # any fetching element with an outside or script source
    external_links: int  # anchors to outside hosts or script URLs
    script_elements: int  # <script>, event-handler attributes
    targets: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.external_images + self.external_links + self.script_elements


class _Collector(HTMLParser):
    def __init__(self, policy: LinkPolicy) -> None:
        super().__init__(convert_charrefs=True)
        self.policy = policy
        self.images = self.links = self.scripts = 0
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" or any(name.startswith("on") for name, _ in attrs):
            self.scripts += 1
        for name, value in attrs:
            if name not in _SOURCE_ATTRS or value is None:
                continue
            if self.policy.judge(value).allowed:
                continue
            self.targets.append(value)
            if tag == "a":
                self.links += 1
            elif tag in _FETCHING or name != "href":
                self.images += 1


def render_html(markdown: str, *, fuzzy_domains: bool = True) -> str:
    from markdown_it import MarkdownIt

    try:
        import linkify_it  # noqa: F401 - markdown-it's autolinking needs it
    except ImportError as exc:
        raise RuntimeError(
            "measuring rendered links needs linkify-it-py: pip install linkify-it-py==2.2.0"
        ) from exc

    renderer = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
        ["linkify", "table", "strikethrough"]
    )
    if renderer.linkify is not None:
        renderer.linkify.set({"fuzzy_link": fuzzy_domains, "fuzzy_email": False})
    return renderer.render(markdown)


def rendered_risk(
    markdown: str, policy: LinkPolicy | None = None, *, fuzzy_domains: bool = True
) -> RenderedRisk:
    """Count what would load or link outside the app if `markdown` were rendered (HTML allowed)."""
    collector = _Collector(policy or LinkPolicy())
    collector.feed(render_html(markdown, fuzzy_domains=fuzzy_domains))
    collector.close()
    return RenderedRisk(
        external_images=collector.images,
        external_links=collector.links,
        script_elements=collector.scripts,
        targets=tuple(collector.targets),
    )
