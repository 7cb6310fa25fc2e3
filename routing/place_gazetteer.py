"""Country and region names by lookup, in any case and with or without accents ("CYPRUS", "Κύπρος").

spaCy's small model misses country names in short or unusual sentences ("Slovenia leader gives
...", "the Cyprus"), and a name written in capitals or another script is not a word it knows. This
module looks the capitalised words of a text up in `data/countries.txt` (made from `phonenumbers`'
region names; provenance in the file) after folding case and accents, and reports each match as a
LOCATION. A LOCATION alone stays public (the policy says so); `routing.places` decides when it is
personal. It never decides a tier and keeps no value.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources

from routing.recognizers import Finding

RECOGNIZER = "country_gazetteer"
SCORE = 0.85
_DATA_FILE = "countries.txt"
_MAX_WORDS = 6
_WORD = re.compile(r"[^\s,;:!?()\"“”]+")
_EDGE_PUNCTUATION = ".'’-"


def fold(word: str) -> str:
    """Case- and accent-free form: "MÖNSTERÅS" ~ "Mönsterås" ~ "monsteras", "ΚΥΠΡΟΣ" ~ "Κύπρος"."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _key(words: Sequence[str]) -> str:
    return " ".join(fold(word.strip(_EDGE_PUNCTUATION)) for word in words)


@lru_cache(maxsize=1)
def country_names() -> frozenset[str]:
    """The folded names of `data/countries.txt`, loaded once."""
    text = resources.files("routing.data").joinpath(_DATA_FILE).read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(_key(line.split()) for line in lines if line and not line.startswith("#"))


def _capitalised(word: str) -> bool:
    """Written as a name: its first letter is upper-case or has no case (a script without case)."""
    first = next((char for char in word if char.isalpha()), "")
    return bool(first) and not first.islower()


def find_countries(text: str, taken: Sequence[Finding] = ()) -> list[Finding]:
    """LOCATION for each longest run of words that is a listed name and starts with a capital,
    except where another finding already covers part of it (a person called "Jordan")."""
    names = country_names()
    taken_spans = SpanIndex(taken)
    words = list(_WORD.finditer(text))
    folded = [fold(w.group().strip(_EDGE_PUNCTUATION)) for w in words]
    found: list[Finding] = []
    index = 0
    while index < len(words):
        match = _longest_name(words, folded, index, names) if _capitalised(words[index].group()) else 0
        if match:
            start = words[index].start() + _lead(words[index].group())
            last = words[index + match - 1]
            end = last.end() - _trail(last.group())
            if not taken_spans.overlaps(start, end):
                found.append(Finding("LOCATION", start, end, SCORE, RECOGNIZER))
            index += match
        else:
            index += 1
    return found


def _longest_name(
    words: Sequence[re.Match[str]], folded: Sequence[str], index: int, names: frozenset[str]
) -> int:
    longest = min(_MAX_WORDS, len(words) - index)
    # A name does not run over a sentence end ("... in France. Spain ...").
    for offset in range(longest - 1):
        word = words[index + offset].group()
        if word.endswith(".") and len(word) > 3:
            longest = offset + 1
            break
    for size in range(longest, 0, -1):
        if " ".join(folded[index : index + size]) in names:
            return size
    return 0


def _lead(word: str) -> int:
    return len(word) - len(word.lstrip(_EDGE_PUNCTUATION))


def _trail(word: str) -> int:
    stripped = word.rstrip(_EDGE_PUNCTUATION)
    # "U.K." keeps its dots; "France." loses the full stop.
    if "." in stripped:
        return len(word) - len(word.rstrip("'’-"))
    return len(word) - len(stripped)


class SpanIndex:
    """Findings sorted by start with the running furthest end, for overlap and cover questions in
    O(log n) (a long document has thousands of lines and places)."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        spans = sorted((f.start, f.end) for f in findings)
        self._starts = [start for start, _ in spans]
        self._furthest = list(itertools.accumulate((end for _, end in spans), max))

    def _furthest_before(self, position: int, inclusive: bool) -> int:
        index = (bisect.bisect_right if inclusive else bisect.bisect_left)(self._starts, position)
        return self._furthest[index - 1] if index else -1

    def covers(self, start: int, end: int) -> bool:
        """Some span starts at or before `start` and reaches `end`."""
        return self._furthest_before(start, inclusive=True) >= end

    def overlaps(self, start: int, end: int) -> bool:
        """Some span starts before `end` and ends after `start`."""
        return self._furthest_before(end, inclusive=False) > start
