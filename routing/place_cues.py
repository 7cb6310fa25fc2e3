"""Places that the words around them make personal: itineraries, origin, residence, venues.

"I will be travelling to Austria next week", "originally from ΕΓΚΩΜΗ", "Mr. Kozłowski flew to
Suurküla", "Where: Novo mesto Country Club", "Estonia was super fun to visit!": each says where a
person is, was, will be or comes from (the taxonomy's itineraries and place of birth). NER often
misses such places (a town in capitals, in another script, or that no model knows), so a cue here
takes the place-shaped words after it whether or not NER found them. A place that is the subject
of a general question ("What is the capital of France?", "Do I need a visa to travel to Japan?",
"flights to Lisbon") has no such cue, or no person in its sentence, and stays as it is.

Cues are typed data (`PlaceCue`): a pattern that ends where the place starts, its class, whether
it needs a person in the same sentence (a pronoun, a relative, a title or a PERSON finding), and
whether it may take any place-shaped words no detector read as a place (strong: "flew to") or,
being ambiguous, only a LOCATION finding or a word in capitals or another script (weak: "I went to
Settings", "we're moving away from Oracle", "I work in Finance" must not mask a screen, a vendor or
a department). Everything found here is PERSONAL_LOCATION with
recognizer `place_cue:<class>`; the policy decides its tier. This module reports spans only: it
never decides a tier and keeps no value.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from routing.recognizers import Finding

PERSONAL_LOCATION = "PERSONAL_LOCATION"
RECOGNIZER = "place_cue"
SCORE = 0.8
_I = re.IGNORECASE


@dataclass(frozen=True, slots=True)
class PlaceCue:
    """A context that makes the place right after it (or before it, `before`) someone's place."""

    name: str
    pattern: re.Pattern[str]
    needs_person: bool = True
    strong: bool = True
    before: bool = False


# Words that only travel: the place after them may be any place-shaped word ("flew to Suurküla").
_TRAVEL_WORDS = (
    r"travel(?:l)?(?:ing|ed|s)?|fly(?:ing)?|flies|flew|flown|driv(?:e|es|ing)|drove|driven"
    r"|relocat(?:e|es|ed|ing)|trip|journey|holiday|holidays|vacation|honeymoon|flight|commut(?:e|es|ed|ing)"
)
# Words that also move between screens, tools, environments and vendors ("I went to Settings",
# "we're moving away from Oracle", "I spent an hour in Excel", "it landed in Staging"): a place
# after them must be a known one, or written in capitals or another script.
_MOVE_WORDS = (
    r"coming|come|going|go|goes|went|gone|head(?:ing|ed|s)?|return(?:ing|ed|s)?|back|moving|moved|move"
    r"|arriv(?:e|es|ed|ing)|land(?:s|ed|ing)?|stay(?:s|ed|ing)?|spent|spend(?:ing)?"
)
_EVENT_WORDS = (
    r"wedding|party|reception|reunion|dinner|ceremony|funeral|celebration|birthday|christening|retreat"
)
_NOW = r"(?:currently|now|still|already|back|here|there|out|away|stuck|over|right\s+now)"
_BE = r"(?:i'm|i\s+am|we're|we\s+are|he's|he\s+is|she's|she\s+is|they're|they\s+are|is|are|was|were)"
CUES: tuple[PlaceCue, ...] = (
    # "flew to", "got back from", "spent Christmas in", "our trip to", "on holiday in".
    PlaceCue(
        "travel", re.compile(rf"\b(?:{_TRAVEL_WORDS})\s+(?:[\w'’]+\s+){{0,2}}?(?:to|from|in|into)\s+", _I)
    ),
    PlaceCue(
        "travel",
        re.compile(rf"\b(?:{_MOVE_WORDS})\s+(?:[\w'’]+\s+){{0,2}}?(?:to|from|in|into)\s+", _I),
        strong=False,
    ),
    PlaceCue("travel", re.compile(r"\bvisit(?:s|ed|ing)?\s+", _I), strong=False),
    # "I'll be in Ljubljana from the 3rd", "I'm currently in KAUNAS" (not "I'm interested in Japan").
    PlaceCue(
        "travel", re.compile(rf"\b(?:\w+'ll\s+be\s+|will\s+be\s+|{_BE}\s+(?:{_NOW}\s+)?)(?:in|at)\s+", _I)
    ),
    PlaceCue("origin", re.compile(r"\boriginally\s+(?:from|of)\s+", _I), needs_person=False),
    PlaceCue("origin", re.compile(r"\b(?:comes?|came|hails?|hailed)\s+from\s+", _I)),
    PlaceCue("origin", re.compile(rf"\b{_BE}\s+(?:(?:also|all|both|actually|really)\s+)?from\s+", _I)),
    PlaceCue("origin", re.compile(r"\b(?:born|raised|grew\s+up)\s+(?:and\s+(?:raised|bred)\s+)?in\s+", _I)),
    PlaceCue("origin", re.compile(r"\bnative\s+of\s+", _I)),
    PlaceCue(
        "residence",
        re.compile(
            r"\b(?:home\s*town|home\s*city|home\s+country|home\s+village|birth\s*place|place\s+of\s+birth)"
            r"(?:\s+(?:is|was))?[\s,:]+",
            _I,
        ),
        needs_person=False,
    ),
    PlaceCue(
        "residence",
        re.compile(
            r"\b(?:live|lives|lived|living|reside|resides|resided|residing|based|settled|study|studies|studied"
            r"|studying)\s+(?:\w+\s+)?(?:in|near|outside|at)\s+",
            _I,
        ),
    ),
    # A weak cue: "works in Finance" is a department as often as a town.
    PlaceCue(
        "residence",
        re.compile(r"\b(?:work|works|worked|working)\s+(?:\w+\s+)?(?:in|near)\s+", _I),
        strong=False,
    ),
    # "The wedding is at the Grand Hotel Tremezzo", "our reunion will be held in Kirkenes".
    PlaceCue(
        "venue",
        re.compile(rf"\b(?:{_EVENT_WORDS})\s+(?:is|was|will\s+be)\s+(?:held\s+)?(?:at|in)\s+(?:the\s+)?", _I),
        # An event's venue is where its people will be, whoever they are.
        needs_person=False,
    ),
    # "Estonia was super fun to visit!": a past visit, told.
    PlaceCue(
        "travel",
        re.compile(
            r"\s+(?:was|were)\s+(?:\w+\s+){0,2}?(?:fun|great|amazing|lovely|beautiful|awesome|incredible"
            r"|wonderful|nice|cool|fantastic|brilliant|gorgeous|stunning|fascinating|interesting)\s+to\s+"
            r"(?:visit|see|explore)\b",
            _I,
        ),
        needs_person=False,
        before=True,
    ),
)
# An event's "Where:" / "Venue:" line: its whole value is the place ("Where: cite ben hjel country club");
# The same for a form's or an itinerary's place fields ("City: Kalmar", "Itinerary: Oslo → Bergen").
_VENUE_LINE = re.compile(
    r"(?im)^[ \t]*(?:where|venue|location|meeting\s+point|destination|departure\s+city|arrival\s+city"
    r"|itinerary|route|city|town|village|country|region|county|province|state\s+of\s+residence"
    r"|country\s+of\s+residence|residence|home\s*town|birth\s*place|place\s+of\s+birth)"
    r"[ \t]*:[ \t]*(?P<value>[^\n]*)"
)
_MAX_VENUE_WORDS = 10
# A meeting held online is nowhere: "Where: Zoom", "Location: Teams meeting".
_ONLINE = frozenset(
    re.findall(
        r"\S+", "zoom teams google meet webex skype slack hangouts online virtual remote remotely tbd tba n/a"
    )
)

# Someone in the sentence: the writer, a pronoun, a relative, a title.
_PERSON_WORD = re.compile(
    r"(?i)\b(?:i|i'm|im|i'll|i've|i'd|me|my|mine|we|we're|we'll|we've|us|our|ours|he|he's|he'll|she|she's"
    r"|she'll|they|they're|they'll|they've|his|her|hers|their|him|them|who's|mr|mrs|ms|dr|mum|mom|dad"
    r"|mother|father|sister|brother|son|daughter|wife|husband|partner|uncle|aunt|grandma|grandpa"
    r"|grandmother|grandfather|cousin|colleague|friend|boss|family|parents|kids|children)\b"
)
# "Can I", "do we need to", "is it safe for me to": the writer asks what one may do, and tells nothing.
_GENERAL_ASKING = re.compile(
    r"(?i)\b(?:can|could|should|do|does|did|must|may|might|would|shall|need)\s+(?:i|we)\b"
    r"|\bfor\s+(?:me|us)\s+to\b"
    # "US dollars", "the U.S.": the country, not the pronoun.
    r"|(?-i:\bU\.?S\b\.?)"
)
_PERSON_FINDINGS = frozenset({"PERSON"})
_SENTENCE_END = re.compile(r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)[.!?](?=\s|$)|\n")


def cued_places(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """PERSONAL_LOCATION for every place a cue makes someone's: after (or before) each cue, the
    place-shaped words there (for a weak cue, a LOCATION found there or words in capitals or another
    script); and every venue line."""
    places: dict[int, tuple[int, int]] = {}
    for f in findings:
        if f.entity_type in ("LOCATION", PERSONAL_LOCATION):
            # The shortest place found at a position ("Mill Village", not "Mill Village by helicopter").
            places[f.start] = min(places.get(f.start, (f.start, f.end)), (f.start, f.end), key=lambda s: s[1])
    people = [f for f in findings if f.entity_type in _PERSON_FINDINGS]
    sentences = _Sentences(text)
    found = list(_venue_lines(text))
    for cue in CUES:
        for match in cue.pattern.finditer(text):
            first, last = sentences.around(match.start(), match.end())
            if cue.needs_person and not _someone_in(text, first, last, people):
                continue
            if cue.before:
                found += _place_before(text, first, match.start(), cue)
            else:
                found += _places_after(text, match.end(), cue, places)
    return found


def _someone_in(text: str, first: int, last: int, people: Sequence[Finding]) -> bool:
    if any(first <= p.start and p.end <= last for p in people):
        return True
    sentence = _GENERAL_ASKING.sub(" ", text[first:last])
    return _PERSON_WORD.search(sentence) is not None


class _Sentences:
    """Sentence bounds of one text, found once (a long document has many cues: no rescans)."""

    def __init__(self, text: str) -> None:
        ends = [m.span() for m in _SENTENCE_END.finditer(text)]
        self._starts = [start for start, _ in ends]
        self._ends = [end for _, end in ends]
        self._length = len(text)

    def around(self, start: int, end: int) -> tuple[int, int]:
        """(first, last) of the sentence holding text[start:end]."""
        before = bisect.bisect_right(self._ends, start)
        after = bisect.bisect_left(self._starts, end)
        first = self._ends[before - 1] if before else 0
        return first, self._starts[after] if after < len(self._starts) else self._length


def _venue_lines(text: str) -> Iterator[Finding]:
    for match in _VENUE_LINE.finditer(text):
        value = match.group("value").rstrip(" \t.;!?")
        words = value.split()
        online = bool(words) and words[0].casefold().strip(",") in _ONLINE
        if words and not online and len(words) <= _MAX_VENUE_WORDS and any(char.isalpha() for char in value):
            start = match.start("value")
            yield Finding(PERSONAL_LOCATION, start, start + len(value), SCORE, f"{RECOGNIZER}:venue")


# ---- Place-shaped words -------------------------------------------------------------------------
_TOKEN = re.compile(r"[^\s,.;:!?()\"“”]+")
# Lower-case words inside a place name: "Stratford upon Avon", "Frankfurt am Main", "Novo mesto"
# is not covered (a lower-case word that ends a name is indistinguishable from the next word).
_CONNECTORS = frozenset(
    re.findall(r"\S+", "de del della di da do dos das du la le les el al am an der den upon sur en y")
)
# Capitalised words that follow "to" / "in" and are not places: days, months, departments, meals.
_NOT_PLACES = frozenset(
    re.findall(
        r"\S+",
        "monday tuesday wednesday thursday friday saturday sunday january february march april may june "
        "july august september october november december christmas easter i i'm i'll it hr it's finance "
        "sales legal marketing payroll accounts accounting engineering support procurement security "
        "reception lunch dinner breakfast work school church bed town home office the a an my our his her "
        "their this that noon midday midnight",
    )
)
_MAX_PLACE_WORDS = 4
_MIN_CAPS_WORD = 4
_QUALIFIER = re.compile(r"[ \t]*\([^\W\d_]{2,20}\)")
_LIST_JOIN = re.compile(r"[ \t]*(?:,[ \t]*(?:and[ \t]+|or[ \t]+)?|[ \t]+(?:and|or|&)[ \t]+)")
_MAX_LISTED = 3


def place_word(word: str) -> bool:
    """Written like a place name: letters (any script) without digits, a capital first letter or a
    script without case, not a day, month or department, not a path or time zone ("Europe/London"),
    and not a short acronym ("HR", "IT")."""
    letters = [char for char in word if char.isalpha()]
    if not letters or any(char.isdigit() or char in "/_@=<>" for char in word) or letters[0].islower():
        return False
    if word.casefold().strip("'’") in _NOT_PLACES:
        return False
    return not (word.isupper() and len(letters) < _MIN_CAPS_WORD and letters[0].isascii())


def town_in_capitals_or_script(word: str) -> bool:
    """A place word as unknown towns are often written: in capitals ("MÖNSTERÅS") or in a script
    without case; not a title-case word, which after "went to" is as often a screen or a vendor."""
    letters = [char for char in word if char.isalpha()]
    cased = letters and (letters[0].isupper() or letters[0].islower())
    return place_word(word) and (word.isupper() or not cased)


def _run_after(
    text: str, position: int, shaped: Callable[[str], bool] = place_word
) -> tuple[int, int] | None:
    """The span of place-shaped words starting at `position`, one space apart, a lower-case
    connector allowed between two of them ("Frankfurt am Main"), and a bracketed qualifier after."""
    words, end, cursor = 0, position, position
    while words < _MAX_PLACE_WORDS:
        match = _TOKEN.match(text, cursor)
        if match is None:
            break
        if words and match.group().casefold() in _CONNECTORS:
            match = (
                _TOKEN.match(text, match.end() + 1) if text[match.end() : match.end() + 1] == " " else None
            )
            if match is None:
                break
        if not shaped(match.group()):
            break
        words, end = words + 1, match.end()
        if text[end : end + 1] != " ":
            break
        cursor = end + 1
    if not words:
        return None
    qualifier = _QUALIFIER.match(text, end)
    return position, qualifier.end() if qualifier else end


def _places_after(
    text: str, position: int, cue: PlaceCue, places: Mapping[int, tuple[int, int]]
) -> list[Finding]:
    found: list[Finding] = []
    shaped = place_word if cue.strong else town_in_capitals_or_script
    for _ in range(_MAX_LISTED):
        known = _known_place_at(position, places)
        # A strong cue's own reading is kept over a model's longer one ("Mill Village by helicopter").
        span = (
            (_run_after(text, position, shaped) or known)
            if cue.strong
            else (known or _run_after(text, position, shaped))
        )
        if span is None:
            break
        company = _company_end(text, span)
        if company is not None:
            found.append(Finding(EMPLOYER, span[0], company, SCORE, f"{RECOGNIZER}:employer"))
            break
        found.append(Finding(PERSONAL_LOCATION, span[0], span[1], SCORE, f"{RECOGNIZER}:{cue.name}"))
        join = _LIST_JOIN.match(text, span[1])
        if join is None:
            break
        position = join.end()
    return found


# "Dzhambek is from Civic Impulse LLC": a company, the person's employer rather than their town.
EMPLOYER = "EMPLOYER"
_COMPANY_SUFFIXES = frozenset(
    re.findall(
        r"\S+",
        "llc inc incorporated ltd limited plc gmbh ag sa sas srl bv nv oy ab as corp corporation co "
        "company group",
    )
)
_NEXT_TOKEN = re.compile(r"[ \t]+([^\s,;:!?()\"“”]+)")


def _company_end(text: str, span: tuple[int, int]) -> int | None:
    """The end of a company name when the words end with, or are followed by, a company suffix."""
    last = text[span[0] : span[1]].split()[-1]
    if last.casefold().strip(".") in _COMPANY_SUFFIXES:
        return span[1]
    after = _NEXT_TOKEN.match(text, span[1])
    if after and after.group(1).casefold().strip(".") in _COMPANY_SUFFIXES:
        return after.start(1) + len(after.group(1).rstrip("."))
    return None


def _known_place_at(position: int, places: Mapping[int, tuple[int, int]]) -> tuple[int, int] | None:
    return places.get(position)


def _place_before(text: str, first: int, position: int, cue: PlaceCue) -> list[Finding]:
    """The place-shaped words that end right before `position` and start the sentence (at `first`)."""
    start = first + len(text[first:position]) - len(text[first:position].lstrip())
    span = _run_after(text, start)
    if span is None or span[1] != position:
        return []
    return [Finding(PERSONAL_LOCATION, span[0], span[1], SCORE, f"{RECOGNIZER}:{cue.name}")]
