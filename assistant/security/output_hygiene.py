"""Output hygiene: a model's answer is made inert before it is displayed or stored.

A prompt-injected model can try to exfiltrate data by making the browser fetch a URL (a markdown
image, a reference-style image, raw `<img>`, an autolink the user clicks) or to run script
(`javascript:`/`data:` URLs, event handlers). Every such construct outside code is replaced by
inert text that says what was removed ("[external image removed: evil[.]com]"), except raw HTML
tags, which are dropped without a trace in the text (the findings record them); links to the
app's own paths and to hosts the admin allowed stay, unless they carry a canary or encoded data.

`sanitize(text)` is the whole-answer form (storage, the final message). `StreamSanitizer` is the
streaming form: it holds back a construct that is not complete yet (`![`, `[`…`](`, `<`, a URL
still growing) so nothing dangerous is rendered even for a moment, and releases a held construct
neutralized after `max_hold` characters. Of a word still arriving it holds only what may still
change: a possible URL start ("htt", "www", "javascr") whole, and a possible domain from its first
dot (the dots are what defanging changes; the letters before them are shown as they are). The
streamed text always equals the whole-answer form. This module never fetches, resolves or follows
a URL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from assistant.security.urls import LinkPolicy, LinkVerdict, clean_url, defang

FindingKind = Literal["image", "link", "html", "url", "domain", "definition", "obfuscated_url"]


class Finding(BaseModel):
    """One construct that was neutralized: what kind, and the host or tag it pointed at."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    target: str
    reason: str


class SanitizeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    removed: list[Finding]

    @property
    def changed(self) -> bool:
        return bool(self.removed)


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})[^\n]*(?:\n|$)")
_FENCE_PREFIX = re.compile(r" {0,3}(?:`{0,2}|~{0,2})$")
_DEFINITION = re.compile(r" {0,3}\[((?:[^\]\\\n]|\\.){1,999})\]:[ \t]*\n?[ \t]*(<[^>\n]*>|\S+)[^\n]*(?:\n|$)")
# A line that may still become "[label]: destination" (a citation "[1] text" cannot).
_DEFINITION_PREFIX = re.compile(r" {0,3}\[(?:[^\]\\\n]|\\.)*(?:\](?::[^\n]*)?)?")
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)|<!--|<[!?][A-Za-z\[]")
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>")
_EMAIL_AUTOLINK = re.compile(r"<[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9.-]+>")
_BARE_URL = re.compile(
    r"(?:(?:https?|ftp)://|www\.|(?:javascript|vbscript|data|file):)[^\s<>\"'`]*", re.IGNORECASE
)
_TLDS = (
    "com|net|org|info|biz|io|ai|co|app|dev|xyz|online|site|top|club|shop|ru|cn|tk|ml|ga|cf|gq|"
    "me|us|uk|de|fr|nl|eu|ly|to|cc|ws|su|pw|link|click|live|cloud|tech|store|icu|vip|work"
)
_BARE_DOMAIN = re.compile(
    rf"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+(?:{_TLDS})(?![A-Za-z0-9-])", re.IGNORECASE
)
# Where something other than plain text may start (checked from the current position).
_INTERESTING = re.compile(r"[\n`<!\[\\]|(?<![A-Za-z0-9])(?:https?|ftp|www|javascript|vbscript|data|file)|"
                          r"(?<![A-Za-z0-9.-])[A-Za-z0-9-]+\.[A-Za-z]", re.IGNORECASE)  # fmt: skip
_TRAILING_PUNCT = ".,;:!?*_~'\")"
# How a bare URL may begin (what `_BARE_URL` accepts): a word still ending in one of these prefixes
# is held whole, since the whole URL is replaced by a marker.
_URL_STARTS = ("http://", "https://", "ftp://", "www.", "javascript:", "vbscript:", "data:", "file:")
_LONGEST_URL_START = max(len(start) for start in _URL_STARTS)
_MAX_LABEL = 63  # a domain's first label is at most this long (what `_BARE_DOMAIN` accepts)
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_DANGEROUS_ATTR = re.compile(r"\bon[a-z]+\s*=|javascript:|vbscript:|data:|src\s*=|href\s*=|style\s*=", re.I)
_SAFE_TAGS = frozenset({"b", "i", "em", "strong", "br", "p", "ul", "ol", "li", "code", "pre", "sub", "sup"})
_MAX_LINK = 2048


class _Incomplete(Exception):
    """The construct at this position may still change with more text (streaming only)."""


class _HeldFrom(_Incomplete):
    """The text before `pos` is final; from `pos` on it may still change (a word still arriving)."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


@dataclass
class _State:
    """What the scanner remembers between streamed pieces."""

    fence: str = ""  # the opening fence ("```") while inside a fenced code block
    line_start: bool = True
    prev: str = ""  # the last character consumed: a word split across pieces is still one word
    # The start of a word already shown (no dot in it) that may still become a bare domain.
    word: str = ""


def _after_boundary(prev: str) -> bool:
    """A URL or domain may start after `prev` ("" is the start of the text)."""
    return not prev or not (prev.isalnum() or prev in "-._")


def _domain_tail(text: str, pos: int) -> int:
    """Where the domain-shaped end of `text` (labels and dots, from `pos` on) begins."""
    start = len(text)
    while start > pos and text[start - 1] in _DOMAIN_CHARS:
        start -= 1
    return start


def _may_grow(text: str, end: int) -> bool:
    """A URL or domain matched up to `end` may still grow: only labels and dots follow it, up to
    the end of the text so far ("a.evil.co" may become "a.evil.co.uk" once "uk" arrives)."""
    return _domain_tail(text, end) == end


def _url_start_prefix(tail: str) -> bool:
    lowered = tail.lower()
    return any(start.startswith(lowered) for start in _URL_STARTS)


@dataclass
class _Output:
    parts: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def marker(self, kind: FindingKind, verdict_or_target: LinkVerdict | str, label: str) -> None:
        target: str
        reason: str
        if isinstance(verdict_or_target, LinkVerdict):
            target, reason = verdict_or_target.host, verdict_or_target.reason
        else:
            target, reason = verdict_or_target, "unsafe"
        self.findings.append(Finding(kind=kind, target=target, reason=reason))
        shown = f": {defang(target)}" if target else ""
        # Escaped brackets: the marker itself can never become a link or an image.
        self.parts.append(f"\\[{label}{shown}\\]")


def _link_label(kind: str, verdict: LinkVerdict) -> str:
    if verdict.reason in ("smuggled", "canary"):
        return f"{kind} removed (it carried hidden data)"
    if verdict.reason in ("scheme", "malformed"):
        return f"unsafe {kind} removed"
    return f"external {kind} removed"


class _Scanner:
    """A left-to-right pass that mirrors CommonMark's precedence closely enough to be safe:
    fenced code and code spans are copied verbatim, everything else is checked."""

    def __init__(self, policy: LinkPolicy) -> None:
        self.policy = policy

    def scan(self, text: str, state: _State, *, final: bool) -> tuple[str, int, list[Finding]]:
        """Sanitize a prefix of `text`; return it, how many characters it consumed, and findings.
        With `final=False` it stops before anything that more text could still change."""
        out = _Output()
        pos = 0
        try:
            while pos < len(text):
                start = pos
                pos = self._step(text, pos, state, out, final)
                if pos > start:
                    state.word = ""  # the word carried from the last piece has ended
        except _HeldFrom as held:
            pos = held.pos
        except _Incomplete:
            pass
        if pos:
            state.prev = text[pos - 1]
        return "".join(out.parts), pos, out.findings

    def _step(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        if state.fence:
            return self._in_fence(text, pos, state, out, final)
        if state.line_start:
            state.line_start = False
            try:
                return self._line_start(text, pos, state, out, final)
            except _Incomplete:
                state.line_start = True  # resume at this line start when more text arrives
                raise
        return self._inline(text, pos, state, out, final)

    # ---- block level ---------------------------------------------------------------------------

    def _in_fence(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos : end + 1]
        if state.line_start:
            closing = re.fullmatch(r" {0,3}(`{3,}|~{3,})[ \t]*\n?", line)
            if (
                closing
                and closing.group(1)[0] == state.fence[0]
                and len(closing.group(1)) >= len(state.fence)
            ):
                if end < 0 and not final:
                    raise _Incomplete
                state.fence = ""
            elif end < 0 and not final and re.fullmatch(r" {0,3}[`~]*", line):
                raise _Incomplete  # may still become the closing fence
        out.parts.append(line)
        state.line_start = end >= 0
        return pos + len(line)

    def _line_start(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        rest = text[pos : pos + _MAX_LINK]
        fence = _FENCE.match(rest)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(0)[fence.end(1) :]):
            if not fence.group(0).endswith("\n") and not final:
                raise _Incomplete
            state.fence = fence.group(1)
            state.line_start = True
            out.parts.append(fence.group(0))
            return pos + fence.end()
        if (
            not final
            and "\n" not in rest
            and (_FENCE_PREFIX.fullmatch(rest) or _DEFINITION_PREFIX.fullmatch(rest))
        ):
            raise _Incomplete  # a fence or a reference definition may be forming
        definition = _DEFINITION.match(rest)
        if definition:
            return self._definition(definition, pos, out)
        return pos

    def _definition(self, match: re.Match[str], pos: int, out: _Output) -> int:
        verdict = self.policy.judge(match.group(2))
        if verdict.allowed:
            newline = "\n" if match.group(0).endswith("\n") else ""
            out.parts.append(f"[{match.group(1)}]: {_safe_destination(clean_url(match.group(2)))}{newline}")
        else:
            out.marker("definition", verdict, _link_label("link target", verdict))
            out.parts.append("\n" if match.group(0).endswith("\n") else "")
        return pos + match.end()

    # ---- inline ---------------------------------------------------------------------------------

    def _inline(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        char = text[pos]
        if char == "\n":
            out.parts.append(char)
            state.line_start = True
            return pos + 1
        if char == "!":
            return self._image(text, pos, state, out, final)
        handler = {
            "`": self._code_span,
            "<": self._angle,
            "[": self._bracket,
            "\\": self._escape,
        }.get(char)
        if handler is not None:
            return handler(text, pos, out, final)
        return self._word(text, pos, state, out, final)

    def _escape(self, text: str, pos: int, out: _Output, final: bool) -> int:
        if pos + 1 >= len(text):
            if not final:
                raise _Incomplete
            out.parts.append("\\")
            return pos + 1
        nxt = text[pos + 1]
        if nxt.isascii() and not nxt.isalnum() and not nxt.isspace():
            # A backslash escape: the renderer shows the character literally (what follows it is
            # still checked, e.g. the link after an escaped "!").
            out.parts.append(text[pos : pos + 2])
            return pos + 2
        out.parts.append("\\")
        return pos + 1

    def _code_span(self, text: str, pos: int, out: _Output, final: bool) -> int:
        run = re.match(r"`+", text[pos:])
        assert run is not None
        ticks = run.group(0)
        closer = re.compile(rf"(?<!`){ticks}(?!`)")
        stop = _paragraph_end(text, pos)
        found = closer.search(text, pos + len(ticks), stop)
        if found is None:
            if not final and stop == len(text):
                raise _Incomplete
            out.parts.append(ticks)  # no closer: literal backticks, the rest is checked as text
            return pos + len(ticks)
        out.parts.append(text[pos : found.end()])
        return found.end()

    def _angle(self, text: str, pos: int, out: _Output, final: bool) -> int:
        rest = text[pos : pos + _MAX_LINK]
        auto = _AUTOLINK.match(rest)
        if auto:
            return self._url(auto.group(1), auto.group(0), pos, out, kind="link")
        email = _EMAIL_AUTOLINK.match(rest)
        if email:
            # A mailto link: the answer must not pick a recipient outside the allowed hosts.
            return self._url(f"mailto:{email.group(0)[1:-1]}", email.group(0), pos, out, kind="link")
        tag = _TAG.match(rest)
        if tag is None:
            if not final and re.fullmatch(r"<(?:/|!-?|\?)?", rest):
                raise _Incomplete  # "</", "<!-": a tag may still be forming
            out.parts.append("<")
            return pos + 1
        close = rest.find(">")
        if close < 0:
            if not final and len(rest) < _MAX_LINK:
                raise _Incomplete
            out.parts.append("&lt;")  # never a tag: shown as the character it is
            return pos + 1
        return self._tag(rest[: close + 1], (tag.group(1) or "!").lower(), pos, out)

    def _tag(self, whole: str, name: str, pos: int, out: _Output) -> int:
        if name in _SAFE_TAGS and not _DANGEROUS_ATTR.search(whole):
            out.parts.append("&lt;" + whole[1:])  # renders as the same visible text, never as HTML
        else:
            # Removed silently: a visible "[HTML removed]" per tag buried answers in debris. The
            # finding is kept, so the turn's receipt says what was taken out.
            out.findings.append(
                Finding(kind="html", target=name if name != "!" else "comment", reason="unsafe")
            )
        return pos + len(whole)

    def _image(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        if pos + 1 >= len(text) and not final:
            raise _Incomplete
        if not text.startswith("![", pos):
            return self._word(text, pos, state, out, final)
        parsed = _parse_link(text, pos + 1, final)
        if parsed is None:
            out.parts.append("!")
            return pos + 1
        end, _, destination = parsed
        verdict = self.policy.judge(destination) if destination is not None else None
        host = verdict.host if verdict is not None else ""
        label = "external image removed" if host else "image removed"
        out.findings.append(
            Finding(kind="image", target=host, reason=verdict.reason if verdict else "reference")
        )
        out.parts.append(f"\\[{label}{': ' + defang(host) if host else ''}\\]")
        return end

    def _bracket(self, text: str, pos: int, out: _Output, final: bool) -> int:
        parsed = _parse_link(text, pos, final)
        destination = parsed[2] if parsed is not None else None
        if parsed is None or destination is None:
            out.parts.append("[")  # plain brackets ([1] citations) or a reference link
            return pos + 1
        end, label = parsed[0], parsed[1]
        verdict = self.policy.judge(destination)
        inner, _, findings = _Scanner(self.policy).scan(label, _State(line_start=False), final=True)
        out.findings.extend(findings)
        if verdict.allowed:
            # Rebuilt, not copied: what the renderer sees is exactly the destination we judged.
            out.parts.append(f"[{inner}]({_safe_destination(destination)})")
        else:
            out.parts.append(inner + " ")
            out.marker("link", verdict, _link_label("link", verdict))
        return end

    def _word(self, text: str, pos: int, state: _State, out: _Output, final: bool) -> int:
        if pos == 0 and state.word:
            end = self._domain_continued(text, state, out, final)
            if end:
                return end
        boundary = _after_boundary(text[pos - 1] if pos else state.prev)
        if boundary:
            candidates: tuple[tuple[re.Pattern[str], Literal["url", "domain"]], ...] = (
                (_BARE_URL, "url"),
                (_BARE_DOMAIN, "domain"),
            )
            for pattern, kind in candidates:
                match = pattern.match(text, pos, pos + _MAX_LINK)
                if match:
                    if not final and _may_grow(text, match.end()):
                        raise _Incomplete  # the URL may still be growing
                    return self._bare(match.group(0), pos, out, kind)
        nxt = _INTERESTING.search(text, pos + 1)
        stop = nxt.start() if nxt else len(text)
        if not final and stop == len(text):
            space = max(text.rfind(" ", pos, stop), text.rfind("\t", pos, stop))
            if space < pos:
                self._last_word(text, pos, boundary, state, out)
            stop = space + 1
        out.parts.append(text[pos:stop])
        return stop

    def _last_word(self, text: str, pos: int, boundary: bool, state: _State, out: _Output) -> None:
        """Show what of the word still arriving at the end of `text` can no longer change, and hold
        the rest (raises): a possible URL start whole, a possible domain from its first dot."""
        hold = len(text)
        for start in range(max(pos, len(text) - _LONGEST_URL_START), len(text)):
            at_boundary = boundary if start == pos else _after_boundary(text[start - 1])
            if at_boundary and _url_start_prefix(text[start:]):
                hold = start
                break
        tail = _domain_tail(text, pos)
        carried = state.word if tail == 0 else ""
        starts_word = boundary if tail == pos else _after_boundary(text[tail - 1])
        domain = carried + text[tail:] if carried or starts_word else ""
        may_be_domain = domain[:1].isalnum()  # its first label is shown as written, up to a dot
        if may_be_domain and "." in text[tail:]:
            hold = min(hold, text.index(".", tail))
        if hold == pos:
            raise _Incomplete
        out.parts.append(text[pos:hold])
        word = carried + text[tail:hold] if may_be_domain and hold > tail else ""
        state.word = word if len(word) <= _MAX_LABEL else ""  # longer: no domain begins with it
        raise _HeldFrom(hold)

    def _domain_continued(self, text: str, state: _State, out: _Output, final: bool) -> int:
        """A word whose start was shown in an earlier piece, completed here as a bare domain:
        the rest of it as the whole domain is shown (the shown start has no dot, so defanging
        never changed it). Returns where it ends, 0 when it is not (yet) a domain."""
        joined = state.word + text[:_MAX_LINK]
        match = _BARE_DOMAIN.match(joined)
        if match is None or match.end() <= len(state.word):
            return 0
        if not final and _may_grow(joined, match.end()):
            raise _Incomplete  # the domain may still be growing
        out.parts.append(self._shown_domain(match.group(0), out)[len(state.word) :])
        return match.end() - len(state.word)

    def _shown_domain(self, domain: str, out: _Output) -> str:
        if self.policy.host_allowed(domain):
            return domain
        # A bare domain is not removed, only defanged, so no renderer links it.
        out.findings.append(Finding(kind="domain", target=domain.lower(), reason="external"))
        return defang(domain)

    def _bare(self, url: str, pos: int, out: _Output, kind: Literal["url", "domain"]) -> int:
        trimmed = url.rstrip(_TRAILING_PUNCT)
        if kind == "domain":
            out.parts.append(self._shown_domain(trimmed, out))
            return pos + len(trimmed)
        return self._url(trimmed, trimmed, pos, out, kind="url")

    def _url(self, url: str, whole: str, pos: int, out: _Output, *, kind: FindingKind) -> int:
        target = url if not url.lower().startswith("www.") else f"https://{url}"
        verdict = self.policy.judge(target)
        if verdict.allowed:
            out.parts.append(whole)
        else:
            out.marker(kind, verdict, _link_label("link", verdict))
        return pos + len(whole)


def _safe_destination(destination: str) -> str:
    return re.sub(r"[\s<>()\"'`\\]", lambda m: f"%{ord(m.group()):02X}", destination)


def _paragraph_end(text: str, pos: int) -> int:
    blank = re.compile(r"\n[ \t]*\n").search(text, pos)
    return blank.start() if blank else len(text)


def _parse_link(text: str, pos: int, final: bool) -> tuple[int, str, str | None] | None:
    """Parse `[label](destination)`, `[label][ref]` or `[label]` at `pos` (which holds "[").

    Returns (end, label, destination or None for reference forms), or None when it is not a
    link at all. Raises `_Incomplete` when more text could still make it one."""
    stop = min(_paragraph_end(text, pos), pos + _MAX_LINK)
    close = _closing_bracket(text, pos, stop)
    if close is None:
        if not final and stop == len(text):
            raise _Incomplete
        return None
    label = text[pos + 1 : close]
    after = close + 1
    if after >= len(text):
        if not final:
            raise _Incomplete  # "](" may follow
        return after, label, None
    if text[after] == "(":
        end = _closing_paren(text, after, stop)
        if end is None:
            if not final and stop == len(text):
                raise _Incomplete
            return None
        inside = text[after + 1 : end].strip()
        destination = inside[1 : inside.find(">")] if inside.startswith("<") else (inside.split() or [""])[0]
        return end + 1, label, clean_url(destination)
    if text[after] == "[":
        ref = _closing_bracket(text, after, stop)
        if ref is None and not final and stop == len(text):
            raise _Incomplete
        return (ref + 1 if ref is not None else after), label, None
    return after, label, None


def _closing_bracket(text: str, pos: int, stop: int) -> int | None:
    depth = 0
    index = pos
    while index < stop:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "`":
            run = re.match(r"`+", text[index:stop])
            assert run is not None
            closer = re.compile(rf"(?<!`){run.group(0)}(?!`)").search(text, index + len(run.group(0)), stop)
            index = closer.end() if closer else index + len(run.group(0))
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0:
            return index
        index += 1
    return None


def _closing_paren(text: str, pos: int, stop: int) -> int | None:
    depth = 0
    for index in range(pos, stop):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


# ---- URLs assembled from pieces ---------------------------------------------------------------

_SEP = r"[\s*_~`\"'+|]*"
_OBFUSCATED = re.compile(
    rf"h{_SEP}t{_SEP}t{_SEP}p{_SEP}(?:s{_SEP})?:{_SEP}/{_SEP}/(?:{_SEP}[A-Za-z0-9.\-/?=&%#:@])+",
    re.IGNORECASE,
)
_CODE_REGIONS = re.compile(r"(?ms)^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)|(`+)(?!`).+?(?<!`)\2(?!`)")


def _assembled(piece: str) -> bool:
    """Pieces, not a plain URL: separators inside the scheme, or string pieces joined after it."""
    scheme_end = piece.index("/", piece.index(":")) + 1
    scheme_end = piece.index("/", scheme_end) + 1
    scheme = piece[:scheme_end]
    return re.sub(_SEP, "", scheme) != scheme or bool(re.match(r"[\"'`*_~]+\s*\+?", piece[scheme_end:]))


def _reveal_assembled_urls(text: str, policy: LinkPolicy) -> tuple[str, list[Finding]]:
    """Catch a URL written in pieces ("h t t p s : / /", '"https://" + "evil" + ".com"'):
    collapse the separators and judge the URL that comes out."""
    code = [m.span() for m in _CODE_REGIONS.finditer(text)]
    parts: list[str] = []
    findings: list[Finding] = []
    last = 0
    for match in _OBFUSCATED.finditer(text):
        piece = match.group(0)
        if not _assembled(piece) or any(a <= match.start() < b for a, b in code):
            continue  # a plain URL (the scanner judges it) or code
        collapsed = re.sub(_SEP, "", piece)
        verdict = policy.judge(collapsed)
        if verdict.allowed:
            continue
        findings.append(Finding(kind="obfuscated_url", target=verdict.host, reason=verdict.reason))
        host = f": {defang(verdict.host)}" if verdict.host else ""
        parts += [text[last : match.start()], f"\\[link written in pieces removed{host}\\] "]
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), findings


# ---- public API -------------------------------------------------------------------------------


class OutputSanitizer:
    """Makes answers inert under one link policy; shared by all conversations (stateless)."""

    def __init__(self, policy: LinkPolicy | None = None, *, max_hold: int = 512) -> None:
        self.policy = policy or LinkPolicy()
        self.max_hold = max_hold

    @classmethod
    def from_settings(cls, settings: object, *, canaries: Sequence[str] = ()) -> OutputSanitizer:
        """From the root settings tree (`settings.security.hygiene`; defaults until it is wired)."""
        from assistant.security.settings import SecuritySettings

        security = getattr(settings, "security", None) or SecuritySettings()
        hygiene = security.hygiene
        policy = LinkPolicy(
            hygiene.allowed_link_hosts, canaries=canaries, smuggled_min_chars=hygiene.smuggled_value_min_chars
        )
        return cls(policy, max_hold=hygiene.max_hold_chars)

    def sanitize(self, text: str) -> SanitizeResult:
        revealed, first = _reveal_assembled_urls(text, self.policy)
        clean, _, findings = _Scanner(self.policy).scan(revealed, _State(), final=True)
        return SanitizeResult(text=clean, removed=first + findings)

    def stream(self) -> StreamSanitizer:
        return StreamSanitizer(self)


class StreamSanitizer:
    """Streaming hygiene with the `feed`/`flush` shape of the pipeline's restorer.

    Emits only text whose rendering can no longer change; `final()` gives the whole answer
    sanitized in one piece (what should be stored and shown once the stream ends)."""

    def __init__(self, sanitizer: OutputSanitizer) -> None:
        self._sanitizer = sanitizer
        self._scanner = _Scanner(sanitizer.policy)
        self._state = _State()
        self._pending = ""
        self._skipping = False  # dropping the rest of a withheld over-long word
        self._raw: list[str] = []
        self.removed: list[Finding] = []

    def feed(self, delta: str) -> str:
        self._raw.append(delta)
        if self._skipping:
            delta = self._skip(delta)
        self._pending += delta
        shown, used, findings = self._scanner.scan(self._pending, self._state, final=False)
        self._pending = self._pending[used:]
        self.removed += findings
        if len(self._pending) > self._sanitizer.max_hold:
            shown += self._release()
        return shown

    def _release(self) -> str:
        """Held too long: release what is held as if the answer ended here (neutralized).

        A word still growing at the cut is not released in two halves that the renderer would
        join again: a long or URL-like one is withheld, with what follows it up to a space."""
        held = self._pending
        cut = max(held.rfind(" "), held.rfind("\n"), held.rfind("\t")) + 1
        tail = held[cut:]
        self._pending = ""
        marker = ""
        if len(tail) >= 64 or _BARE_URL.search(tail) or _BARE_DOMAIN.search(tail):
            held, self._skipping = held[:cut], True
            self.removed.append(Finding(kind="url", target="", reason="too long to check while streaming"))
            marker = "\\[long link removed\\]"
        elif tail:
            held, self._pending = held[:cut], tail
        forced, _, more = self._scanner.scan(held, self._state, final=True)
        self.removed += more
        return forced + marker

    def _skip(self, delta: str) -> str:
        end = re.search(r"\s", delta)
        if end is None:
            return ""
        self._skipping = False
        return delta[end.start() :]

    def flush(self) -> str:
        shown, _, findings = self._scanner.scan(self._pending, self._state, final=True)
        self._pending = ""
        self.removed += findings
        return shown

    def final(self) -> SanitizeResult:
        """The whole answer sanitized at once (catches URLs assembled across pieces too)."""
        return self._sanitizer.sanitize("".join(self._raw))


def sanitize(text: str, policy: LinkPolicy | None = None) -> SanitizeResult:
    """Sanitize one whole answer under `policy` (default: no external hosts)."""
    return OutputSanitizer(policy).sanitize(text)
