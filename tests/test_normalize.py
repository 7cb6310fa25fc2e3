"""Normalization undoes obfuscation and keeps a map back to the original text."""

from __future__ import annotations

import base64

import pytest

from routing.normalize import normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0\u200b78-05-11\u2060\u200d20", "078-05-1120"),
        ("０７８－０５－１１２０", "078-05-1120"),
        ("078–05—1120", "078-05-1120"),
        ("0 7 8 - 0 5 - 1 1 2 0", "078-05-1120"),
        ("4 1 1 1 . 1 1 1 1", "41111111"),
        ("O78-O5-112O", "078-05-1120"),
        ("٠٧٨-٠٥-١١٢٠", "078-05-1120"),
        ("Јоhn", "John"),
        ("SSN\U000e0041\U000e0042", "SSN"),
    ],
)
def test_canonical_forms(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_real_cyrillic_words_are_left_alone() -> None:
    assert normalize("Привет, как дела").text == "Привет, как дела"


def test_plain_text_and_numbers_pass_unchanged() -> None:
    for text in ("What is the capital of France?", "card 4454794511390933 please", "internationalization"):
        assert normalize(text).text == text


@pytest.mark.parametrize(
    "encoded",
    [
        base64.b64encode(b"078-05-1120").decode(),
        base64.urlsafe_b64encode(b"My SSN: 078-05-1120").decode().rstrip("="),
        b"078-05-1120".hex(),
        "".join(f"\\x{byte:02x}" for byte in b"078-05-1120"),
        "%30%37%38-%30%35-%31%31%32%30",
        base64.b64encode(base64.b64encode(b"078-05-1120")).decode(),
    ],
)
def test_encoded_segments_are_decoded_next_to_the_segment(encoded: str) -> None:
    text = f"see {encoded} ok"
    mapped = normalize(text)
    assert "078-05-1120" in mapped.text
    index = mapped.text.index("078-05-1120")
    start, end = mapped.to_original(index, index + 11)
    assert text[start:end] == encoded


def test_offsets_map_through_removed_and_folded_characters() -> None:
    text = "SSN: ０7\u200b8-05-1120!"
    mapped = normalize(text)
    index = mapped.text.index("078")
    start, end = mapped.to_original(index, index + 11)
    assert text[start:end] == "０7\u200b8-05-1120"
    with pytest.raises(ValueError):
        mapped.to_original(3, 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my P I N is 4 7 1 9", "my PIN is 4719"),
        ("p.a.s.s.w.o.r.d: x", "password: x"),
        ("S-S-N please", "SSN please"),
        ("P - I - N: 4 4 1 9", "PIN: 4419"),
        ("S. S. N. 078 05 1120", "SSN. 078 05 1120"),
        ("pin four seven one nine", "pin 4719"),
        ("code oh two, double five, triple nine", "code 0255999"),
        ("Nine-eight-seven", "987"),
        ("one of the two reasons", "one of the two reasons"),
        ("I have one, two or three", "I have one, two or three"),
        ("e.g. an example", "e.g. an example"),
    ],
)
def test_spelled_out_letters_and_digit_words(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_spelled_out_forms_map_back_exactly() -> None:
    text = "my P I N is four seven one nine"
    mapped = normalize(text)
    pin = mapped.text.index("PIN")
    assert text.__getitem__(slice(*mapped.to_original(pin, pin + 3))) == "P I N"
    digits = mapped.text.index("4719")
    assert text.__getitem__(slice(*mapped.to_original(digits, digits + 4))) == "four seven one nine"
    assert text.__getitem__(slice(*mapped.to_original(digits + 1, digits + 2))) == "seven"
