"""Vault consistency, stream restoration at every split point, and request pseudonymization."""

from __future__ import annotations

import pickle
import threading

import pytest

from models.base import ChatMessage, ChatRequest
from routing.gate import PiiSpan
from routing.pseudonymize import pseudonymize_request
from routing.restore import StreamRestorer, restore_text
from routing.vault import PseudonymVault


def test_same_value_same_placeholder_across_spellings() -> None:
    vault = PseudonymVault()
    first = vault.placeholder_for("PERSON", "John Smith")
    assert first == "<PERSON_1>"
    assert vault.placeholder_for("PERSON", "john  smith") == first
    assert vault.placeholder_for("PERSON", "Jane Doe") == "<PERSON_2>"
    assert vault.placeholder_for("US_SSN", "078 05 1120") == vault.placeholder_for("US_SSN", "078-05-1120")
    assert vault.original(first) == "John Smith"
    assert "John" not in repr(vault)
    with pytest.raises(TypeError):
        pickle.dumps(vault)


def test_vault_is_consistent_under_threads() -> None:
    vault = PseudonymVault()
    names = [f"Person Number{i}" for i in range(50)]
    seen: list[dict[str, str]] = []

    def work() -> None:
        seen.append({name: vault.placeholder_for("PERSON", name) for name in names})

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(mapping == seen[0] for mapping in seen)
    assert sorted(seen[0].values()) == sorted(f"<PERSON_{i}>" for i in range(1, 51))


@pytest.fixture
def vault() -> PseudonymVault:
    vault = PseudonymVault()
    vault.placeholder_for("PERSON", "John Smith")
    vault.placeholder_for("US_SSN", "078-05-1120")
    for index in range(11):
        vault.placeholder_for("EMAIL_ADDRESS", f"user{index}@example.com")
    return vault


ANSWER = "Hi <PERSON_1>, mail <EMAIL_ADDRESS_11> or <EMAIL_ADDRESS_1>; SSN <US_SSN_1>. Bye <UNKNOWN_3>."


def test_restorer_handles_every_split_point(vault: PseudonymVault) -> None:
    expected = restore_text(ANSWER, vault)
    assert expected == (
        "Hi John Smith, mail user10@example.com or user0@example.com; SSN 078-05-1120. Bye <UNKNOWN_3>."
    )
    for i in range(len(ANSWER) + 1):
        for j in range(i, len(ANSWER) + 1):
            restorer = StreamRestorer(vault)
            out = restorer.feed(ANSWER[:i]) + restorer.feed(ANSWER[i:j]) + restorer.feed(ANSWER[j:])
            assert out + restorer.flush() == expected, (i, j)


def test_restorer_holds_back_only_a_possible_placeholder(vault: PseudonymVault) -> None:
    restorer = StreamRestorer(vault)
    assert restorer.feed("Hello there <PER") == "Hello there "
    assert restorer.feed("SON_1>!") == "John Smith!"
    assert restorer.feed("a < b and c") == "a < b and c"


@pytest.mark.parametrize("mangled", ["<PERSON_1 >", "< PERSON_1>", "<person_1>", "PERSON_1", "[PERSON_1]"])
def test_restorer_tolerates_mangled_placeholders(vault: PseudonymVault, mangled: str) -> None:
    restorer = StreamRestorer(vault)
    assert restorer.feed(f"Dear {mangled}, ok") + restorer.flush() == "Dear John Smith, ok"


def _detect(text: str) -> list[PiiSpan]:
    spans = []
    for value, kind in (("John Smith", "PERSON"), ("jsmith@example.com", "EMAIL_ADDRESS")):
        start = text.find(value)
        if start >= 0:
            spans.append(PiiSpan(kind, start, start + len(value), 0.9, "test", value))
    return spans


def test_pseudonymize_request_covers_every_role(vault: PseudonymVault) -> None:
    request = ChatRequest.of(
        [
            ChatMessage(role="system", content="You help John Smith's team."),
            ChatMessage(role="user", content="Context: jsmith@example.com wrote the memo."),
            ChatMessage(role="assistant", content="Noted, JOHN SMITH."),  # detection misses this spelling
            ChatMessage(role="user", content="Draft a reply to John Smith at jsmith@example.com"),
        ]
    )
    clean, report = pseudonymize_request(request, _detect, vault)
    sent = "\n".join(message.content for message in clean.messages)
    assert "John" not in sent and "JOHN" not in sent and "jsmith" not in sent
    assert clean.messages[0].content == "You help <PERSON_1>'s team."
    assert clean.messages[2].content == "Noted, <PERSON_1>."
    assert report.replaced == {"PERSON": 3, "EMAIL_ADDRESS": 2}
    assert report.by_role["system"] == {"PERSON": 1}
    assert "John" not in report.model_dump_json()


def test_values_from_earlier_turns_are_replaced_even_when_not_detected(vault: PseudonymVault) -> None:
    request = ChatRequest.of([ChatMessage(role="user", content="Remind john smith about 078-05-1120")])
    clean, _ = pseudonymize_request(request, lambda _text: [], vault)
    assert clean.messages[0].content == "Remind <PERSON_1> about <US_SSN_1>"
