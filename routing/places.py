"""Place names in context: whole address blocks, and places that become personal next to a person.

Detectors report an address in pieces ("760 Passauer Strasse 33" / "Guedouala, Tunisia" / "91196"),
and a piece left out of the pseudonymized span leaves the machine. `merge_address_blocks` joins
street-address and place findings that follow each other with only separators (commas, line
breaks, a word or two: "Cite", "Apt") between them into one STREET_ADDRESS block. The block
takes the other street of an intersection ("Leon and Eyrarodda 66", "the corner of A and B"), a
bracketed qualifier ("Cyprus (Greek)"), and, in a text laid out over lines (a contact card, a
letter), every short postal line between two lines that hold address parts.

A place name alone ("the capital of France", "flights to Lisbon") is public. The same place in a
message that also names a person, an address, a phone or an e-mail, or that says where the writer
lives or comes from ("I'm originally from Dolores"), narrows down who someone is: there it becomes
PERSONAL_LOCATION, which the policy pseudonymizes. Country names NER missed come from
`routing.place_gazetteer`; places that a travel, origin, residence or venue cue makes someone's,
found by NER or not, from `routing.place_cues`; in a contact card, a short town line above the
country line is the town. This module only relabels and adds spans; it never decides a tier (the
policy does) and keeps no value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from routing.place_cues import SCORE as CUE_SCORE
from routing.place_cues import cued_places, place_word
from routing.place_gazetteer import SpanIndex, find_countries
from routing.recognizers import Finding

PERSONAL_LOCATION = "PERSONAL_LOCATION"
ADDRESS_RECOGNIZER = "address_block"
PLACE_RECOGNIZER = "personal_place"
_BLOCK_TYPES = frozenset({"STREET_ADDRESS", "LOCATION"})
# Findings that identify a person: a place next to one of these is that person's place.
PERSONAL_TYPES = frozenset(
    {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "DATE_OF_BIRTH", "IP_ADDRESS"}
)
# Between two parts of one address: separators and at most two short words ("Cite", "Apt 4").
_BLOCK_GAP = re.compile(r"[\s,;:>()#/-]*(?:[^\W_]{1,16}\.?[\s,;:>()#/-]+){0,2}")
_MAX_GAP = 28
# An intersection is written "the corner of A and B": the words before it are part of it.
_CORNER_BEFORE = re.compile(r"(?i)(?:\bthe (?:corner of )?|\bcorner of )$")
# In much of Europe the street name comes before the number ("Storgarden 52"), and postal lines
# often start with a number the detectors skip ("5551 Tjalling Harkeswei 125"): a block takes up
# to two words right before it on its line, capitalised words only before a number, numbers always.
_WORD_BEFORE = re.compile(r"([^\W_][\w'’.-]*)[ \t]+$")
_MAX_HOUSE_NUMBER = 6
# "864 Piazzetta Scalette Rubiani 104": a postcode and three street words before the number.
_MAX_WORDS_BEFORE = 4
# A finding less sure than this (the policy's floor for names) does not stop a block from
# growing over it ("28030 Edeby 55", where the model half-guessed "Edeby" as a surname).
_SURE = 0.6
# The town / region that follows a street in postal order on the same line, capitalised or in
# capitals ("Apt. 892 GUÉRET LI", "Suite 980 Reichenbach Rheinland-Pfalz"): one or two words.
_NEXT_WORD = re.compile(r"[ \t,]+([^\W\d_]+(?:-[^\W\d_]+)*)(?=[ \t,.;:!?)]|$)")
_MAX_TOWN_WORDS = 2
# A place's qualifier in brackets right after it belongs to it: "Cyprus (Greek)".
_QUALIFIER = re.compile(r"[ \t]*\([^\W\d_]{2,20}\)")
# The writer's own place: where they live, come from, were born, are moving to.
_FIRST_PERSON_PLACE = re.compile(
    r"(?i)\b(?:i|we)(?:'m| am| are|'re)? (?:\w+ ){0,2}?(?:live|living|lived|from|born|grew up|"
    r"moved|moving|relocat\w*|reside\w*|based|staying)\b[^.!?\n]{0,40}$"
    r"|\b(?:my|our) (?:home ?town|home|address|birthplace|place of birth|city|village)\b[^.!?\n]{0,30}$"
    # Where the writer is right now: "I'm in Hernani, at the conference".
    r"|\b(?:i'm|i am|we're|we are) (?:currently |now |still )?(?:in|at)\s+$"
    # Where someone else lives or comes from: "She moved here from Iceland", "my friend lives in
    # Harburg", "Mr. Kozlowski flew to Suurkula".
    r"|\b(?:he|she|they|my \w+|our \w+|his \w+|her \w+)(?:'s| is| was| has| had)? (?:\w+ ){0,2}?"
    r"(?:lives|lived|living|moved|moving|relocated|resides|resided|grew up|was born|flew|is from|"
    r"comes from|came from|is based)\b[^.!?\n]{0,30}$"
)


def _groups(findings: Sequence[Finding], text: str) -> Iterator[list[Finding]]:
    """Runs of address/place findings that overlap or follow each other across a short gap."""
    group: list[Finding] = []
    end = -1
    for finding in sorted((f for f in findings if f.entity_type in _BLOCK_TYPES), key=lambda f: f.start):
        if group and finding.start > end:
            gap_ok = (
                finding.start - end <= _MAX_GAP
                and _BLOCK_GAP.fullmatch(text, end, finding.start) is not None
                and not _prose(text[end : finding.start])
            )
            if not gap_ok:
                yield group
                group = []
        group.append(finding)
        end = max(end, finding.end) if len(group) > 1 else finding.end
    if group:
        yield group


def _after_names(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """An address that starts inside a name (a surname, then the street on the next line) starts
    after it: otherwise the longer address wins the overlap and the given name leaks."""
    names = [f for f in findings if f.entity_type == "PERSON"]
    trimmed = []
    for finding in findings:
        cut = max(
            (n.end for n in names if n.start < finding.start < n.end < finding.end),
            default=None,
        )
        if finding.entity_type == "STREET_ADDRESS" and cut is not None:
            rest = text[cut : finding.end]
            start = cut + len(rest) - len(rest.lstrip())
            finding = Finding("STREET_ADDRESS", start, finding.end, finding.score, finding.recognizer)
        trimmed.append(finding)
    return trimmed


def merge_address_blocks(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """The findings plus one STREET_ADDRESS per block of adjacent address and place parts, widened
    to an intersection's "the corner of" before it and a town / region in capitals after it."""
    findings = _after_names(text, findings)
    blocks = []
    for group in _groups(findings, text):
        if any(f.entity_type == "STREET_ADDRESS" for f in group):
            first, end = min(f.start for f in group), max(f.end for f in group)
            start = _street_name_before(text, first, findings)
            corner = _CORNER_BEFORE.search(text, max(0, start - 20), start)
            start = corner.start() if corner else start
            town = max(_town_after(text, end), _labelled_town_after(text, start, end))
            score = max(f.score for f in group if f.entity_type == "STREET_ADDRESS")
            start = _cross_street_before(text, start)
            town = _cross_street_after(text, start, town)
            if len(group) > 1 or start < first or town > end:
                blocks.append(Finding("STREET_ADDRESS", start, town, score, ADDRESS_RECOGNIZER))
    findings = [*findings, *blocks]
    known = {(f.start, f.end) for f in findings if f.entity_type == "STREET_ADDRESS"}
    return findings + [b for b in address_lines(text, findings) if (b.start, b.end) not in known]


# An intersection names two streets: "Leon and Eyrarodda 66", "the corner of Csabai kapu 39. and
# Mathias Pass". The other street's words belong to the block, or "and" and they stay in clear.
_CROSS_BEFORE = re.compile(r"([^\W\d_][\w'’-]*)[ \t]+and[ \t]+$")
_CROSS_AFTER = re.compile(r"\.?[ \t]+and[ \t]+((?:[^\W\d_][\w'’-]*[ \t]+){0,3}[^\W\d_][\w'’-]*)")


def _cross_street_before(text: str, start: int) -> int:
    """A capitalised word and "and" right before a block that starts with a street name."""
    if not text[start : start + 1].isalpha():
        return start
    cross = _CROSS_BEFORE.search(text, max(0, start - 40), start)
    return cross.start() if cross and cross.group(1)[0].isupper() else start


def _cross_street_after(text: str, start: int, end: int) -> int:
    """After "the corner of A": " and B" up to the end of the clause (at most four words)."""
    if not text[start : start + 14].lower().startswith(("the corner of", "corner of")):
        return end
    cross = _CROSS_AFTER.match(text, end)
    return cross.end() if cross else end


def _street_name_before(text: str, start: int, findings: Sequence[Finding]) -> int:
    starts_with_number = text[start : start + 1].isdigit()
    new_start = start
    for _ in range(_MAX_WORDS_BEFORE):
        word = _WORD_BEFORE.search(text, max(0, new_start - 30), new_start)
        if word is None:
            break
        value = word.group(1)
        number = value.isdigit() and len(value) <= _MAX_HOUSE_NUMBER
        if not (number or (starts_with_number and value[0].isupper())):
            break
        new_start = word.start()
    inside_other = any(
        f.entity_type not in _BLOCK_TYPES
        and f.score >= _SURE
        and not _short_number(text, f)
        and f.start < start
        and new_start < f.end
        for f in findings
    )
    return start if inside_other else new_start


# A "phone" or an ID of fewer digits than a phone number has, right before a street name, is
# the postcode or house number of the same line ("0138 Brisas 6802"): it does not stop the block.
_MIN_PHONE_DIGITS = 7


def _short_number(text: str, finding: Finding) -> bool:
    value = text[finding.start : finding.end]
    return value.isdigit() and len(value) < _MIN_PHONE_DIGITS


# After a labelled address ("his address: 36 rue de pologne, cite de l'interieur") the rest of
# the clause after a comma is its town, in whatever case it is written: up to four words.
_ADDRESS_LABEL = re.compile(r"(?i)\baddress(?:\s+is|\s*:)?\s*$")
_LOWER_TOWN = re.compile(r",[ \t]*((?:[^\W\d_][\w'’-]*)(?:[ \t]+[^\W\d_][\w'’-]*){0,3})[ \t]*(?=$|[.;!?\n])")


def _labelled_town_after(text: str, start: int, end: int) -> int:
    if _ADDRESS_LABEL.search(text, max(0, start - 20), start) is None:
        return end
    town = _LOWER_TOWN.match(text, end)
    return town.end(1) if town else end


def _town_after(text: str, end: int) -> int:
    for _ in range(_MAX_TOWN_WORDS):
        word = _NEXT_WORD.match(text, end)
        if word is None or not word.group(1)[0].isupper():
            break
        end = word.end()
    qualifier = _QUALIFIER.match(text, end)
    return qualifier.end() if qualifier else end


def personal_places(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """LOCATION becomes PERSONAL_LOCATION in a message that identifies a person, or where the
    writer says the place is theirs; country names NER missed are added first (`place_gazetteer`),
    and every place a cue makes someone's (`place_cues`: itineraries, origin, residence, venues)
    is added as PERSONAL_LOCATION, found by NER or not."""
    findings = [*findings, *find_countries(text, findings)]
    cued = cued_places(text, findings)
    cued_spans = {(f.start, f.end) for f in cued if f.entity_type == PERSONAL_LOCATION}
    personal = any(f.entity_type in PERSONAL_TYPES for f in findings)
    relabelled = []
    for finding in findings:
        cued_too = (finding.start, finding.end) in cued_spans
        if finding.entity_type == "LOCATION" and (personal or cued_too or _own_place(text, finding)):
            # The cue found the same place: one finding for it, as sure as the cue.
            cued_spans.discard((finding.start, finding.end))
            finding = _relabel(text, finding, CUE_SCORE if cued_too else 0.0)
            cued_spans.discard((finding.start, finding.end))
        relabelled.append(finding)
    others = [f for f in cued if f.entity_type != PERSONAL_LOCATION]
    places = relabelled + others + [f for f in cued if (f.start, f.end) in cued_spans]
    return places + card_town_lines(text, places) if personal else places


def _own_place(text: str, finding: Finding) -> bool:
    """The writer's place, unless they only ask what one does ("How do I get from the airport to
    the centre in Prague?" tells nothing about them)."""
    match = _FIRST_PERSON_PLACE.search(text, max(0, finding.start - 80), finding.start)
    return (
        match is not None and _ASKING_BEFORE.search(text, max(0, match.start() - 16), match.start()) is None
    )


_ASKING_BEFORE = re.compile(r"(?i)\b(?:can|could|should|do|does|did|must|may|might|would|need)\s+$")


def _relabel(text: str, finding: Finding, min_score: float = 0.0) -> Finding:
    """The place, with its bracketed qualifier ("Cyprus (Greek)"), as PERSONAL_LOCATION."""
    qualifier = _QUALIFIER.match(text, finding.end)
    end = qualifier.end() if qualifier else finding.end
    score = max(finding.score, min_score)
    return Finding(PERSONAL_LOCATION, finding.start, end, score, finding.recognizer)


# ---- Postal blocks laid out over lines (contact cards, letters) ---------------------------------
# A line that holds an address part and little else is all address ("??? 4923 Parmova 109"), and
# short lines between two such lines ("ΑΓΙΟΣ ∆ΟΜΕΤΙΟΣ", "Serradarce") are its town and region.
_LINE_DECORATION = re.compile(r"[^\w\n(]*")
_MAX_LINE_TOKENS = 10
_MAX_LINES_BETWEEN = 2
# English function words mark a sentence, not a postal line ("the", "in", "and", "please").
_SENTENCE_WORDS = frozenset(
    re.findall(
        r"\w+",
        "a about after all also am an and any are as at be been but by can could did do for from had has "
        "have he her here him his how i if in into is it its me my no not of on or our please she so than "
        "that the their them then there they this to us was we were what when where which who will with "
        "would you your",
    )
)


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each line's content, without its decoration and trailing blanks."""
    offset = 0
    for line in text.split("\n"):
        lead = _LINE_DECORATION.match(line)
        start = offset + (lead.end() if lead else 0)
        end = offset + len(line.rstrip(" \t.;?!"))
        yield start, max(start, end)
        offset += len(line) + 1


def _prose(text: str) -> bool:
    """Words of a sentence or a label ("his address:", "lives on"), not of a postal line."""
    tokens = text.replace(",", " ").split()
    # In capitals a function word is a region code: ", ON", "IN 46201", "ME 04101".
    words = [t for t in tokens if not t.isupper()]
    return any(t.casefold().strip(".()") in _SENTENCE_WORDS for t in words) or any(
        t.endswith(":") or "@" in t for t in tokens
    )


def _postal_line(text: str, start: int, end: int) -> bool:
    tokens = text[start:end].replace(",", " ").split()
    return 0 < len(tokens) <= _MAX_LINE_TOKENS and not _prose(text[start:end])


def address_lines(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """One STREET_ADDRESS over consecutive lines that hold address parts, with the short lines
    between them; a line of prose contributes only from its address part to its end."""
    if "\n" not in text:
        return []
    names = [f for f in findings if f.entity_type == "PERSON" and f.score >= _SURE]
    # A phone line ends a postal block ("(37) 788-063-Office"), whatever its digits look like.
    phones = [f for f in findings if f.entity_type == "PHONE_NUMBER" and f.score >= _SURE]
    # An address part inside a name is the model misreading the name ("Erlendur G." as a street).
    parts = [
        f
        for f in findings
        if f.entity_type == "STREET_ADDRESS"
        and f.score >= _SURE
        and not any(n.start <= f.start and f.end <= n.end for n in names)
    ]
    blocks: list[Finding] = []
    run: list[tuple[int, int]] = []
    pending: list[tuple[int, int]] = []
    for start, end in _lines(text):
        if start == end:
            continue
        on_line = [f for f in parts if f.start < end and start < f.end]
        postal = _postal_line(text, start, end) and not any(p.start < end and start < p.end for p in phones)
        if on_line and (postal or max(f.end for f in on_line) >= end):
            first = min(f.start for f in on_line)
            # A name before the address on its line stays a name ("Mrs. Ana Silva Apt. 6 ...").
            after_name = max((n.end for n in names if start <= n.start and n.end <= first), default=start)
            piece = (after_name if postal else first, end)
            run, pending = [*run, *pending, piece] if run else [piece], []
            continue
        if run and postal and len(pending) < _MAX_LINES_BETWEEN:
            pending.append((start, end))
            continue
        blocks += _line_block(run, parts)
        run, pending = [], []
    return blocks + _line_block(run, parts)


def _line_block(run: Sequence[tuple[int, int]], parts: Sequence[Finding]) -> list[Finding]:
    if not run:
        return []
    start, end = run[0][0], run[-1][1]
    inside = [f.score for f in parts if start <= f.start and f.end <= end]
    if not inside:
        return []
    return [Finding("STREET_ADDRESS", start, end, max(inside), ADDRESS_RECOGNIZER)]


# ---- A contact card's town line ------------------------------------------------------------------
# "Agatha Ottarsdóttir\n\nEBEN\nAustria": in a card about a person, a short line of place-shaped words
# right above a line that is a personal place (the country) is its town or region, known or not.
_MAX_CARD_LINE_WORDS = 3
_MAX_CARD_LINES = 2


def card_town_lines(text: str, findings: Sequence[Finding]) -> list[Finding]:
    """PERSONAL_LOCATION for up to two short place-shaped lines right above a whole-line personal
    place (blank lines between do not count), stopping at a name or any other finding."""
    if "\n" not in text:
        return []
    lines = [(start, end) for start, end in _lines(text) if start < end]
    places = SpanIndex(f for f in findings if f.entity_type == PERSONAL_LOCATION)
    taken = SpanIndex(findings)
    found: list[Finding] = []
    for index, (start, end) in enumerate(lines):
        if not places.covers(start, end):
            continue
        for above_start, above_end in reversed(lines[max(0, index - _MAX_CARD_LINES) : index]):
            words = text[above_start:above_end].split()
            if (
                taken.overlaps(above_start, above_end)
                or len(words) > _MAX_CARD_LINE_WORDS
                or not all(place_word(w) for w in words)
            ):
                break
            found.append(Finding(PERSONAL_LOCATION, above_start, above_end, CUE_SCORE, "card_town_line"))
    return found
