"""Address blocks laid out over lines, intersections and bracketed qualifiers (issue 12).

Unit tests drive `routing.places.merge_address_blocks` with hand-made findings: what the
detectors report in pieces must come out as one STREET_ADDRESS block covering every piece.
"""

from __future__ import annotations

from routing.places import merge_address_blocks
from routing.recognizers import Finding


def _at(text: str, value: str, entity: str = "STREET_ADDRESS", score: float = 0.9) -> Finding:
    start = text.index(value)
    return Finding(entity, start, start + len(value), score, "test")


def _blocks(text: str, findings: list[Finding]) -> list[str]:
    return [
        text[f.start : f.end] for f in merge_address_blocks(text, findings) if f.recognizer == "address_block"
    ]


def test_card_lines_join_into_one_block_with_short_lines_between() -> None:
    text = "Dyan van Gijn\n\n864 Piazzetta Scalette Rubiani 104\n Apt. 905\n Serradarce\n\n Italy 75263"
    findings = [
        _at(text, "Dyan van Gijn", "PERSON"),
        _at(text, "864"),
        _at(text, "104\n Apt. 905"),
        _at(text, "75263"),
    ]
    assert "864 Piazzetta Scalette Rubiani 104\n Apt. 905\n Serradarce\n\n Italy 75263" in _blocks(
        text, findings
    )


def test_name_line_above_the_address_stays_out_of_the_block() -> None:
    text = "Dyan van Gijn\n864 Via Roma 104\nItaly 75263"
    findings = [_at(text, "Dyan van Gijn", "PERSON"), _at(text, "864 Via Roma 104"), _at(text, "75263")]
    assert all(not block.startswith("Dyan") for block in _blocks(text, findings))


def test_name_before_the_address_on_its_line_stays_a_name() -> None:
    text = "Mrs. Ana Silva Apt. 675 Mellemvej 32\nAalborg 9000"
    findings = [_at(text, "Ana Silva", "PERSON"), _at(text, "Apt. 675 Mellemvej 32"), _at(text, "9000")]
    assert "Apt. 675 Mellemvej 32\nAalborg 9000" in _blocks(text, findings)


def test_a_line_of_prose_contributes_only_its_address_part() -> None:
    text = "It's in Λεωφόρος Συγγρού 119\n Apt. 658\n ΑΓΙΟΣ ∆ΟΜΕΤΙΟΣ\n Cyprus 25572"
    findings = [_at(text, "Λεωφόρος Συγγρού 119\n Apt. 658"), _at(text, "25572")]
    assert "Λεωφόρος Συγγρού 119\n Apt. 658\n ΑΓΙΟΣ ∆ΟΜΕΤΙΟΣ\n Cyprus 25572" in _blocks(text, findings)


def test_phone_line_ends_the_block() -> None:
    text = "233 Erzsébet tér 19.\nHungary 34796\n(37) 788-063-Office"
    findings = [_at(text, "233 Erzsébet tér 19."), _at(text, "34796"), _at(text, "788-063", "PHONE_NUMBER")]
    assert all("Office" not in block for block in _blocks(text, findings))


def test_region_code_in_capitals_is_not_prose() -> None:
    text = "590 Edington Drive\nToronto\n, ON\n Canada 27539"
    findings = [_at(text, "590 Edington Drive"), _at(text, "Canada 27539")]
    assert text in _blocks(text, findings)


def test_lines_of_a_letter_are_not_an_address() -> None:
    text = "Please send it to 12 Main Street\nand call me when it is there"
    assert all("call" not in block for block in _blocks(text, [_at(text, "12 Main Street")]))


def test_cross_street_before_a_street_name() -> None:
    text = "Please return to Leon and Eyrarodda 66 in case of an issue."
    assert "Leon and Eyrarodda 66" in _blocks(text, [_at(text, "Eyrarodda 66")])


def test_cross_street_after_the_corner_of() -> None:
    text = "the same: the corner of Csabai kapu 39. and Mathias Pass"
    assert "the corner of Csabai kapu 39. and Mathias Pass" in _blocks(text, [_at(text, "Csabai kapu 39")])


def test_and_between_a_number_first_address_and_a_word_is_not_joined() -> None:
    text = "Ana and 12 Main Street"
    assert all("Ana" not in block for block in _blocks(text, [_at(text, "12 Main Street")]))


def test_bracketed_qualifier_after_a_country() -> None:
    text = "The letter arrived at 654 Rua Ana 1159, Cyprus (Greek) last night."
    assert "654 Rua Ana 1159, Cyprus (Greek)" in _blocks(
        text, [_at(text, "654 Rua Ana 1159"), _at(text, "Cyprus", "LOCATION")]
    )


def test_unsure_finding_does_not_stop_the_street_name_before_a_number() -> None:
    text = "28030 Edeby 55\n Apt. 297"
    findings = [_at(text, "Edeby", "PERSON", 0.38), _at(text, "55\n Apt. 297")]
    assert any(block.startswith("28030 Edeby 55") for block in _blocks(text, findings))


def test_label_between_a_place_and_an_address_keeps_them_apart() -> None:
    text = "Hakuba had given Hakuba his address: 0304 Rua Cidade 468"
    findings = [_at(text, "Hakuba his", "LOCATION"), _at(text, "0304 Rua Cidade 468")]
    findings[0] = Finding("LOCATION", 17, 23, 0.85, "test")
    assert all("his" not in block for block in _blocks(text, findings))


def test_short_number_read_as_a_phone_does_not_stop_the_street_name() -> None:
    text = "0138 Brisas 6802\n Suite 084"
    findings = [_at(text, "0138", "PHONE_NUMBER", 0.65), _at(text, "6802\n Suite 084")]
    assert any(block.startswith("0138 Brisas 6802") for block in _blocks(text, findings))
