"""Whether a URL in a model's answer may be shown as a link, and why not.

A model's output is untrusted: it may have been told (by a document or a jailbreak) to make the
browser fetch an attacker's URL with data in it. `LinkPolicy.judge` decides per URL: the app's
own paths pass; other hosts pass only when the admin listed them, and even then not when the URL
carries a canary or a long encoded value (a smuggling channel). It never fetches or resolves a URL.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict

Reason = Literal["internal", "allowed", "external", "scheme", "smuggled", "canary", "malformed"]

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
# Browsers drop ASCII tab/newline inside URLs and trim control characters and spaces around them.
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f]")
_ENCODED_VALUE = re.compile(r"[A-Za-z0-9+/=_%.-]+")
_HEX_VALUE = re.compile(r"(?:[0-9a-fA-F]{2})+")


class LinkVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: Reason
    host: str = ""


def defang(host: str) -> str:
    """A host written so that no renderer turns it into a link again ("evil[.]com")."""
    return host.replace(".", "[.]")


def clean_url(raw: str) -> str:
    """The URL a browser would actually use: entities decoded, ignored characters dropped."""
    url = html.unescape(raw.strip().strip("<>"))
    url = _IGNORED_IN_URL.sub("", url)
    # Browsers treat a backslash like a slash in http(s) URLs ("/\\evil.com" is "//evil.com").
    return url.replace("\\", "/")


def host_of(url: str) -> str:
    """The lower-cased host of an absolute or protocol-relative URL ("" when there is none)."""
    target = url if "://" in url or url.startswith("//") else f"//{url}"
    try:
        return (urlsplit(target).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def looks_encoded(value: str, min_chars: int) -> bool:
    """A long value that looks like base64/hex data rather than words (a smuggling channel)."""
    value = unquote(value)
    if len(value) < min_chars or not _ENCODED_VALUE.fullmatch(value):
        return False
    if _HEX_VALUE.fullmatch(value):
        return True
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and not re.fullmatch(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*", value)


def canary_forms(canaries: Iterable[str]) -> tuple[str, ...]:
    """A canary as it may appear in a URL: plain, base64 (with or without padding) and hex."""
    forms: set[str] = set()
    for canary in canaries:
        if not canary:
            continue
        raw = canary.encode()
        forms.update(
            {
                canary.lower(),
                base64.b64encode(raw).decode().rstrip("=").lower(),
                base64.urlsafe_b64encode(raw).decode().rstrip("=").lower(),
                raw.hex(),
            }
        )
    return tuple(sorted(forms))


class LinkPolicy:
    """Judges URLs against the admin's host allowlist and the planted canaries."""

    def __init__(
        self,
        allowed_hosts: Sequence[str] = (),
        *,
        canaries: Sequence[str] = (),
        smuggled_min_chars: int = 24,
    ) -> None:
        self._exact = {h.lower().strip(".") for h in allowed_hosts if not h.startswith("*.")}
        self._suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))
        self._canaries = canary_forms(canaries)
        self._min_chars = smuggled_min_chars

    def host_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return bool(host) and (host in self._exact or any(host.endswith(s) for s in self._suffixes))

    def judge(self, raw: str) -> LinkVerdict:
        url = clean_url(raw)
        if not url or url.startswith("#"):
            return LinkVerdict(allowed=True, reason="internal")
        scheme = _SCHEME.match(url)
        if scheme is None and not url.startswith("//"):
            return self._judge_relative(url)
        name = scheme.group(1).lower() if scheme else "https"
        if name not in ("http", "https", "mailto"):
            return LinkVerdict(allowed=False, reason="scheme", host=name)
        host = url.rsplit("@", 1)[-1].split("?")[0] if name == "mailto" else host_of(url)
        if not host:
            return LinkVerdict(allowed=False, reason="malformed")
        if not self.host_allowed(host):
            return LinkVerdict(allowed=False, reason="external", host=host)
        smuggling = self.smuggling_reason(url, host)
        if smuggling is not None:
            return LinkVerdict(allowed=False, reason=smuggling, host=host)
        return LinkVerdict(allowed=True, reason="allowed", host=host)

    def _judge_relative(self, url: str) -> LinkVerdict:
        # The app's own paths: a request to our own server carries nothing to an attacker.
        if self.carries_canary(url):
            return LinkVerdict(allowed=False, reason="canary")
        return LinkVerdict(allowed=True, reason="internal")

    def carries_canary(self, url: str) -> bool:
        folded = unquote(url).lower()
        return any(form in folded for form in self._canaries)

    def smuggling_reason(self, url: str, host: str) -> Literal["canary", "smuggled"] | None:
        if self.carries_canary(url):
            return "canary"
        parts = urlsplit(url if "://" in url else f"//{url}")
        values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
        values += [parts.fragment, *parts.path.split("/"), *host.split(".")]
        if any(looks_encoded(value, self._min_chars) for value in values):
            return "smuggled"
        return None
