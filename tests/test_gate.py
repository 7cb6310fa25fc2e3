"""The sensitivity gate with real Presidio and spaCy: acceptance cases, attacks, fail-closed, taint."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from click.testing import CliRunner

from routing.gate import GateDecision, GateError, SensitivityGate, build_gate
from routing.policy import default_policy_text, load_policy
from routing.recognizers import Finding
from routing.settings import RoutingSettings
from routing.tiers import Route, Tier


@pytest.fixture(scope="module")
def gate() -> SensitivityGate:
    return build_gate(RoutingSettings())


def test_ssn_078_is_regulated_and_routed_locally(gate: SensitivityGate) -> None:
    decision = gate.classify("My SSN is 078-05-1120")
    assert decision.tier is Tier.REGULATED
    assert decision.route is Route.LOCAL
    assert decision.rule == "entity:US_SSN"
    assert "US_SSN" in decision.reasons[0]


def test_plain_question_is_public(gate: SensitivityGate) -> None:
    decision = gate.classify("What is the capital of France?")
    assert decision.tier is Tier.PUBLIC
    assert decision.route is Route.HOSTED
    assert decision.rule == "default"


def test_a_name_is_internal_and_pseudonymized(gate: SensitivityGate) -> None:
    decision = gate.classify("Please ask John Smith to review the quarterly report.")
    assert decision.tier is Tier.INTERNAL
    assert decision.route is Route.HOSTED_PSEUDONYMIZED
    assert [span.value for span in gate.find_pii("Please ask John Smith to review the report.")] == [
        "John Smith"
    ]


def test_decision_never_carries_values(gate: SensitivityGate) -> None:
    decision = gate.classify("Email john.smith@example.com, SSN 078-05-1120, card 4111 1111 1111 1111")
    dumped = decision.model_dump_json()
    for value in ("john.smith@example.com", "078-05-1120", "4111"):
        assert value not in dumped
    assert decision.entity_counts()["US_SSN"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "My SSN is 0\u200b78-05-11\u200c20",  # zero-width characters inside
        "My SSN is ０７８－０５－１１２０",  # fullwidth digits and hyphen
        "my ssn: " + base64.b64encode(b"078-05-1120").decode(),
        "ssn hex " + b"078-05-1120".hex(),
        "ssn %30%37%38%2D%30%35%2D%31%31%32%30",
        "S S N: 0 7 8 0 5 1 1 2 0",
        "social security number 078 05 1120",
        "SSN O78-O5-112O",
        "report_078-05-1120.pdf attached",
        "раsswоrd: Hunter22",  # Cyrillic look-alikes in the context word
    ],
)
def test_obfuscated_and_encoded_identifiers_stay_regulated(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is Tier.REGULATED


def test_spans_map_back_to_the_original_text(gate: SensitivityGate) -> None:
    text = "SSN 0\u200b78-05-1120 and again " + base64.b64encode(b"078-05-1120").decode()
    spans = [span for span in gate.detect(text).spans if span.type == "US_SSN"]
    values = sorted(span.value for span in spans)
    assert values == sorted(["0\u200b78-05-1120", base64.b64encode(b"078-05-1120").decode()])


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("My colleague was diagnosed with diabetes last month", "topic:health"),
        ("Her salary is $95,000 per year", "topic:compensation"),
        ("He received a written warning for misconduct", "topic:hr_case"),
        ("Summarize my bank statement for March", "topic:financial_account"),
        ("We were served a subpoena yesterday", "topic:legal"),
    ],
)
def test_contextual_regulated_topics(gate: SensitivityGate, text: str, rule: str) -> None:
    decision = gate.classify(text)
    assert decision.tier is Tier.REGULATED
    assert rule in decision.rule or any(rule in reason for reason in decision.reasons)


@pytest.mark.parametrize("text", ["What is cancer?", "What is a typical salary for a data engineer?"])
def test_general_questions_about_topics_stay_public(gate: SensitivityGate, text: str) -> None:
    assert gate.classify(text).tier is Tier.PUBLIC


class _Raising:
    def find(self, text: str) -> list[Finding]:
        raise RuntimeError(f"boom on {text}")


class _Slow:
    def find(self, text: str) -> list[Finding]:
        time.sleep(1.0)
        return []


def test_fail_closed_on_a_raising_analyzer() -> None:
    gate = SensitivityGate(load_policy(), _Raising())
    decision = gate.classify("What is the capital of France?")
    assert decision.tier is Tier.REGULATED and decision.failed_closed
    assert decision.rule == "fail_closed" and "RuntimeError" in decision.reasons[0]
    assert "France" not in decision.model_dump_json()
    with pytest.raises(GateError):
        gate.find_pii("anything")


def test_fail_closed_on_timeout() -> None:
    gate = SensitivityGate(load_policy(), _Slow(), timeout_s=0.05)
    decision = gate.classify("hello")
    assert decision.tier is Tier.REGULATED and decision.failed_closed
    assert "timed out" in decision.reasons[0]


def test_taint_highest_tier_wins_and_reasons_are_kept(gate: SensitivityGate) -> None:
    prior = gate.classify("My SSN is 078-05-1120")
    turn = gate.classify_turn("Thanks, what is the capital of France?", prior=prior)
    assert turn.tier is Tier.REGULATED and turn.route is Route.LOCAL
    attached = gate.classify_turn(
        "Summarize the file", context={"file:notes.txt": "Call Jane Doe at 415-555-0100"}
    )
    assert attached.tier is Tier.INTERNAL
    assert any(reason.startswith("[file:notes.txt]") for reason in attached.reasons)


def test_concurrent_classification_is_consistent(gate: SensitivityGate) -> None:
    texts = ["My SSN is 078-05-1120", "What is the capital of France?", "Ask John Smith"] * 4
    results: dict[int, GateDecision] = {}

    def run(index: int) -> None:
        results[index] = gate.classify(texts[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i].tier for i in range(len(texts))] == [gate.classify(t).tier for t in texts]


def test_custom_recognizer_from_policy_file(tmp_path, gate: SensitivityGate) -> None:
    policy_file = tmp_path / "policy.toml"
    text = (
        default_policy_text()
        + '\n[[custom_recognizers]]\nname = "codename"\nentity = "PROJECT_CODENAME"\ntier = "regulated"\n'
        'deny_list = ["Nightjar"]\n'
    )
    policy_file.write_text(text)
    custom = build_gate(RoutingSettings(policy_path=policy_file))
    decision = custom.classify("What is the status of nightjar?")
    assert decision.tier is Tier.REGULATED and decision.rule == "entity:PROJECT_CODENAME"
    assert custom.classify("Employee EMP-123456 asked").tier is Tier.INTERNAL


def test_cli_classify_json() -> None:
    from routing.cli import classify_command

    result = CliRunner().invoke(classify_command, ["My SSN is 078-05-1120", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tier"] == "regulated"
    result = CliRunner().invoke(classify_command, ["What is the capital of France?"])
    assert result.exit_code == 0 and result.output.startswith("tier: public")


def test_eval_on_shared_small_set_leaks_no_regulated_value(gate: SensitivityGate, shared_eval) -> None:
    from routing.pii_eval import evaluate, format_report, load_records

    records = load_records(shared_eval / "pii" / "presidio_research")[-100:]  # generated_small.json
    report = evaluate(gate, records)
    assert report.sentences == 100
    assert report.regulated_leaked_sentences == 0
    for name in ("US_SSN", "CREDIT_CARD"):
        assert report.scores[name].recall >= 0.99
    assert "PERSON" in format_report(report)


class _Scripted:
    """A contextual scorer that says the same thing about every text and counts its calls."""

    def __init__(self, category: str, score: float) -> None:
        self.verdict = (category, score)
        self.calls = 0

    def best(self, text: str) -> tuple[str, float]:
        self.calls += 1
        return self.verdict


def _contextual_gate(scorer: _Scripted, **rule: object) -> SensitivityGate:
    policy = load_policy()
    contextual = policy.contextual.model_copy(update=rule)
    updated = policy.model_copy(update={"contextual": contextual})
    return SensitivityGate(updated, None, contextual=scorer, timeout_s=60)


def test_contextual_verdict_raises_a_public_message_to_its_category_tier() -> None:
    scorer = _Scripted("health", 0.97)
    gate = _contextual_gate(scorer, threshold=0.9)
    try:
        decision = gate.classify("the thing I take every morning for the sugar")
    finally:
        gate.close()
    assert (decision.tier, decision.route, decision.rule) == (
        Tier.REGULATED,
        Route.LOCAL,
        "contextual:health",
    )
    assert decision.reasons == (
        "implied health information, classifier 0.97 → regulated by rule contextual:health",
    )
    assert decision.contextual is not None and decision.contextual.score == 0.97


def test_contextual_below_threshold_or_disabled_changes_nothing() -> None:
    for scorer, rule in (
        (_Scripted("health", 0.5), {"threshold": 0.9}),
        (_Scripted("health", 0.99), {"enabled": False}),
    ):
        gate = _contextual_gate(scorer, **rule)
        try:
            decision = gate.classify("What is the capital of France?")
        finally:
            gate.close()
        assert decision.tier is Tier.PUBLIC and decision.contextual is None and decision.rule == "default"


def test_contextual_runs_only_on_public_messages_unless_told_otherwise() -> None:
    scorer = _Scripted("contact", 0.99)
    gate = _contextual_gate(scorer)
    try:
        decision = gate.classify("My SSN is 078-05-1120")
    finally:
        gate.close()
    assert scorer.calls == 0 and decision.rule == "entity:US_SSN"
    everywhere = _contextual_gate(scorer, run_on="all")
    try:
        decision = everywhere.classify("My SSN is 078-05-1120")
    finally:
        everywhere.close()
    # It ran, and a lower tier verdict is kept as a reason without changing the deciding rule.
    assert scorer.calls == 1 and decision.rule == "entity:US_SSN" and decision.tier is Tier.REGULATED
    assert decision.reasons[-1].startswith("implied contact information, classifier 0.99")
