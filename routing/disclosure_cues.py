"""Surface cues that say whether a message *can* disclose something about a person.

The contextual classifier and the topic phrases read words; words about passwords or credit
reports appear as often in questions *about* them ("How do I reset my password?") as in
disclosures. These cues are general rules of English, written from the form of a sentence and
never from any data set, that gate when a word-level signal may count on its own:

- a message with no content word ("ok", "and the other one?") cannot disclose anything;
- a question or how-to request counts only with a disclosure cue (a person *stated* to have,
  be or do something: "my password is", "I take", "she has");
- a statement about a form, policy, template or sample that mentions no individual is about the
  document, not a person;
- topic phrases count alone only when the message is about someone (a person word).

They only ever decide that a *classifier-only* or *phrase-only* signal is not enough. They must
never lower a tier that a value, an entity or a topic pattern decided.
"""

from __future__ import annotations

import re

# Words that carry no content of their own: function words, conversational filler and words that
# point back at an earlier turn. A message made only of these refers to, but says, nothing.
_FILLER = frozenset(
    re.split(
        r"\s+",
        """
    a an the and or but so then now also too again more less some any all other another one ones two
    it its it's this that that's these those them they there here what what's which who how why when
    where is are was were be been am do does did done can could would should will shall may might
    to of in on at for with by from as about into up down out over back
    ok okay k kk yes yeah yep no nope sure fine good great perfect nice cool thanks thank thx ty you
    please pls hi hello hey bye goodbye cheers right sorry well hmm oh ah wait go same next last
    previous first second third above below earlier before after instead just only even still very
    much many lot bit little let's lets me i we us our your my
    """.strip(),
    )
)
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# A question or how-to request, after an optional short greeting ("Hi team, ...", "Quick q: ...").
_QUESTION_OR_HOWTO = re.compile(
    r"^\W*(?P<lead>[\w'-]+(?:\s+[\w'-]+){0,3}\s*[,:;!-]+\s*)?"
    r"(?:how|what|what's|whats|where|why|which|when|who|whom|whose|can|could|is|are|does|do|did|"
    r"should|will|would|may|must|shall|has|have|was|were|am|"
    r"explain|describe|define|tell\s+me|show\s+me|walk\s+me\s+through|remind\s+me|"
    r"i(?:\s+want|\s+would\s+like|'d\s+like|\s+need)\s+to\s+(?:know|understand|learn)|"
    r"i\s+wonder|i'm\s+wondering|im\s+wondering|any\s+idea|is\s+there|are\s+there)\b",
    re.IGNORECASE,
)

# A task request about a given text ("Translate this phrase", "Rewrite this more politely", "Draft
# a reply"): an imperative asks for work, it states nothing about anyone by itself.
_REQUEST = re.compile(
    r"^\W*(?P<lead>[\w'-]+(?:\s+[\w'-]+){0,3}\s*[,:;!-]+\s*)?(?:please\s+|pls\s+|kindly\s+)?"
    r"(?:translate|rewrite|reword|rephrase|paraphrase|draft|write|compose|summari[sz]e|proofread|"
    r"edit|fix|correct|check|double-check|recheck|review|improve|polish|shorten|simplify|format|"
    r"convert|make|turn|give\s+me|help\s+me|list|compare|suggest|create|generate|tidy|clean\s+up|"
    r"change|add|remove|expand|reply|respond|answer|calculate|count|sort|extract|outline|"
    r"brainstorm|recommend|find|look\s+up|spell|redo|prepare|produce|explain|"
    r"describe|define|show|tell|walk|remind|let's|lets)\b",
    re.IGNORECASE,
)

# A complaint or correction that carries no value: "That's wrong, check the numbers again", "I
# forgot my password again". Self-service trouble with a login is a help request, not a disclosure.
_CORRECTION = re.compile(
    r"^\W*(?:(?:no|nope|hmm|um|wait|sorry|ugh|still)\W+)*"
    r"(?:that|this|it|these|those|the\s+\w+|you)(?:'s|'re|\s+is|\s+was|\s+are|\s+were|\s+got)\s+"
    r"(?:still\s+|not\s+|all\s+|completely\s+|totally\s+|a\s+bit\s+)*"
    r"(?:wrong|incorrect|off|broken|right|correct|accurate|it|what\s+i\s+(?:asked|meant|wanted)|"
    r"a\s+mistake|mistaken|confused|mixed\s+up)\b",
    re.IGNORECASE,
)
_LOGIN_TROUBLE = re.compile(
    r"^\W*(?:(?:ugh|argh|sorry|help|so|hi|hey|hello|again)\W+)*"
    r"(?:i|i've|ive|i\s+have|i'm|im|i\s+am)\s+(?:just\s+|accidentally\s+|completely\s+)?"
    r"(?:forgot|forgotten|forget|can't\s+remember|cannot\s+remember|don't\s+remember|lost|"
    r"need\s+to\s+reset|have\s+to\s+reset|locked\s+out\s+of|got\s+locked\s+out\s+of|"
    r"been\s+locked\s+out\s+of|can't\s+(?:log|sign)\s+(?:in|into|on)(?:\s+to)?|"
    r"cannot\s+(?:log|sign)\s+(?:in|into|on)(?:\s+to)?|mistyped|keep\s+mistyping)\s+"
    r"(?:my\s+|the\s+|our\s+)?(?:\w+\s+)?"
    r"(?:password|passcode|passphrase|pin|login|log-in|username|user\s+name|2fa|mfa|"
    r"authenticator|account|sign-in)s?\b",
    re.IGNORECASE,
)
# A first-person possession or relation ("my payslip", "her diagnosis"): a request about it is
# about a person. "our" is left out: it is usually the organisation speaking.
_POSSESSION = re.compile(r"\b(?:my|his|her|their|mom's|mum's|dad's|mine|hers|theirs)\b", re.IGNORECASE)
# An auxiliary before its subject ("do I use", "should we keep") is a question, not a statement:
# "which form do I use" says nothing about the asker.
_INVERTED = re.compile(
    r"\b(do|does|did|don't|doesn't|should|shall|can|could|would|will|may|might|must|have|has|"
    r"had|am|are|is|was|were)\s+(?:i|we|he|she|they)\b",
    re.IGNORECASE,
)

# A person *stated* to have, be or do something: the shape of a disclosure, not of a question.
_DISCLOSURE = re.compile(
    r"\b(?:my|his|her|their|our|mom's|mum's|dad's)\s+(?:[\w'-]+\s+){0,3}?"
    r"(?:is|isn't|was|wasn't|are|were|has|had|have|keeps|got|gets|says|said|shows|showed|came|"
    r"expired|changed|uses|contains|includes|matches|ends|starts|'s|threatens|threatened|told|tells|"
    r"wants|needs|knows|asked|found|sent|gave|shared|posted|leaked|saw|sees|thinks)\b"
    r"|\b(?:it's|it\s+is|that's|that\s+is|it\s+was|that\s+was)\s+(?:my|his|her|their|our)\b"
    r"|\b(?:my|his|her|their|our)\s[^.?!]{0,40}?\b(?:it|which|that)\s+(?:got|was|is|has|had|keeps)\b"
    r"|\b(?:i'm|im|i\s+am|i've|ive|i\s+have|i\s+had|i\s+was|i\s+take|i\s+took|i\s+use|i\s+used|"
    r"i\s+got|i\s+owe|i\s+earn|i\s+make|i\s+live|i\s+lost|i\s+suffer|i\s+carry|i\s+still|"
    r"i\s+told|i\s+gave|i\s+shared|i\s+sent|i\s+posted|i\s+leaked|i\s+wrote|i\s+put|i\s+reused|"
    r"he|she|he's|she's|hes|shes|we're|we've|we\s+have|we\s+had)\b",
    re.IGNORECASE,
)

# Someone the message could be about: a first- or third-person word.
_PERSON = re.compile(
    r"\b(?:i|me|my|mine|myself|i'm|im|i've|ive|i'd|we|our|ours|us|we're|we've|"
    r"he|him|his|she|her|hers|he's|she's|they're|their|theirs)\b",
    re.IGNORECASE,
)


def content_words(text: str) -> list[str]:
    """The words of `text` that are not filler (lower case)."""
    return [word for word in _WORD.findall(text.lower()) if word not in _FILLER]


def is_contentless(text: str) -> bool:
    """A message with no content word ("ok", "thanks!", "and the other one?") discloses nothing."""
    return not content_words(text)


def is_question_or_howto(text: str) -> bool:
    """A question or how-to request; a lead-in that names someone ("my diary, can you ...") is
    not a greeting, so the sentence is not read as a question. A sentence ending in a question
    mark that names no one and has no digit ("Zoom approved by IT?") is a question too, verb or
    not."""
    found = _QUESTION_OR_HOWTO.match(text)
    if found is None:
        # A digit may be part of a value ("use Dragon2013? to log in"), so not a plain question.
        return text.rstrip().endswith("?") and not names_someone(text) and not _DIGIT.search(text)
    lead = found.group("lead")
    return not (lead and names_someone(lead))


def is_task_request(text: str) -> bool:
    """An imperative asking for work on a given text ("Rewrite this more politely") that mentions
    no one's possession; "Summarise my disciplinary meeting" is about a person, so it is not one."""
    found = _REQUEST.match(text)
    if found is None or _POSSESSION.search(text):
        return False
    lead = found.group("lead") or ""
    # Only a greeting may come first ("Hi team, rewrite ..."); "driver licence D97..., please add
    # it" opens with content, so it is not a bare request.
    return not any(word not in _GREETING for word in content_words(lead))


_GREETING = frozenset(
    [
        "team",
        "all",
        "folks",
        "everyone",
        "everybody",
        "guys",
        "quick",
        "question",
        "q",
        "request",
        "favour",
        "favor",
        "thing",
        "morning",
        "afternoon",
        "evening",
        "bother",
    ]
)


def is_complaint_or_correction(text: str) -> bool:
    """ "That's wrong, check again", "I forgot my password again": help with no value in it."""
    return bool(_CORRECTION.match(text) or _LOGIN_TROUBLE.match(text))


def asks_without_stating(text: str) -> bool:
    """A question, how-to, task request, complaint or correction: a sentence that asks for help."""
    return is_question_or_howto(text) or is_task_request(text) or is_complaint_or_correction(text)


def has_disclosure_cue(text: str) -> bool:
    """A person stated to have, be or do something ("my PIN is", "I take", "she has"); a pronoun
    after an auxiliary ("do I use") is a question's subject, not a statement."""
    return bool(_DISCLOSURE.search(_INVERTED.sub(r"\1 one", text)))


def names_someone(text: str) -> bool:
    return bool(_PERSON.search(text))


# About a document or a system rather than a person: "The HR form asks for a passport number".
_DOCUMENT = re.compile(
    r"\b(?:forms?|policy|policies|template|sample|example|placeholder|docs|documentation|fields?|"
    r"notice|guide|guidance|manual|faq|wiki|handbook|portal|config|slide|register|scheme|terms|"
    r"training|checklist|article|demo|sandbox|test\s+data)\b",
    re.IGNORECASE,
)
# A person other than the organisation ("our privacy notice" is the company speaking).
_INDIVIDUAL = re.compile(
    r"\b(?:i|me|my|mine|myself|i'm|im|i've|ive|i'd|he|him|his|she|her|hers|he's|she's|"
    r"they're|their|theirs)\b",
    re.IGNORECASE,
)


def is_about_documents(text: str) -> bool:
    """A statement about a form, policy, template or sample that mentions no individual."""
    return bool(_DOCUMENT.search(text)) and not _INDIVIDUAL.search(text)


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def why_classifier_alone_cannot_flag(text: str) -> str | None:
    """Why a classifier verdict on `text` must not count on its own, or None when it may.

    Every sentence is looked at: "Can you tidy this up? my password is my cat's name" asks, then
    discloses, so the classifier may flag it; "How long is a PIN? Thanks!" only asks.
    """
    if is_contentless(text):
        return "no content word"
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s]
    asks = [asks_without_stating(s) for s in sentences]
    # The other sentences are greetings and asides ("no rush", "(for the wiki)") unless they
    # name someone; a disclosure cue anywhere lets the classifier speak ("I'm locked out of my
    # account" is login trouble, not a statement, so that phrase is not searched for one).
    if (
        any(asks)
        and not any(has_disclosure_cue(_LOGIN_TROUBLE.sub("", s)) for s in sentences)
        and not any(names_someone(s) for s, asked in zip(sentences, asks, strict=True) if not asked)
    ):
        return "questions, requests or corrections with no disclosure cue"
    if is_about_documents(text):
        return "about a document or policy, naming no individual"
    return None
