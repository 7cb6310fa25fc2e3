"""Person names that spaCy's small model misses: a census gazetteer plus capitalisation patterns.

`en_core_web_sm` labels many names ORG or nothing ("Write a greeting for Margaret Thornbury"). A
missed name leaves the machine unmasked, so names are also found here from three kinds of evidence:
a Title-case run that starts with a known given name ("Margaret Thornbury"), a run with a middle
initial ("Ravil G. Yefimov"), a run that ends with a known surname, a lone given name that
spaCy tags as a proper noun, and a lone surname of another language inside a sentence ("the
Sokolov novel"). Layout is evidence too: the first line of a contact card, a transcript's
speaker. Finally every later mention of a word of a name found anywhere in the text is a name
too ("... early Yefremova"), and so are the other items of a list that holds a name. A given name
that spaCy calls a place ("the gender of Mette") is a person too unless GeoNames knows it as a
place; a given name of the world lists counts in lower case ("frederikke").

Precision matters as well (a false name sends the answer to the weaker local model): courtesy
words ("... Cheers."), clause-opening interjections ("Hmm, ..."), instruction verbs ("Summarise
how ...") and code or team names ("Project Asthma", "the Lupus team") are dropped, unless the
gazetteer knows the word as a name.

The gazetteer is the US Census name frequency lists shipped in the PyPI package `names` (MIT),
our own list of common given names of other languages and regions
(`routing/data/given_names.txt`), and given names and surnames of ~70 locales extracted from
Faker (`routing/data/world_*.txt`, MIT, frequent English words removed), read once, lazily, from
the installed files: nothing here touches the network. Words that are
also ordinary English words ("Will", "May", "Bill", "Street") never count as names on their own.
This module reports spans only; it never decides a tier and never keeps a value.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources

from routing.places import merge_address_blocks, personal_places
from routing.recognizers import Finding
from routing.token_ner import RECOGNIZER as RAMPART
from routing.token_ner import defer_to_rules

GAZETTEER_PACKAGE = "names"
# Given names of other languages and regions (the census lists are US names), written by us.
_DATA_PACKAGE = "routing.data"
WORLD_GIVEN_NAMES_FILE = "given_names.txt"
# Given names and surnames of ~70 locales, extracted from Faker (MIT; provenance in each file).
LOCALE_GIVEN_NAMES_FILE = "world_given_names.txt"
LOCALE_SURNAMES_FILE = "world_surnames.txt"
# Given names that are also place names of GeoNames (cities of 15,000+, countries, US states).
ALSO_PLACES_FILE = "given_names_also_places.txt"
_FIRST_FILES = ("dist.male.first", "dist.female.first")
_LAST_FILE = "dist.all.last"
# The census surname list has 88,799 entries; the tail is noise ("Coffee", "Monday").
_SURNAME_RANK_LIMIT = 40_000


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Given names and surnames that are ordinary words, titles, months or days: they may continue a
# name ("Zoe Young") but are no evidence of one ("Will you", "in May", "Grace period").
COMMON_WORDS = _word_set(
    """
    art august autumn baker bell best bill bishop black blue bond born brown buck bud carter case
    chance chase christian church close cook cooper crown dawn day dean december drew duke earl east
    eve ever faith february fox frank friday gay gene gold grace grant gray green grey guy hall hazel
    heath heather holly honey hope house hunter ivy jack jade january joy judge july june just justice
    king law lee little long lord love major march mark marsh mason may miles miss monday moon more
    new north november october olive page pat patience pearl penny post power price prince rain ray
    read rich rose royal ruby rush sale saturday september sharp short sky small snow south star stone
    storm summer sunday sunny thursday tuesday van victory ward webb wednesday west white will wind
    winter wood worth young dear hello hi thanks regards team sir madam name phone address email
    mr mrs ms dr
    """
)
# USPS street suffixes (and a few others): a name before one is a street ("Philip Bypass").
STREET_WORDS = _word_set(
    """
    alley avenue bend boulevard branch bridge brook brooks burg bypass camp canyon cape causeway center
    circle circles cliff cliffs common corner corners course court courts cove creek crescent crest
    crossing curve dale dam divide drive drives estate estates expressway extension extensions falls
    ferry field fields flat flats ford forge forges fork forks fort freeway garden gardens gateway glen
    glens green greens grove groves harbor haven heights highway hill hills hollow inlet island islands
    isle junction key keys knoll knolls lake lakes landing lane light lights lock locks lodge loop mall
    manor manors meadow meadows mews mill mills mission motorway mount mountain neck orchard oval
    overpass park parks parkway pass passage path pike pine pines place plain plains plaza point points
    port ports prairie ramp ranch rapids ridge ridges river road roads route row run shoal shore shores
    skyway spring springs spur square squares station stream street streets summit terrace trace track
    trail tunnel turnpike underpass union unions valley valleys viaduct view views village villages
    ville vista walk walks way ways well wells st rd ave blvd ln dr ct pl sq hwy pkwy str
    """
)
# Words that make a capitalised run an organisation, a title or an institution, not a person.
ORGANISATION_WORDS = _word_set(
    """
    agency airlines association bank bureau college company corp corporation council department
    foundation fund group holdings hospital inc institute insurance investments labs limited llc ltd
    magazine ministry museum news orchestra partners press records school services society solutions
    studio studios systems technologies times treaty trust university weekly
    """
)
# Courtesy words that open or close a message ("... the deadline Cheers.", "Perfect, thank you",
# "Say goodbye"): the models read them as names; they never are one, nor part of one.
COURTESY_WORDS = _word_set(
    """
    cheers thanks thank thankyou thx goodbye bye byebye farewell perfect great awesome brilliant
    lovely congrats congratulations greetings regards sincerely kind warm welcome okay ok sorry
    please cheerio ciao
    """
)
# Interjections that open a clause ("Hmm, that doesn't look right", "Nice, that works"): read as a
# name or a place there, and only there ("I moved to Nice" keeps its place).
INTERJECTIONS = _word_set(
    """
    hmm hmmm hm uh um umm ah ahh aha oh ooh oops whoops wow yay ugh meh nice cool great sure yes yeah
    yep nope no alright right fine brilliant excellent awesome perfect indeed well anyway
    """
)
_INTERJECTION_AFTER = re.compile(r"[ \t]*[,!]")
# A code name or a team's name, not a person: "Project Asthma", "the Lupus team's demo".
_CODE_NAME_BEFORE = re.compile(r"(?:Project|Operation|Codename|Code name|Team)[ \t]+$")
_TEAM_AFTER = re.compile(
    r"[ \t]+(?:team|project|squad|sprint|initiative|programme|program|workstream|channel|tribe|"
    r"guild|release|service|app|dashboard|pipeline|codebase|repo)(?:'s|’s|s)?\b",
    re.I,
)
_PARTICLES = _word_set("da de del della der di dos du la le ten ter van von bin al ibn")
# spaCy entity labels that mean "a place or a date", never a person.
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC", "NORP", "DATE", "TIME"})
_SENTENCE_END = frozenset('.!?"“”:;\n>|')
_CAPITALISED = re.compile(r"^[A-ZÀ-ÖØ-ÞĀ-Ž][a-zà-öø-ÿā-žß]+(?:[-'’][A-ZÀ-ÖØ-Þa-zà-öø-ÿ][a-zà-öø-ÿ]+)?$")
_INITIAL = re.compile(r"^[A-ZÀ-ÖØ-Þ]\.?$")
# Surname endings that ordinary English words do not have (patronymics, Slavic, Greek, Romanian,
# Armenian, Georgian, Finnish, Basque ones), at least four letters before them.
_SURNAME_ENDING = re.compile(
    r"\w{4}(?:dóttir|dottir|sson|ović|ovic|ević|evic|vić|wicz|ewski|owski|ovski|evski|enko|chuk|"
    r"czyk|ová|ovà|ský|ská|opoulos|poulos|akis|idis|escu|eanu|yan|yants|shvili|dze|ainen|äinen|"
    r"onen|önen|inen|sdóttir|ovich|ovna|evich|evna|etxea|ov|ova|ev|eva)$"
)

GIVEN_NAME_RUN_SCORE = 0.85
INITIAL_RUN_SCORE = 0.8
SURNAME_RUN_SCORE = 0.7
LONE_GIVEN_NAME_SCORE = 0.65
LONE_SURNAME_SCORE = 0.65
REPEATED_NAME_SCORE = 0.7
# The policy's default floor for PERSON: a finding below it is dropped by the gate.
CONFIDENT_NAME_SCORE = 0.6


@dataclass(frozen=True, slots=True)
class NameToken:
    """What the name finder needs of a token: its text and span, spaCy's POS and entity label."""

    text: str
    start: int
    end: int
    pos: str = ""
    entity: str = ""


class NameGazetteer:
    """Known given names and surnames (lower case), read once from the installed `names` package."""

    def __init__(
        self,
        given: Iterable[str],
        surnames: Iterable[str],
        stop_words: Iterable[str] = (),
        *,
        lone_surnames: Iterable[str] = (),
        world_given: Iterable[str] = (),
        also_places: Iterable[str] = (),
    ) -> None:
        # Lower-case text has no capitals to go on: there only the census and our own list count
        # ("floor" and "bake" are a Dutch given name and a surname somewhere, and ordinary words).
        self.core_given = frozenset(given)
        self.core_surnames = frozenset(surnames)
        self.given = self.core_given | frozenset(world_given)
        # Surnames with no frequent English word among them: these count alone ("the Sokolov
        # novel"); the census tail ("Singer", "Standard") only ends a run that is a name.
        self.lone_surnames = frozenset(lone_surnames)
        self.surnames = frozenset(surnames) | self.lone_surnames
        # Function words never start or continue a name ("In United States", "Carry Me Back").
        self.stop_words = frozenset(stop_words)
        # Given names that are also places ("Florence", "Jordan"): a place label on them stands.
        self.also_places = frozenset(also_places)

    @classmethod
    def from_package(cls) -> NameGazetteer:
        from spacy.lang.en.stop_words import STOP_WORDS

        files = resources.files(GAZETTEER_PACKAGE)
        given = [name for file in _FIRST_FILES for name in _census_names(files.joinpath(file).read_text())]
        data = resources.files(_DATA_PACKAGE)
        given += _word_list(data.joinpath(WORLD_GIVEN_NAMES_FILE).read_text("utf-8"))
        surnames = _census_names(files.joinpath(_LAST_FILE).read_text(), limit=_SURNAME_RANK_LIMIT)
        return cls(
            given,
            surnames,
            STOP_WORDS,
            lone_surnames=_word_list(data.joinpath(LOCALE_SURNAMES_FILE).read_text("utf-8")),
            world_given=_word_list(data.joinpath(LOCALE_GIVEN_NAMES_FILE).read_text("utf-8")),
            also_places=_word_list(data.joinpath(ALSO_PLACES_FILE).read_text("utf-8")),
        )

    def without(self, words: Iterable[str]) -> NameGazetteer:
        """This gazetteer with `words` (any case) in none of its name lists: what the finder does
        with names it has never seen (the leave-list-out evaluation, `routing.pii_eval`)."""
        removed = frozenset(word.casefold() for word in words)
        copy = NameGazetteer((), (), self.stop_words, also_places=self.also_places)
        copy.core_given, copy.core_surnames = self.core_given - removed, self.core_surnames - removed
        copy.given, copy.lone_surnames = self.given - removed, self.lone_surnames - removed
        copy.surnames = self.surnames - removed
        return copy

    def is_given(self, word: str) -> bool:
        key = word.casefold()
        return key in self.given and key not in COMMON_WORDS

    def is_surname(self, word: str) -> bool:
        key = word.casefold()
        return key in self.surnames and key not in COMMON_WORDS

    def is_core_name(self, word: str, *, surname: bool) -> bool:
        """In the census lists or our own given names (not the world lists)."""
        key = word.casefold()
        return key in (self.core_surnames if surname else self.core_given) and key not in COMMON_WORDS

    def is_foreign_surname(self, word: str) -> bool:
        """A surname of the world list, or a capitalised word with a surname ending of a
        language whose surnames English does not share ("-dóttir", "-ović", "-opoulos")."""
        return self.is_lone_surname(word) or (
            bool(_CAPITALISED.match(word)) and _SURNAME_ENDING.search(word) is not None
        )

    def is_world_given_only(self, word: str) -> bool:
        """A given name of the world lists only: none of them is a frequent English word (the
        census lists hold "don", "bob", "sue"), so it counts even in lower case ("frederikke")."""
        key = word.casefold()
        return key in self.given and key not in self.core_given and key not in COMMON_WORDS

    def is_place_too(self, word: str) -> bool:
        return word.casefold() in self.also_places

    def is_lone_surname(self, word: str) -> bool:
        key = word.casefold()
        return key in self.lone_surnames and key not in COMMON_WORDS

    def name_shaped(self, word: str) -> bool:
        """A capitalised word that may be part of a name (not a function, street or company word)."""
        key = word.casefold()
        return (
            bool(_CAPITALISED.match(word))
            and key not in self.stop_words
            and key not in STREET_WORDS
            and key not in ORGANISATION_WORDS
            and key not in COURTESY_WORDS
        )


def _word_list(text: str) -> list[str]:
    """Words of a list file: whitespace-separated, lower-cased, "#" comments dropped."""
    return [word.casefold() for line in text.splitlines() for word in line.split("#", 1)[0].split()]


def _census_names(text: str, *, limit: int | None = None) -> list[str]:
    # Lines are "NAME  frequency  cumulative  rank", ordered by rank.
    lines = text.splitlines()[:limit] if limit else text.splitlines()
    return [line.split(maxsplit=1)[0].casefold() for line in lines if line.strip()]


_lock = threading.Lock()
_default: NameGazetteer | None = None
# An evaluation's stand-in for the shared gazetteer (`gazetteer_in_use`); never set while serving.
_stand_in: NameGazetteer | None = None


def default_gazetteer() -> NameGazetteer:
    """The census gazetteer, loaded on first use and shared (it is immutable)."""
    global _default
    if _stand_in is not None:
        return _stand_in
    if _default is None:
        with _lock:
            if _default is None:
                _default = NameGazetteer.from_package()
    return _default


@contextmanager
def gazetteer_in_use(gazetteer: NameGazetteer) -> Iterator[NameGazetteer]:
    """Every name rule reads `gazetteer` instead of the shared one until the block ends. For
    offline evaluation only (one process, one run): the app never calls it."""
    global _stand_in
    previous, _stand_in = _stand_in, gazetteer
    try:
        yield gazetteer
    finally:
        _stand_in = previous


def _inside_run(tokens: Sequence[NameToken], index: int) -> bool:
    # Middle initials ("D", "D" + "."), and particles ("Willemine ten Pas") continue a run.
    text = tokens[index].text
    return (
        bool(_INITIAL.match(text))
        or text in _PARTICLES
        or (text == "." and bool(_INITIAL.match(tokens[index - 1].text)))
    )


def _runs(tokens: Sequence[NameToken], text: str, gazetteer: NameGazetteer) -> Iterator[tuple[int, int]]:
    """(first, last) token indexes of capitalised runs on one line; inner initials and particles kept."""
    first: int | None = None
    last = 0
    for index, token in enumerate(tokens):
        same_line = first is not None and "\n" not in text[tokens[last].end : token.start]
        if same_line and _inside_run(tokens, index):
            continue
        if gazetteer.name_shaped(token.text) and (first is None or same_line):
            first = index if first is None else first
            last = index
            continue
        if first is not None:
            yield first, last
        first = index if gazetteer.name_shaped(token.text) else None
        last = index
    if first is not None:
        yield first, last


def _line_around(text: str, start: int, end: int) -> tuple[str, str]:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return text[line_start:start], text[end : len(text) if line_end < 0 else line_end]


def _sentence_initial(token: NameToken, text: str) -> bool:
    before = text[: token.start].rstrip(" \t")
    return not before or before[-1] in _SENTENCE_END


def _alone_on_line(text: str, start: int, end: int) -> bool:
    # A name on a line of its own: a signature, a contact card, a header ("Dreux Joly").
    before, after = _line_around(text, start, end)
    return not any(char.isalnum() for char in before + after)


def _street_or_company(
    tokens: Sequence[NameToken], first: int, last: int, text: str, gazetteer: NameGazetteer
) -> bool:
    """A run after a house number or before a street / company word is not a person."""
    if (
        first > 0
        and tokens[first - 1].text.isdigit()
        and not text[tokens[first - 1].end : tokens[first].start].strip()
    ):
        return True
    after = tokens[last + 1].text if last + 1 < len(tokens) else ""
    return _street_word(after, gazetteer) or after.casefold() in ORGANISATION_WORDS


def _score_run(
    tokens: Sequence[NameToken], first: int, last: int, text: str, gazetteer: NameGazetteer
) -> float | None:
    run = tokens[first : last + 1]
    words = [token for token in run if gazetteer.name_shaped(token.text)]
    if len(words) > 4 or any(token.entity in _PLACE_LABELS for token in words):
        return None
    if _street_or_company(tokens, first, last, text, gazetteer):
        return None
    if len(words) == 1:
        return _score_lone_word(words[0], text, gazetteer)
    if gazetteer.is_given(words[0].text):
        return GIVEN_NAME_RUN_SCORE
    if any(_INITIAL.match(token.text) for token in run):
        return INITIAL_RUN_SCORE
    if words[0].text.casefold() in COMMON_WORDS:
        return None
    # A surname that is no English word ("Rościsław Dudek", "Ástríður Steinarsdóttir") makes a
    # name even at a sentence start; a census surname there may be an ordinary word ("Price").
    if gazetteer.is_foreign_surname(words[-1].text):
        return SURNAME_RUN_SCORE
    plausible_start = not _sentence_initial(words[0], text) or _alone_on_line(text, run[0].start, run[-1].end)
    if gazetteer.is_surname(words[-1].text) and plausible_start:
        return SURNAME_RUN_SCORE
    return None


def _score_lone_word(word: NameToken, text: str, gazetteer: NameGazetteer) -> float | None:
    """A lone proper noun that is a known given name, or a known surname inside a sentence
    ("Unlike the Sokolov novel"); at a sentence start a capitalised surname is too often an
    ordinary word ("Price", "Ward") to count alone. spaCy's small model calls many unknown
    capitalised words ORG: that vetoes a given name ("Ask Alexa") but not a surname of the world
    list, which holds no English word."""
    if word.pos != "PROPN":
        return None
    if gazetteer.is_given(word.text) and word.entity != "ORG":
        return LONE_GIVEN_NAME_SCORE
    if gazetteer.is_foreign_surname(word.text) and not _sentence_initial(word, text):
        return LONE_SURNAME_SCORE
    return None


def find_names(text: str, tokens: Sequence[NameToken], gazetteer: NameGazetteer) -> list[Finding]:
    """Person-name spans in `text` from its tokens (in order) and the gazetteer."""
    findings = []
    for first, last in _runs(tokens, text, gazetteer):
        score = _score_run(tokens, first, last, text, gazetteer)
        if score is not None:
            findings.append(Finding("PERSON", tokens[first].start, tokens[last].end, score, "name_gazetteer"))
    return findings + _lower_case_lone_names(tokens, gazetteer)


def _lower_case_lone_names(tokens: Sequence[NameToken], gazetteer: NameGazetteer) -> list[Finding]:
    """A lower-case word that spaCy tags a proper noun and that is a given name of the world
    lists only ("the true gender of frederikke"): the tagger's proper-noun reading plus a name
    that is no English word. Census names in lower case are too often words ("don", "bob")."""
    return [
        Finding("PERSON", token.start, token.end, LONE_GIVEN_NAME_SCORE, "name_gazetteer")
        for token in tokens
        if token.pos == "PROPN" and token.text.isalpha() and token.text.islower() and len(token.text) >= 3
        and token.entity not in _PLACE_LABELS and token.text not in gazetteer.stop_words
        and gazetteer.is_world_given_only(token.text) and not gazetteer.is_place_too(token.text)
    ]  # fmt: skip


_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)?")


_HOUSE_NUMBER_BEFORE = re.compile(r"\d[ \t]+$")
_STREET_WORD_AFTER = re.compile(r"[ \t]+([^\W\d_]+)")


def _part_of_address(text: str, finding: Finding, addresses: Sequence[tuple[int, int]]) -> bool:
    if any(start <= finding.start and finding.end <= end for start, end in addresses):
        return True
    if _HOUSE_NUMBER_BEFORE.search(text, max(0, finding.start - 12), finding.start):
        return True
    after = _STREET_WORD_AFTER.match(text, finding.end)
    return after is not None and _street_word(after.group(1), default_gazetteer())


def _street_word(word: str, gazetteer: NameGazetteer) -> bool:
    # "Park", "Hill", "Ford" end street names and people's names alike: only clear suffixes count.
    return word.casefold() in STREET_WORDS and word.casefold() not in gazetteer.surnames


# Languages, nationalities and temperature scales ("Translate into German", "to Fahrenheit"): the
# models read these capitalised words as a person or a place, but on their own they name no one.
LANGUAGE_WORDS = _word_set(
    """
    arabic bengali bulgarian catalan celsius chinese croatian czech danish dutch english estonian
    fahrenheit farsi finnish french german greek gujarati hebrew hindi hungarian icelandic
    indonesian italian japanese kelvin korean latin latvian lithuanian malay mandarin marathi
    norwegian persian polish portuguese punjabi romanian russian serbian slovak slovenian spanish
    swahili swedish tagalog tamil telugu thai turkish ukrainian urdu vietnamese welsh
    """
)
# An instruction starts with its verb ("Summarize the roadmap", "Convert 30 degrees", "Repeat the
# last answer"): a capitalised first word followed by an article, a pronoun or a number is that verb.
_VERB_OBJECT = re.compile(
    r"[ \t]+(?:(?:the|this|that|these|those|a|an|it|them|me|us|our|your|how|what|why|when|where|which|"
    r"who|whether)\b|\d)",
    re.I,
)
_CLAUSE_START = ".!?:;,"


def _not_a_name(text: str, finding: Finding, gazetteer: NameGazetteer) -> bool:
    """A one-word "person" or "place" that is a language name, or an instruction's verb that is in
    no name list (a name the gazetteer knows, "Priya the ...", is kept: a missed name leaks)."""
    word = text[finding.start : finding.end]
    if finding.entity_type == "PERSON" and _code_name(text, finding, gazetteer):
        return True
    if finding.entity_type not in ("PERSON", "LOCATION") or not word.isalpha():
        return False
    if word.casefold() in LANGUAGE_WORDS or word.casefold() in COURTESY_WORDS:
        return True
    before = text[: finding.start].rstrip(" \t")
    at_clause_start = not before or before[-1] in _CLAUSE_START
    if at_clause_start and word.casefold() in INTERJECTIONS and _INTERJECTION_AFTER.match(text, finding.end):
        return True
    return (
        finding.entity_type == "PERSON"
        and (not before or before[-1] in _CLAUSE_START)
        and bool(_VERB_OBJECT.match(text, finding.end))
        and not (gazetteer.is_given(word) or gazetteer.is_surname(word))
    )


_COURTESY_AT_END = re.compile(r"[ \t,]+([^\W\d_]+)$")


def _without_courtesy(text: str, finding: Finding) -> Finding:
    """A person span that ran on over a closing courtesy word ("John Example Cheers") ends before it."""
    if finding.entity_type != "PERSON":
        return finding
    last = _COURTESY_AT_END.search(text, finding.start, finding.end)
    if last is None or last.group(1).casefold() not in COURTESY_WORDS:
        return finding
    return Finding("PERSON", finding.start, last.start(), finding.score, finding.recognizer)


def _code_name(text: str, finding: Finding, gazetteer: NameGazetteer) -> bool:
    """ "Project Asthma", "the Lupus team": a project's or a team's name, when none of its words is
    a name the gazetteer knows ("the Priya team" stays a name: a missed name leaks)."""
    words = _WORD.findall(text, finding.start, finding.end)
    if words and words[0] in ("Project", "Operation", "Codename", "Team"):
        words = words[1:]
    elif not (
        _CODE_NAME_BEFORE.search(text, max(0, finding.start - 12), finding.start)
        or _TEAM_AFTER.match(text, finding.end)
    ):
        return False
    return bool(words) and not any(gazetteer.is_given(w) or gazetteer.is_surname(w) for w in words)


def refine_person_findings(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """The post-pass over all findings of a text (the gate calls it once): join address pieces
    into blocks, drop "names" that are part of a street address ("1668 Glyn St", "159 Eleftheriou
    Venizelou str"), add the other mentions of the names that remain, and mark the places that
    belong to a person (`routing.places`)."""
    gazetteer = default_gazetteer()
    findings = [_without_courtesy(text, f) for f in defer_to_rules(findings)]
    findings = [f for f in findings if not _not_a_name(text, f, gazetteer)]
    findings = merge_address_blocks(text, findings)
    addresses = [(f.start, f.end) for f in findings if f.entity_type == "STREET_ADDRESS"]
    kept = [
        finding
        for finding in findings
        if finding.entity_type != "PERSON"
        or not (_part_of_address(text, finding, addresses) or _organisation(text, finding))
    ]
    kept += given_names_called_places(text, kept, gazetteer)
    kept += listed_with_names(text, kept)
    kept += header_names(text, kept) + speaker_names(text, default_gazetteer())
    kept += transcript_speakers(text, kept)
    kept += joined_names(kept)
    kept += with_suffixes(text, kept) + with_titles(text, kept)
    kept += with_initial_and_surname(text, kept)
    return personal_places(text, kept + repeated_names(text, kept))


# A place follows these ("flights to Mette" would be a place, were there one): a "place" after them
# keeps its place reading.
_PLACE_PREPOSITION_BEFORE = re.compile(
    r"(?i)\b(?:in|to|from|at|near|via|into|across|around|outside|towards?|visit(?:ing|ed)?)[ \t]+$"
)


def given_names_called_places(
    text: str, findings: Sequence[Finding], gazetteer: NameGazetteer
) -> list[Finding]:
    """A one-word "place" that is a known given name and no place of GeoNames ("the true gender of
    Mette", which spaCy's small model calls a GPE) is a person too; not after a place preposition,
    and not where the token classifier also read a place (it tells "Joinville" from "Inger")."""
    model_places = [f for f in findings if f.recognizer == RAMPART and f.entity_type == "LOCATION"]
    return [
        Finding("PERSON", f.start, f.end, LONE_GIVEN_NAME_SCORE, "given_name_not_place")
        for f in findings
        if f.entity_type == "LOCATION" and text[f.start : f.end].isalpha()
        and gazetteer.is_given(text[f.start : f.end]) and not gazetteer.is_place_too(text[f.start : f.end])
        and not _PLACE_PREPOSITION_BEFORE.search(text, max(0, f.start - 16), f.start)
        and not any(p.start < f.end and f.start < p.end for p in model_places)
    ]  # fmt: skip


def joined_names(findings: Sequence[Finding]) -> list[Finding]:
    """One span over person spans that overlap ("Garcia songwriter Samantha" / "Samantha Bašić"):
    the overlap resolver keeps only the longer one, which would leave "Bašić" unmasked."""
    names = sorted((f for f in findings if f.entity_type == "PERSON"), key=lambda f: (f.start, -f.end))
    joined: list[Finding] = []
    start, end, parts = -1, -1, 0
    for name in [*names, None]:
        if name is not None and name.start < end:
            end, parts = max(end, name.end), parts + (name.end > end)
            continue
        if parts > 1:
            joined.append(Finding("PERSON", start, end, REPEATED_NAME_SCORE, "joined_names"))
        if name is not None:
            start, end, parts = name.start, name.end, 1
    return joined


def _organisation(text: str, finding: Finding) -> bool:
    """ "Williamson Orchestra", "Galorath Incorporated": a run ending in an organisation word."""
    words = _WORD.findall(text, finding.start, finding.end)
    return len(words) > 1 and words[-1].casefold() in ORGANISATION_WORDS


# "Eklund, Michael and Hodge": capitalised single words joined by commas and "and" / "or" / "&".
_ITEM = r"[A-ZÀ-ÖØ-Þ][\w'’-]+"
_LISTED = re.compile(rf"(?<![\w-]){_ITEM}(?:,[ \t]*{_ITEM})*,?[ \t]+(?:and|or|&)[ \t]+{_ITEM}(?![\w-])")
_LIST_ITEM = re.compile(_ITEM)


def _confident_names(findings: Sequence[Finding]) -> list[tuple[int, int]]:
    # A model's unsure guess ("Rogers" at 0.59) is neither evidence for its neighbours nor a reason
    # to skip them: below the policy's floor it would be dropped and the name would leak.
    confident = (f for f in findings if f.entity_type == "PERSON" and f.score >= CONFIDENT_NAME_SCORE)
    return [(f.start, f.end) for f in confident]


def listed_with_names(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """The other items of a list of single capitalised words in which one item is a name."""
    names = _confident_names(findings)
    gazetteer = default_gazetteer()
    added = []
    for listed in _LISTED.finditer(text):
        items = [m for m in _LIST_ITEM.finditer(text, listed.start(), listed.end())]
        if not any(any(s <= m.start() and m.end() <= e for s, e in names) for m in items):
            continue
        added += [
            Finding("PERSON", m.start(), m.end(), REPEATED_NAME_SCORE, "listed_with_name")
            for m in items
            if gazetteer.name_shaped(m.group()) and m.group().casefold() not in COMMON_WORDS
            and not any(s <= m.start() and m.end() <= e for s, e in names)
        ]  # fmt: skip
    return added


def repeated_names(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """Other mentions of a word of a name already found ("Faina D. Yefremova ... early Yefremova")."""
    words = {
        match.group()
        for finding in findings
        if finding.entity_type == "PERSON" and finding.score >= CONFIDENT_NAME_SCORE
        for match in _WORD.finditer(text, finding.start, finding.end)
        if len(match.group()) >= 3 and (_CAPITALISED.match(match.group()) or match.group().islower())
        and match.group().casefold() not in COMMON_WORDS | STREET_WORDS | ORGANISATION_WORDS
    }  # fmt: skip
    if not words:
        return []
    covered = _confident_names(findings)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, sorted(words))) + r")(?!\w)")
    return [
        Finding("PERSON", match.start(), match.end(), REPEATED_NAME_SCORE, "repeated_name")
        for match in pattern.finditer(text)
        if not any(start <= match.start() and match.end() <= end for start, end in covered)
    ]


# ---- Names from their context: "my name is …", "Dear …", a title, "to <given name>", lower case ----
CONTEXT_NAME_SCORE = 0.75
_NAME_WORD = r"[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?"
# After these a name follows whatever its case ("my name is priya ramanathan").
_STATED = re.compile(
    rf"(?i)\b(?:my name is|my name's|name:|call me|signed,?)[ \t]+((?:{_NAME_WORD}[ \t]*){{1,3}})"
)
# After these a name follows if it looks like one (capitalised, or a known given name).
_GREETED = re.compile(
    rf"(?i)\b(?:dear|hi|hello|hey|thanks|thank you|regards,|cheers,|sincerely,|best,|i am|i'm|"
    rf"this is|cc:?)[ \t]+((?:{_NAME_WORD}[ \t]*){{1,3}})"
)
# Words that precede ordinary nouns and places as often as people: a full name must follow.
_ADDRESSED = re.compile(rf"(?i)\b(?:to|from|with|ask|tell|for)[ \t]+((?:{_NAME_WORD}[ \t]*){{2,3}})")
# A title is followed by a name: the surname alone ("Mr. Leiva flew ...") or a full name.
_TITLED = re.compile(
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mme|Mlle|Herr|Frau|Sr|Sra|Señor|Señora)\.?[ \t]+"
    rf"((?:[A-ZÀ-ÖØ-Þ]{_NAME_WORD}[ \t]*){{1,3}})"
)
_LOWER_WORD = re.compile(r"(?<![\w@.])[a-zà-öø-ÿ]+(?:-[a-zà-öø-ÿ]+)?(?![\w@])")


def _name_words(
    text: str, start: int, end: int, gazetteer: NameGazetteer, *, any_case: bool
) -> tuple[int, int] | None:
    """The span of the leading name-like words in text[start:end], or None."""
    first = last = None
    for index, match in enumerate(_WORD.finditer(text, start, end)):
        word = match.group()
        key = word.casefold()
        known = gazetteer.is_given(word) or (index > 0 and gazetteer.is_surname(word))
        shaped = gazetteer.name_shaped(word) and key not in COMMON_WORDS
        if key in gazetteer.stop_words or key in STREET_WORDS or not (known or shaped or any_case):
            break
        if index == 0 and not any_case and not known and not shaped:
            return None
        first = match.start() if first is None else first
        last = match.end()
    return (first, last) if first is not None and last is not None else None


def context_names(text: str, gazetteer: NameGazetteer) -> list[Finding]:
    """Names that a phrase, a title or the gazetteer marks, in any case."""
    spans: list[tuple[int, int]] = []
    for pattern, any_case in ((_STATED, True), (_GREETED, False), (_ADDRESSED, False), (_TITLED, False)):
        for match in pattern.finditer(text):
            span = _name_words(text, match.start(1), match.end(1), gazetteer, any_case=any_case)
            if span is not None and _plausible_after_greeting(text[span[0] : span[1]], pattern, gazetteer):
                spans.append(span)
    spans += _lower_case_full_names(text, gazetteer)
    return [Finding("PERSON", start, end, CONTEXT_NAME_SCORE, "name_context") for start, end in spans]


def _plausible_after_greeting(name: str, pattern: re.Pattern[str], gazetteer: NameGazetteer) -> bool:
    # After a greeting the first word must be a known name ("Hi Ana", not "Hello World"); after
    # "to", "with" ... a known given name and one more word of a name ("to Ana Silva", not "to
    # Paris" or "to Ana tomorrow").
    words = _WORD.findall(name)
    if pattern is _TITLED or pattern is _STATED:
        return True
    if pattern is _ADDRESSED:
        return len(words) >= 2 and gazetteer.is_given(words[0]) and gazetteer.name_shaped(words[1])
    return bool(words) and gazetteer.is_given(words[0])


_ARTICLES = frozenset({"the", "a", "an", "this", "that", "these", "those", "each", "every", "our", "your"})
_MIDDLE_INITIAL = re.compile(r"[ \t]+(?:[a-z]\.?[ \t]+)?")


def _lower_case_full_names(text: str, gazetteer: NameGazetteer) -> list[tuple[int, int]]:
    """A known given name followed by a known surname, both in lower case, perhaps with a middle
    initial ("leone mazzi", "benjamin a seiler"). A given name of the world lists only (no English
    word: "the sigrun k olsen recording") counts after an article too, and before a surname of
    the world lists."""
    words = list(_LOWER_WORD.finditer(text))
    found = []
    for index, given in enumerate(words):
        world = gazetteer.is_world_given_only(given.group())
        if given.group() in gazetteer.stop_words or not (
            world or gazetteer.is_core_name(given.group(), surname=False)
        ):
            continue
        # After an article a lower-case pair is a noun phrase ("the charity bake sale").
        before = words[index - 1] if index > 0 else None
        if (
            not world
            and before is not None
            and before.group() in _ARTICLES
            and before.end() + 1 == given.start()
        ):
            continue
        for surname in words[index + 1 : index + 3]:
            gap = _MIDDLE_INITIAL.fullmatch(text, given.end(), surname.start())
            if gap is None or surname.group() in gazetteer.stop_words:
                continue
            if _surname_after(surname.group(), gazetteer, world=world, initial=bool(gap.group().strip())):
                found.append((given.start(), surname.end()))
                break
    return found


def _surname_after(word: str, gazetteer: NameGazetteer, *, world: bool, initial: bool) -> bool:
    """Is `word` the surname of a lower-case full name? After a census given name, a census surname;
    after a world given name, a world surname, or a census one after an initial (census surnames
    hold verbs: "sigrun said")."""
    census = gazetteer.is_core_name(word, surname=True)
    if not world:
        return census
    return gazetteer.is_lone_surname(word) or (census and initial)


# ---- Names from a text's layout: a contact card's first line, a chat transcript's speakers ----
LAYOUT_NAME_SCORE = 0.75
_CONTACT_TYPES = frozenset({"PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS"})
# A line's decoration before its text (">", "???", bullets).
_LINE_LEAD = re.compile(r"[^\w\n]*")
_HEADER_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*\.?")


def header_names(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """The first line of a contact card or signature block ("Einojuhani Pyysalo" above a phone
    number and an address): two or three words of a name alone on the first line of a text
    that carries contact details."""
    if "\n" not in text.strip() or not any(f.entity_type in _CONTACT_TYPES for f in findings):
        return []
    lead = _LINE_LEAD.match(text)
    start = lead.end() if lead else 0
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)].rstrip()
    words = _HEADER_WORD.findall(line)
    if not 2 <= len(words) <= 4 or " ".join(words) != " ".join(line.split()):
        return []
    if not _header_words_are_a_name(words, default_gazetteer()):
        return []
    return [Finding("PERSON", start, start + len(line), LAYOUT_NAME_SCORE, "header_name")]


def _header_words_are_a_name(words: Sequence[str], gazetteer: NameGazetteer) -> bool:
    initials = [w for w in words if len(w.rstrip(".")) == 1]
    names = [w for w in words if len(w.rstrip(".")) > 1]
    if len(names) < 2 or len(initials) > 1:
        return False
    if any(w.casefold() in COMMON_WORDS or not gazetteer.name_shaped(w.capitalize()) for w in names):
        return False
    # Lower case is a name only when the gazetteer knows its first word ("emidio p lombardo").
    return all(w[0].isupper() for w in names) or gazetteer.is_given(names[0])


# A speaker's name before a colon and a quotation ('Sara:"I'm Misty's daughter"', 'mika: "who"').
_SPEAKER = re.compile(r"(?m)^[^\w\n]*([^\W\d_]+(?:[-'’][^\W\d_]+)?)[ \t]*:[ \t]*[\"“]")


def speaker_names(text: str, gazetteer: NameGazetteer) -> list[Finding]:
    """Speakers of a transcript whose label is a known name ('Note: "..."' is not a speaker)."""
    found = []
    for match in _SPEAKER.finditer(text):
        word = match.group(1)
        if gazetteer.is_given(word) or gazetteer.is_surname(word):
            found.append(Finding("PERSON", match.start(1), match.end(1), LAYOUT_NAME_SCORE, "speaker_name"))
    return found


# A degree or generation after a name belongs to its span ("Kathrine Filemonsen DDS"), and so does
# a title before it ("Mrs. Oddny Kvalheim"): left outside, it tells the hosted model the person's
# gender or profession next to the placeholder.
_TITLE_BEFORE = re.compile(r"(?i)(?<![\w.])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mme|Mlle|Sir|Dame)\.?[ \t]+$")
_SUFFIX_AFTER = re.compile(r",?[ \t]+(?:DDS|DMD|MD|PhD|DVM|RN|CPA|Esq|Jr|Sr|II|III|IV)\b\.?")


def with_suffixes(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """Person spans widened over a degree or generation suffix after them."""
    widened = []
    for finding in findings:
        suffix = _SUFFIX_AFTER.match(text, finding.end) if finding.entity_type == "PERSON" else None
        if suffix:
            widened.append(Finding("PERSON", finding.start, suffix.end(), finding.score, finding.recognizer))
    return widened


def with_titles(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """Person spans widened over a title just before them ("Mrs. Oddny Kvalheim", "dr. haugland")."""
    widened = []
    for finding in findings:
        if finding.entity_type != "PERSON":
            continue
        title = _TITLE_BEFORE.search(text, max(0, finding.start - 8), finding.start)
        if title:
            widened.append(Finding("PERSON", title.start(), finding.end, finding.score, finding.recognizer))
    return widened


# A middle initial and the capitalised word after it ("Brad L Key", "Anna K. Berg"): the surname
# may be an ordinary or street word that no run accepts ("Key", "Young"). "A" and "I" need their
# full stop, being words too ("Ask Anna A Question").
_SURNAME = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+(?:[-'’][A-Za-zà-öø-ÿ]+)?(?![\w-])"
_INITIAL_THEN_SURNAME = re.compile(rf"[ \t]+(?:[B-HJ-Z]\.?|[AI]\.)[ \t]+{_SURNAME}")
_ENDS_WITH_INITIAL = re.compile(r"[ \t](?:[B-HJ-Z]\.?|[AI]\.)$")
_SURNAME_NEXT = re.compile(rf"\.?[ \t]+{_SURNAME}")


def with_initial_and_surname(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """A sure person span that a middle initial and a capitalised word follow, widened over both;
    a span that ends at its initial ("Brad L") gets the word after it."""
    widened = []
    for finding in findings:
        if finding.entity_type != "PERSON" or finding.score < CONFIDENT_NAME_SCORE:
            continue
        if _ENDS_WITH_INITIAL.search(text[finding.start : finding.end]):
            rest = _SURNAME_NEXT.match(text, finding.end)
        else:
            rest = _INITIAL_THEN_SURNAME.match(text, finding.end)
        if rest:
            widened.append(Finding("PERSON", finding.start, rest.end(), finding.score, finding.recognizer))
    return widened + _initial_runs(text)


_INITIAL_RUN = re.compile(
    rf"(?<![\w.])([A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ]+){_INITIAL_THEN_SURNAME.pattern}(?![ \t]+[A-Z\d])"
)


def _initial_runs(text: str) -> list[Finding]:
    """ "Brad L Key" with no name found in it: a name-shaped word, an initial and a capitalised word
    that ends the run (not "Elm P Street 4", not "Vitamin D Council Report"), inside a sentence."""
    gazetteer = default_gazetteer()
    found = []
    for match in _INITIAL_RUN.finditer(text):
        first, last = match.group(1), text[match.start(1) : match.end()].split()[-1]
        before = text[: match.start()].rstrip(" \t")
        if not before or before[-1] in _SENTENCE_END or not gazetteer.name_shaped(first):
            continue
        if first.casefold() in COMMON_WORDS or last.casefold() in ORGANISATION_WORDS:
            continue
        found.append(Finding("PERSON", match.start(), match.end(), INITIAL_RUN_SCORE, "name_initial_run"))
    return found


def transcript_speakers(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """Every speaker of a transcript in which one speaker is a name found by any means
    ('Gabriel: "Who are you?" / Sara: "..."' with "Gabriel" found): the labels of one
    transcript are all people, whether a list knows them or not."""
    labels = [m for m in _SPEAKER.finditer(text) if default_gazetteer().name_shaped(m.group(1))]
    names = _confident_names(findings)
    if len(labels) < 2 or not any(any(s <= m.start(1) and m.end(1) <= e for s, e in names) for m in labels):
        return []
    return [
        Finding("PERSON", m.start(1), m.end(1), LAYOUT_NAME_SCORE, "speaker_name")
        for m in labels
        if m.group(1).casefold() not in COMMON_WORDS
    ]
