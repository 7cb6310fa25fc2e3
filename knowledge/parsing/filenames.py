"""Turning an untrusted file name into a safe display name.

The result is only ever shown to people and stored as metadata: it is never used to build a path.
Directory parts (`../`, `C:\\`), control and format characters (NUL, U+202E right-to-left
override, zero-width spaces) are removed, and very long names are shortened keeping the extension.
"""

from __future__ import annotations

import re
import unicodedata

MAX_DISPLAY_NAME = 120
FALLBACK_NAME = "document"
_WHITESPACE = re.compile(r"\s+")


def safe_display_name(raw: str | None, *, max_length: int = MAX_DISPLAY_NAME) -> str:
    """A printable, single-line, path-free version of `raw` (never empty)."""
    if not raw:
        return FALLBACK_NAME
    name = unicodedata.normalize("NFC", raw)
    # Either separator counts: a Windows path uploaded to a Linux server must not keep its folders.
    name = re.split(r"[/\\]", name)[-1]
    # Cc = control (NUL, newlines), Cf = format (bidi overrides, zero-width), Cs/Co = surrogates/private.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"})
    name = _WHITESPACE.sub(" ", name).strip(" .")
    if not name:
        return FALLBACK_NAME
    return _shorten(name, max_length)


def _shorten(name: str, max_length: int) -> str:
    if len(name) <= max_length:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and 0 < len(ext) <= 10:
        return stem[: max_length - len(ext) - 2] + "…." + ext
    return name[: max_length - 1] + "…"


def extension_of(display_name: str) -> str:
    """The lower-case extension without the dot ('' when there is none)."""
    stem, dot, ext = display_name.rpartition(".")
    return ext.lower() if dot and stem else ""
