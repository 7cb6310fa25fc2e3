"""Undo the tricks that hide identifiers from a detector, keeping a map back to the original text.

Before anything is scanned, text is rewritten into a canonical form: Unicode NFKC, invisible
characters (zero-width, bidi controls, Unicode tag characters, variation selectors) removed, any
script's decimal digits and dash look-alikes folded to ASCII, Cyrillic/Greek homoglyphs folded in
words that mix scripts, letters spelled out one by one joined ("P I N", "p.a.s.s.w.o.r.d"), digits
written as words turned into digits ("four seven one nine", "oh", "double five"), digits written
one by one with spaces or dots joined, and embedded base64 / hex / URL-encoded segments decoded and
inserted next to the segment so they are scanned too.

Every character of the result remembers which span of the original produced it, so a detection in
the canonical text can be reported on (and pseudonymized in) the text the user actually wrote.
This module only rewrites text; it must never drop a character that could carry a value without
mapping it, and it never decides anything.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

# Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "ɡ": "g", "ӏ": "l", "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
        "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D",
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
        "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ρ": "p", "α": "a", "ι": "i",
        "κ": "k", "ν": "v", "υ": "u", "τ": "t",
    }
)  # fmt: skip
_CONFUSABLE = frozenset(chr(code) for code in _HOMOGLYPHS)
_DASHES = dict.fromkeys("‐‑‒–—―−﹘﹣－⁃", "-")
_INVISIBLE_EXTRA = frozenset("\u034f\u115f\u1160\u3164\uffa0")  # fillers that are not category Cf

_WORD = re.compile(r"\w+")
# A run of single digits separated by spaces, dots, dashes or underscores: "0 7 8 - 0 5 - 1 1 2 0",
# "4 7 1 9", "5 1 2" (a CVV is three digits, so three are enough).
_SPACED_DIGITS = re.compile(r"(?<![\w.])\d(?:[ \t._-]{1,3}\d){2,}(?![\w])")
# Three or more single letters separated by a space, or a dot, dash or underscore with optional spaces
# around it: "S S N", "p.a.s.s", "P - I - N", "S. S. N.".
_SPACED_LETTERS = re.compile(r"(?<![\w.])[A-Za-z](?:(?:[ \t]?[._-][ \t]?|[ \t])[A-Za-z]){2,}(?![\w])")
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_REPEAT_WORDS = {"double": 2, "triple": 3}
_DIGIT_WORD = r"(?:(?:double|triple)[ \t-]+)?(?:zero|oh|nought|one|two|three|four|five|six|seven|eight|nine)"
# At least three digit words in a row ("four seven one nine"), separated by spaces, commas or dashes.
_DIGIT_WORD_RUN = re.compile(rf"(?<![\w-])(?i:{_DIGIT_WORD}(?:[ \t,-]+{_DIGIT_WORD}){{2,}})(?![\w-])")
_ONE_DIGIT_WORD = re.compile(rf"(?i:{_DIGIT_WORD})")
# Letters that stand in for digits inside mostly-numeric tokens: "O78-O5-112O".
_DIGIT_LOOKALIKE_TOKEN = re.compile(r"(?<!\w)[\dOoIl|](?:[\dOoIl|]|[-.](?=[\dOoIl|])){5,}(?!\w)")
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{12,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:0x)?(?:[0-9A-Fa-f]{2}){6,}(?![0-9A-Za-z])|(?:\\x[0-9A-Fa-f]{2}){4,}")
# Starts only after white space (or at the start): from every position it would be quadratic on a
# long run without spaces, and the leftmost match starts there anyway.
_URL_ENCODED = re.compile(r"(?<!\S)[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){2,}")
_MAX_DECODE_DEPTH = 2


@dataclass(frozen=True, slots=True)
class MappedText:
    """Text plus, for each character, the span of the original text it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def identity(cls, text: str) -> MappedText:
        return cls(text, tuple(range(len(text))), tuple(range(1, len(text) + 1)))

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that produced `text[start:end]`."""
        if end <= start:
            raise ValueError(f"empty span {start}:{end}")
        return min(self.starts[start:end]), max(self.ends[start:end])


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def emit(self, text: str, start: int, end: int) -> None:
        self.parts.append(text)
        self.starts.extend([start] * len(text))
        self.ends.extend([end] * len(text))

    def copy(self, source: MappedText, start: int, end: int) -> None:
        self.parts.append(source.text[start:end])
        self.starts.extend(source.starts[start:end])
        self.ends.extend(source.ends[start:end])

    def build(self) -> MappedText:
        return MappedText("".join(self.parts), tuple(self.starts), tuple(self.ends))


def normalize(text: str) -> MappedText:
    """The canonical form of `text` that detectors scan, mapped back to `text`."""
    return _normalize(MappedText.identity(text), depth=_MAX_DECODE_DEPTH)


def _normalize(mapped: MappedText, *, depth: int) -> MappedText:
    if not mapped.text.isascii():
        mapped = _fold_characters(mapped)
        mapped = _fold_homoglyphs(mapped)
    mapped = _join_spaced_letters(mapped)
    mapped = _digit_words_to_digits(mapped)
    mapped = _fold_digit_lookalikes(mapped)
    mapped = _join_spaced_digits(mapped)
    if depth > 0:
        mapped = _insert_decoded(mapped, depth=depth)
    return mapped


def _is_invisible(char: str) -> bool:
    # Category Cf covers zero-width spaces/joiners, bidi controls, soft hyphen and the tag block.
    return unicodedata.category(char) == "Cf" or char in _INVISIBLE_EXTRA or _is_variation_selector(char)


def _is_variation_selector(char: str) -> bool:
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


def _fold_cluster(cluster: str) -> str:
    folded = unicodedata.normalize("NFKC", cluster)
    out = []
    for char in folded:
        if char in _DASHES:
            out.append("-")
        elif not char.isascii() and unicodedata.decimal(char, None) is not None:
            out.append(str(unicodedata.decimal(char)))
        else:
            out.append(char)
    return "".join(out)


def _fold_characters(mapped: MappedText) -> MappedText:
    """NFKC per grapheme cluster (base + combining marks), invisible characters dropped."""
    builder = _Builder()
    text, index = mapped.text, 0
    while index < len(text):
        if _is_invisible(text[index]):
            index += 1
            continue
        end = index + 1
        while end < len(text) and (unicodedata.combining(text[end]) or _is_invisible(text[end])):
            end += 1
        cluster = "".join(char for char in text[index:end] if not _is_invisible(char))
        builder.emit(_fold_cluster(cluster), mapped.starts[index], mapped.ends[end - 1])
        index = end
    return builder.build()


def _fold_homoglyphs(mapped: MappedText) -> MappedText:
    """Fold look-alike letters in words that mix scripts, or (in mostly Latin text) are all look-alikes."""
    latin = sum(char.isascii() and char.isalpha() for char in mapped.text)
    mostly_latin = latin * 2 > sum(char.isalpha() for char in mapped.text)

    def fold(match: re.Match[str]) -> str:
        word = match.group()
        confusable = sum(char in _CONFUSABLE for char in word)
        if not confusable:
            return word
        has_latin = any(char.isascii() for char in word)
        only_lookalikes = confusable == sum(char.isalpha() for char in word)
        return word.translate(_HOMOGLYPHS) if has_latin or (only_lookalikes and mostly_latin) else word

    # One character in, one character out: the offset map stays valid.
    return MappedText(_WORD.sub(fold, mapped.text), mapped.starts, mapped.ends)


def _fold_digit_lookalikes(mapped: MappedText) -> MappedText:
    def fold(match: re.Match[str]) -> str:
        token = match.group()
        digits = sum(char.isdigit() for char in token)
        lookalikes = sum(char in "OoIl|" for char in token)
        if lookalikes == 0 or digits < 4 or lookalikes * 2 > digits:
            return token
        # A pipe at either end delimits the token ("|86.121.97.248|"); only inner ones are digits.
        core = token.strip("|")
        lead = token.index(core[0]) if core else 0
        return token[:lead] + core.translate(_DIGIT_LOOKALIKES) + token[lead + len(core) :]

    return MappedText(_DIGIT_LOOKALIKE_TOKEN.sub(fold, mapped.text), mapped.starts, mapped.ends)


def _join_spaced_digits(mapped: MappedText) -> MappedText:
    """Join "0 7 8 - 0 5 - 1 1 2 0" into "078-05-1120" (dashes kept, other separators dropped)."""
    matches = list(_SPACED_DIGITS.finditer(mapped.text))
    if not matches:
        return mapped
    builder, position = _Builder(), 0
    for match in matches:
        builder.copy(mapped, position, match.start())
        for index in range(match.start(), match.end()):
            char = mapped.text[index]
            if char.isdigit() or char == "-":
                builder.copy(mapped, index, index + 1)
        position = match.end()
    builder.copy(mapped, position, len(mapped.text))
    return builder.build()


def _join_spaced_letters(mapped: MappedText) -> MappedText:
    """Join "P I N" and "p.a.s.s.w.o.r.d" into one word; each letter keeps its own span."""
    matches = list(_SPACED_LETTERS.finditer(mapped.text))
    if not matches:
        return mapped
    builder, position = _Builder(), 0
    for match in matches:
        builder.copy(mapped, position, match.start())
        for index in range(match.start(), match.end()):
            if mapped.text[index].isalpha():
                builder.copy(mapped, index, index + 1)
        position = match.end()
    builder.copy(mapped, position, len(mapped.text))
    return builder.build()


def _digit_words_to_digits(mapped: MappedText) -> MappedText:
    """ "four seven one nine" → "4719", "double five" → "55"; each digit maps to the word it came from."""
    matches = list(_DIGIT_WORD_RUN.finditer(mapped.text))
    if not matches:
        return mapped
    builder, position = _Builder(), 0
    for match in matches:
        builder.copy(mapped, position, match.start())
        for word in _ONE_DIGIT_WORD.finditer(mapped.text, match.start(), match.end()):
            parts = re.split(r"[ \t-]+", word.group().lower())
            repeat = _REPEAT_WORDS.get(parts[0], 1) if len(parts) > 1 else 1
            start, end = mapped.to_original(word.start(), word.end())
            builder.emit(_DIGIT_WORDS[parts[-1]] * repeat, start, end)
        position = match.end()
    builder.copy(mapped, position, len(mapped.text))
    return builder.build()


def _printable(decoded: str) -> bool:
    if len(decoded) < 4 or not decoded.isprintable():
        return False
    # Random bytes rarely decode to mostly letters, digits and spaces.
    plain = sum(char.isalnum() or char in " -.,:;@/_+'\"()#" for char in decoded)
    return plain / len(decoded) >= 0.85


def _decode_base64(segment: str) -> str | None:
    body = segment.rstrip("=")
    if len(body) % 4 == 1:
        return None
    padded = body + "=" * (-len(body) % 4)
    altchars = b"-_" if ("-" in body or "_" in body) else None
    try:
        raw = base64.b64decode(padded, altchars=altchars, validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _decode_hex(segment: str) -> str | None:
    digits = segment.replace("\\x", "").removeprefix("0x")
    try:
        decoded = bytes.fromhex(digits).decode("utf-8")
    except ValueError:
        return None
    # A plain number (a card, an account) is a number, unless it is hex for more digits.
    if digits.isdigit() and not decoded.isdigit():
        return None
    return decoded


def _decode_url(segment: str) -> str | None:
    decoded = unquote(segment, errors="strict")
    return decoded if decoded != segment else None


_DECODERS: tuple[tuple[re.Pattern[str], Callable[[str], str | None]], ...] = (
    (_URL_ENCODED, _decode_url),
    (_HEX, _decode_hex),
    (_BASE64, _decode_base64),
)


def _decoded_segments(text: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for pattern, decode in _DECODERS:
        for match in pattern.finditer(text):
            try:
                decoded = decode(match.group())
            except UnicodeDecodeError:
                continue
            if decoded is not None and _printable(decoded):
                found.append((match.start(), match.end(), decoded))
    return sorted(found)


def _insert_decoded(mapped: MappedText, *, depth: int) -> MappedText:
    """Keep each encoded segment and insert its decoded text right after it, mapped to the segment."""
    segments = _decoded_segments(mapped.text)
    if not segments:
        return mapped
    builder, position = _Builder(), 0
    for start, end, decoded in segments:
        if start < position:
            continue  # overlaps a segment already decoded by another decoder
        builder.copy(mapped, position, end)
        original = mapped.to_original(start, end)
        inner = _normalize(MappedText.identity(decoded), depth=depth - 1)
        # Line breaks around the decoded text, so no pattern joins it with the segment's digits.
        builder.emit("\n", *original)
        builder.emit(inner.text, *original)
        builder.emit("\n", *original)
        position = end
    builder.copy(mapped, position, len(mapped.text))
    return builder.build()
