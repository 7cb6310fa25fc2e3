"""Presidio, fully offline: the spaCy model from an installed package, pinned by sha256.

`AnalyzerEngine()` with defaults wants `en_core_web_lg` and downloads it when missing; its e-mail
recognizer asks tldextract, which fetches the public suffix list on first use. Here the spaCy model
is loaded from the files of an installed distribution (verified against a pinned hash, parser
excluded because no recognizer reads it), tldextract reads only its bundled snapshot, and the
registry holds just the recognizers we want. Beside it, `PresidioDetector` runs the Rampart token
classifier (`routing.token_ner`) on a second thread, for names, street addresses and places that
spaCy's small model misses. Nothing in this module may open a network connection; heavy imports
happen on first use, never at import of `routing`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from models.files import locate_package_file, verify_file
from routing.name_slots import slot_names
from routing.names import NameToken, context_names, default_gazetteer, find_names
from routing.recognizers import Finding
from routing.settings import DEFAULT_SPACY_PINNED_FILE as DEFAULT_PINNED_FILE
from routing.settings import RoutingSettings
from routing.token_ner import TokenNer

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine
    from spacy.language import Language
    from spacy.tokens import Doc

# Entities asked of Presidio; the regulated identifiers come from `routing.recognizers`.
PRESIDIO_ENTITIES = ("PERSON", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "US_MBI")
# spaCy labels we never want back (dates, amounts, organisations: not personal data by themselves).
_IGNORED_LABELS = (
    "CARDINAL", "DATE", "TIME", "EVENT", "LANGUAGE", "LAW", "MONEY", "NORP", "ORDINAL", "ORG",
    "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART",
)  # fmt: skip
# Pipeline components we do not read. Presidio reads lemmas only to boost scores by context words,
# which our own context rules do; the name finder reads the tagger's fine tags, not `pos_` (which the
# attribute ruler maps from them), so the attribute ruler and lemmatizer are skipped (~10% of spaCy).
_EXCLUDED_COMPONENTS = ("parser", "senter", "attribute_ruler", "lemmatizer")
# Penn Treebank tags of proper nouns, as `NameToken.pos` expects them.
_PROPN_TAGS = {"NNP": "PROPN", "NNPS": "PROPN"}


def load_spacy_pipeline(settings: RoutingSettings) -> Language:
    """The spaCy pipeline from the installed model package, after checking its pinned file."""
    import spacy

    config = locate_package_file(settings.spacy_package, f"{settings.spacy_model_dir}/config.cfg")
    model_dir = config.parent
    verify_file(
        model_dir / settings.spacy_pinned_file,
        settings.spacy_sha256,
        allow_unpinned=settings.allow_unpinned_spacy,
    )
    # A path (not a package name) means spaCy never considers downloading anything.
    return spacy.load(model_dir, exclude=list(_EXCLUDED_COMPONENTS))


# Every component but the NER, which in spaCy's md model has its own token-to-vector layer.
_VOTER_EXCLUDED = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
PERSON_VOTER = "SpacyPersonVoter"
# Presidio's score for a spaCy entity, so a voter's name weighs like the main model's.
_SPACY_SCORE = 0.85


def load_person_voter(settings: RoutingSettings) -> Language | None:
    """The second spaCy model's NER alone (verified like the first), or None when none is set."""
    if settings.person_voter_package is None:
        return None
    import spacy

    model_dir = settings.person_voter_model_dir
    config = locate_package_file(settings.person_voter_package, f"{model_dir}/config.cfg")
    verify_file(config.parent / DEFAULT_PINNED_FILE, settings.person_voter_sha256)
    return spacy.load(config.parent, exclude=list(_VOTER_EXCLUDED))


def voter_names(nlp: Language, text: str, doc: Doc | None = None) -> list[Finding]:
    """The PERSON spans of the voter's NER (its other labels are not read); `doc` is the voter's
    reading of `text` when it read a batch (`nlp.pipe`)."""
    return [
        Finding("PERSON", ent.start_char, _trim_person("PERSON", text, ent.start_char, ent.end_char),
                _SPACY_SCORE, PERSON_VOTER)
        for ent in (doc if doc is not None else nlp(text)).ents
        if ent.label_ == "PERSON"
    ]  # fmt: skip


def _offline_email_recognizer() -> Any:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's e-mail recognizer, validating domains against the bundled suffix snapshot."""

        # No suffix-list URLs and no cache: tldextract uses the snapshot shipped in its package.
        _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

        def validate_result(self, pattern_text: str) -> bool:
            return bool(self._extract(pattern_text).fqdn)

    return OfflineEmailRecognizer()


# python-phonenumbers scans the whole text once per region (~1.5 ms each on 300 characters), and
# `routing.recognizers` already finds phone shapes and phone context (on the shared eval set the
# phonenumbers scan added no recall at all): two regions for national formats; "+..." numbers are
# found whatever the region.
PHONE_REGIONS = ("US", "GB")
# Fewer digits than this cannot be a phone number: skip the (slow) phonenumbers scan.
_MIN_PHONE_DIGITS = 7


def _phone_recognizer() -> Any:
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class DigitGatedPhoneRecognizer(PhoneRecognizer):
        """Presidio's phone recognizer, skipped on texts with too few digits to hold a number."""

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            if sum(char.isdigit() for char in text) < _MIN_PHONE_DIGITS:
                return []
            return super().analyze(text, entities, nlp_artifacts)

    return DigitGatedPhoneRecognizer(supported_regions=PHONE_REGIONS, name="PhoneRecognizer")


def _gazetteer_name_recognizer() -> Any:
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class GazetteerNameRecognizer(EntityRecognizer):
        """Person names from the census gazetteer and capitalisation, over the same spaCy doc."""

        def load(self) -> None:
            """The gazetteer is already loaded."""

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            doc = getattr(nlp_artifacts, "tokens", None)
            if doc is None or "PERSON" not in entities:
                return []
            # Read per call (it is cached): an evaluation may stand another gazetteer in for it.
            gazetteer = default_gazetteer()
            tokens = [
                NameToken(t.text, t.idx, t.idx + len(t.text), _PROPN_TAGS.get(t.tag_, ""), t.ent_type_)
                for t in doc
                if not t.is_space
            ]
            return [
                RecognizerResult(
                    "PERSON", f.start, f.end, f.score, recognition_metadata={"recognizer_name": f.recognizer}
                )
                for f in find_names(text, tokens, gazetteer)
                + context_names(text, gazetteer)
                + slot_names(text, gazetteer)
            ]

    return GazetteerNameRecognizer(supported_entities=["PERSON"], name="GazetteerNameRecognizer")


def build_analyzer(nlp: Language) -> AnalyzerEngine:
    """A Presidio `AnalyzerEngine` over an already loaded spaCy pipeline, with our recognizers only."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import IpRecognizer, SpacyRecognizer, UsMbiRecognizer

    class PreloadedSpacyNlpEngine(SpacyNlpEngine):
        """Presidio's spaCy engine over a pipeline we loaded and verified ourselves."""

        def __init__(self) -> None:
            config = NerModelConfiguration(labels_to_ignore=list(_IGNORED_LABELS))
            super().__init__(
                models=[{"lang_code": "en", "model_name": "preloaded"}], ner_model_configuration=config
            )
            self.nlp = {"en": nlp}  # type: ignore[assignment]

        def load(self) -> None:
            """Already loaded from a verified local path: never download."""

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (
        SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
        _offline_email_recognizer(),
        _phone_recognizer(),
        IpRecognizer(),
        UsMbiRecognizer(),
        _gazetteer_name_recognizer(),
    ):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(registry=registry, nlp_engine=PreloadedSpacyNlpEngine(), supported_languages=["en"])


# Texts per slice of `PresidioDetector.find_many`: about 8 x 25 ms of each model on a quiet machine,
# so locks and side threads are free again soon; spaCy's pipe already saves most of its CPU at 8.
_BATCH_SLICE = 8


class PresidioDetector:
    """The shared Presidio analyzer plus the token classifier and, when set, a second spaCy model
    voting on names: loaded once (lazily or by `load()`).

    spaCy runs under a lock; the token classifier and the voter run beside it on their own threads
    (onnxruntime and much of thinc release the GIL), so a message costs less than their sum.
    """

    def __init__(self, settings: RoutingSettings | None = None) -> None:
        self._settings = settings or RoutingSettings()
        self._engine: AnalyzerEngine | None = None
        self._load_lock = threading.Lock()
        # spaCy pipelines are not documented as thread-safe; one analysis at a time.
        self._analyze_lock = threading.Lock()
        self._token_ner = TokenNer(self._settings) if self._settings.token_ner_enabled else None
        self._side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="token-ner")
        self._voter: Language | None = None
        self._voter_lock = threading.Lock()

    @property
    def engine(self) -> AnalyzerEngine:
        if self._engine is None:
            with self._load_lock:
                if self._engine is None:
                    self._voter = load_person_voter(self._settings)
                    self._engine = build_analyzer(load_spacy_pipeline(self._settings))
        return self._engine

    def load(self) -> PresidioDetector:
        """Load spaCy and warm up lazy parts (tldextract's snapshot, phonenumbers' metadata)."""
        if self._token_ner is not None:
            self._token_ner.load()
        self.find("Warm-up: write to Jane Doe at jane.doe@example.com or call +1 415 555 0100.")
        return self

    def find(self, text: str) -> list[Finding]:
        side = [self._side.submit(self._token_ner.find, text)] if self._token_ner is not None else []
        if self._loaded_voter() is not None:
            side.append(self._side.submit(self._voted, text))
        findings = self._presidio_findings(text)
        # An error in the classifier or the voter propagates: the gate then fails closed.
        return findings + [finding for future in side for finding in future.result()]

    def _loaded_voter(self) -> Language | None:
        _ = self.engine  # loading the engine loads the voter
        return self._voter

    def _voted(self, text: str) -> list[Finding]:
        """The voter's names (none without a voter), one text at a time."""
        if self._voter is None:
            return []
        with self._voter_lock:
            return voter_names(self._voter, text)

    def find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """`find` of each text (a document's chunks), a slice of texts at a time: the token
        classifier reads a slice in padded batches, and both spaCy models through `nlp.pipe`; the
        same findings as one by one. A chat message's `find` meanwhile waits for one slice at most
        (the spaCy lock, the side threads), never for a whole document."""
        batch = list(texts)
        found: list[list[Finding]] = []
        for start in range(0, len(batch), _BATCH_SLICE):
            found += self._find_slice(batch[start : start + _BATCH_SLICE])
        return found

    def _find_slice(self, texts: list[str]) -> list[list[Finding]]:
        none: list[list[Finding]] = [[] for _ in texts]
        token_ner = self._token_ner
        tagged = self._side.submit(token_ner.find_many, texts) if token_ner is not None else None
        voted = self._side.submit(self._voted_many, texts) if self._loaded_voter() is not None else None
        findings = self._presidio_many(texts)
        # In `find`'s order (spaCy, the classifier, the voter): of two equal spans the first is kept.
        extras = tagged.result() if tagged else none
        names = voted.result() if voted else none
        return [a + b + c for a, b, c in zip(findings, extras, names, strict=True)]

    def _voted_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        voter = self._voter
        assert voter is not None  # asked only when the engine loaded one
        with self._voter_lock:
            docs = list(voter.pipe(texts, batch_size=32))
        return [voter_names(voter, text, doc) for text, doc in zip(texts, docs, strict=True)]

    def _presidio_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """`_presidio_findings` of each text, with spaCy reading them all through `nlp.pipe`: the same
        docs as one by one (tests/test_gate_batch.py), for about a quarter less CPU."""
        engine = self.engine
        with self._analyze_lock:
            docs = [found for _, found in engine.nlp_engine.process_batch(list(texts), "en", batch_size=32)]
        return [self._presidio_findings(text, doc) for text, doc in zip(texts, docs, strict=True)]

    def _presidio_findings(self, text: str, nlp_artifacts: Any = None) -> list[Finding]:
        engine = self.engine
        with self._analyze_lock:
            results = engine.analyze(
                text=text, language="en", entities=list(PRESIDIO_ENTITIES), score_threshold=0.3,
                nlp_artifacts=nlp_artifacts,
            )  # fmt: skip
        return [
            Finding(
                result.entity_type,
                result.start,
                _trim_person(result.entity_type, text, result.start, result.end),
                float(result.score),
                str((result.recognition_metadata or {}).get("recognizer_name", "presidio")),
            )
            for result in results
        ]


def _trim_person(entity_type: str, text: str, start: int, end: int) -> int:
    """spaCy's PERSON can run past a line break ("Abby Laidlaw\nAddress") or swallow a possessive
    ("Bryan Maclean's"): neither is part of the name."""
    if entity_type != "PERSON":
        return end
    newline = text.find("\n", start, end)
    if newline > start:
        end = newline
    if end - start > 3 and text[end - 2 : end] in ("'s", "’s"):
        return end - 2
    return end
