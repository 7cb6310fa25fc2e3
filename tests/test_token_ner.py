"""The Rampart token classifier: decoding and label merging (pure), then the real model on fixed
sentences (ONNX inference is deterministic), long texts in windows, pins and lazy loading."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from models.files import ModelFileError
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.token_ner import (
    RawSpan,
    TokenNer,
    decode_bio,
    defer_to_rules,
    plan_windows,
    to_findings,
    union_overlapping,
)


def _found(ner: TokenNer, text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in ner.find(text)]


def test_bio_decoding_joins_pieces_and_continuations() -> None:
    text = "to margaret thornbury now"
    offsets = [(0, 2), (3, 11), (12, 17), (17, 21), (22, 25)]
    labels = ["O", "B-GIVEN_NAME", "B-SURNAME", "I-SURNAME", "O"]
    spans = decode_bio(labels, [1.0, 0.9, 0.8, 0.6, 1.0], offsets, [0, 1, 2, 2, 3], text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [
        ("GIVEN_NAME", "margaret"),
        ("SURNAME", "thornbury"),
    ]
    assert spans[1].score == pytest.approx(0.7)


def test_an_orphan_inside_tag_starts_a_span() -> None:
    spans = decode_bio(["O", "I-CITY"], [1.0, 0.9], [(0, 2), (3, 9)], [0, 1], "in Lisbon")
    assert [(s.kind, s.start, s.end) for s in spans] == [("CITY", 3, 9)]


def test_name_parts_merge_into_one_person_and_address_parts_into_one_block() -> None:
    text = "Ana Lopez, 12 Elm St, Apt 4, Springfield, IL 62704. Lives in Boston."
    spans = [
        RawSpan("GIVEN_NAME", 0, 3, 0.9),
        RawSpan("SURNAME", 4, 9, 0.9),
        RawSpan("BUILDING_NUMBER", 11, 13, 0.9),
        RawSpan("STREET_NAME", 14, 20, 0.9),
        RawSpan("SECONDARY_ADDRESS", 22, 27, 0.9),
        RawSpan("CITY", 29, 40, 0.9),
        RawSpan("STATE", 42, 44, 0.9),
        RawSpan("ZIP_CODE", 45, 50, 0.9),
        RawSpan("CITY", 61, 67, 0.9),
    ]
    found = [(f.entity_type, text[f.start : f.end]) for f in to_findings(spans, text)]
    assert found == [
        ("PERSON", "Ana Lopez"),
        ("STREET_ADDRESS", "12 Elm St, Apt 4, Springfield, IL 62704"),
        ("LOCATION", "Boston"),
    ]


def test_id_labels_map_to_our_types() -> None:
    text = "id 123 acct 456 route 789 tax 111 pp 222 dl 333"
    kinds = ["GOVERNMENT_ID", "BANK_ACCOUNT", "ROUTING_NUMBER", "TAX_ID", "PASSPORT", "DRIVERS_LICENSE"]
    spans = [RawSpan(kind, text.index(num), text.index(num) + 3, 0.9) for kind, num in
             zip(kinds, ["123", "456", "789", "111", "222", "333"], strict=True)]  # fmt: skip
    assert [f.entity_type for f in to_findings(spans, text)] == [
        "NATIONAL_ID", "BANK_ACCOUNT", "ABA_ROUTING_NUMBER", "US_ITIN", "PASSPORT", "DRIVER_LICENSE",
    ]  # fmt: skip


def test_a_rule_that_typed_a_value_wins_over_the_models_id_label() -> None:
    iban = Finding("IBAN_CODE", 10, 32, 1.0, "iban")
    guessed = Finding("DRIVER_LICENSE", 12, 30, 0.9, "rampart")
    alone = Finding("PASSPORT", 40, 48, 0.9, "rampart")
    name = Finding("PERSON", 0, 8, 0.9, "rampart")
    assert defer_to_rules([iban, guessed, alone, name]) == [iban, alone, name]


def test_windows_cover_everything_and_overlap() -> None:
    assert plan_windows(10, 256, 32) == [(0, 10)]
    windows = plan_windows(600, 256, 32)
    assert windows == [(0, 256), (224, 480), (448, 600)]
    assert plan_windows(100, 48, 16)[-1][1] == 100
    halves = [RawSpan("STREET_NAME", 10, 20, 0.8), RawSpan("STREET_NAME", 15, 30, 0.9)]
    assert [(s.start, s.end) for s in union_overlapping(halves)] == [(10, 30)]


@pytest.fixture(scope="module")
def ner() -> TokenNer:
    return TokenNer().load()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Write a greeting for Margaret Thornbury at 12 Elm Street, Springfield.",
            [("PERSON", "Margaret Thornbury"), ("STREET_ADDRESS", "12 Elm Street, Springfield")],
        ),
        (
            "my name is priya ramanathan and i need a new badge",
            [("PERSON", "priya ramanathan")],
        ),
        (
            "Olusegun Adeyemi moved to Lagos last year.",
            [("PERSON", "Olusegun Adeyemi"), ("LOCATION", "Lagos")],
        ),
    ],
)
def test_real_model_finds_clear_names_and_addresses(
    ner: TokenNer, text: str, expected: list[tuple[str, str]]
) -> None:
    assert _found(ner, text) == expected


def test_real_model_leaves_a_plain_question_alone(ner: TokenNer) -> None:
    assert ner.find("How many vacation days do new employees get each year?") == []


def test_real_model_reads_long_texts_in_windows(ner: TokenNer) -> None:
    filler = "The quarterly planning meeting covered budgets, hiring plans and the office move. " * 30
    text = filler + "Please send the minutes to Ahmed Khan, 44 Harbour Road, Leith."
    assert len(text) > 2000  # several windows of the default size
    expected = [("PERSON", "Ahmed Khan"), ("STREET_ADDRESS", "44 Harbour Road, Leith")]
    assert _found(ner, text) == expected
    # A name cut by a window boundary is still read whole, from the overlapping window.
    small = TokenNer(RoutingSettings(token_ner_window_tokens=48, token_ner_overlap=16))
    assert _found(small, text) == expected


def test_loading_is_lazy() -> None:
    fresh = TokenNer()
    assert not fresh.loaded
    fresh.find("Hello Margaret")
    assert fresh.loaded


def test_a_file_that_does_not_match_its_pin_is_refused() -> None:
    good = RoutingSettings()
    with pytest.raises(ModelFileError) as refused:
        TokenNer(good.model_copy(update={"token_ner_onnx_sha256": "0" * 64})).load()
    message = str(refused.value)
    assert "does not match its pinned sha256" in message and "\n" not in message


def test_an_unpinned_file_is_refused_unless_allowed() -> None:
    unpinned = RoutingSettings(token_ner_tokenizer_sha256=None)
    with pytest.raises(ModelFileError, match="no pinned sha256"):
        TokenNer(unpinned).load()
    assert TokenNer(unpinned.model_copy(update={"allow_unpinned_token_ner": True})).load().loaded


def test_a_missing_package_is_a_one_line_error() -> None:
    with pytest.raises(ModelFileError, match="not installed"):
        TokenNer(RoutingSettings(token_ner_package="no-such-model-package")).load()


def test_one_instance_serves_several_threads_alike(ner: TokenNer) -> None:
    texts = [
        "Write a greeting for Margaret Thornbury at 12 Elm Street, Springfield.",
        "my name is priya ramanathan and i need a new badge",
        "Olusegun Adeyemi moved to Lagos last year.",
        "How many vacation days do new employees get each year?",
    ] * 4
    serial = [ner.find(text) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(ner.find, texts)) == serial


def test_phone_tagged_in_its_last_group_covers_the_whole_number() -> None:
    from routing.token_ner import RawSpan, to_findings

    text = "no message on my registered 668 5702. Could you look?"
    start = text.index("5702")
    (finding,) = to_findings([RawSpan("PHONE", start, start + 4, 0.9)], text)
    assert (finding.entity_type, text[finding.start : finding.end]) == ("PHONE_NUMBER", "668 5702")


def test_phone_inside_a_long_digit_run_is_not_widened() -> None:
    from routing.token_ner import RawSpan, to_findings

    text = "serial " + "1 2 3 4 5 6 7 8 9 " * 4 + "end"
    start = text.index("5 6 7 8 9 1 2", 30)
    (finding,) = to_findings([RawSpan("PHONE", start, start + 13, 0.9)], text)
    assert text[finding.start : finding.end] == "5 6 7 8 9 1 2"


def test_a_learned_name_or_place_inside_a_typed_value_is_a_piece_of_it() -> None:
    # "2001:db8::10": the model reads "2001" as a house number, spaCy "db8::10" as a place.
    ip = Finding("IP_ADDRESS", 10, 22, 0.95, "IpRecognizer")
    house = Finding("STREET_ADDRESS", 10, 14, 0.8, "rampart")
    place = Finding("LOCATION", 15, 22, 0.85, "SpacyRecognizer")
    assert defer_to_rules([ip, house, place]) == [ip]


def test_names_and_places_outside_or_beside_a_typed_value_stay() -> None:
    ip = Finding("IP_ADDRESS", 10, 22, 0.95, "IpRecognizer")
    unsure = Finding("POSTAL_CODE", 40, 60, 0.55, "postal_code")  # may fall below its floor
    name_after = Finding("PERSON", 23, 30, 0.9, "rampart")
    overlapping = Finding("PERSON", 20, 26, 0.9, "SpacyRecognizer")  # crosses the value's end
    same_span = Finding("LOCATION", 10, 22, 0.85, "SpacyRecognizer")
    in_unsure = Finding("STREET_ADDRESS", 42, 50, 0.8, "rampart")
    by_rule = Finding("PERSON", 12, 16, 0.75, "name_context")  # a rule's name is not the model's guess
    findings = [ip, unsure, name_after, overlapping, same_span, in_unsure, by_rule]
    assert defer_to_rules(findings) == findings


def test_a_name_inside_a_value_that_may_hold_a_name_stays() -> None:
    # "mother's maiden name is Kowalska": the name must stay a PERSON to seed its other mentions.
    answer = Finding("SECURITY_ANSWER", 0, 40, 0.9, "security_answer")
    email = Finding("EMAIL_ADDRESS", 50, 75, 1.0, "EmailRecognizer")
    maiden = Finding("PERSON", 31, 39, 0.9, "SpacyRecognizer")
    in_email = Finding("PERSON", 50, 62, 0.8, "rampart")
    findings = [answer, email, maiden, in_email]
    assert defer_to_rules(findings) == findings
