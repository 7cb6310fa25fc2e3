"""The calculator: exact answers to arithmetic as people write it, clean refusals for the rest.

The property test builds random expression trees from a fixed seed and compares the
calculator's answer with the same tree computed directly with `Fraction`, so it checks the
parser and evaluator against an independent reference, not against themselves.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from assistant.tools.base import ToolContext
from assistant.tools.builtin_calculator import (
    CalculationError,
    CalculatorArguments,
    CalculatorTool,
    evaluate,
    format_number,
)
from knowledge.access import Principal

CONTEXT = ToolContext(principal=Principal(user_id="alice"))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("17.5 % of 2,380", "416.5"),
        ("What is 17.5% of 2,380?", None),  # words are not arithmetic: refused, below
        ("(3 + 4) * 2", "14"),
        ("0.1 + 0.2", "0.3"),
        ("1/3", "0.333333333333"),
        ("2^10", "1024"),
        ("2 ** -2", "0.25"),
        ("1,234,567 * 2", "2469134"),
        ("20% - 5", "-4.8"),
        ("15 %", "0.15"),
        ("7 % 3", "1"),
        ("10 mod 3", "1"),
        ("3 × 4 ÷ 2 =", "6"),
        ("−5 + 2", "-3"),
        ("sqrt(16)", "4"),
        ("round(2.675, 2)", "2.68"),
        ("max(1, 2, 3) - min(4, 5)", "-1"),
        ("abs(-3.5)", "3.5"),
        ("floor(7 / 2) + ceil(7 / 2)", "7"),
        ("2 * pi", "6.28318530718"),
        ("1e3 + 1", "1001"),
        ("-(-(-1))", "-1"),
        ("(" * 150 + "1" + ")" * 150, "1"),  # parentheses alone nest nothing
        ("12.50 * 4", "50"),
    ],
)
def test_expressions(expression: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(CalculationError):
            evaluate(expression)
    else:
        assert format_number(evaluate(expression)) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("__import__('os').system('true')", "only sqrt"),
        ("().__class__.__bases__[0].__subclasses__()", "only sqrt"),
        ("open('/etc/passwd')", "only sqrt"),
        ("x + 1", "unknown name"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("1j * 2", "only numbers"),
        ("[1, 2]", "not allowed"),
        ("lambda: 1", "not allowed"),
        ("1 if 1 else 2", "not allowed"),
        ("(1).real", "not allowed"),
        ("1 < 2", "not allowed"),
        ("1 << 10", "not allowed"),
        ("9 ** 9999", "too large"),
        ("(9 ** 999) ** 999", "too large"),
        ("2 ** 2 ** 2 ** 2 ** 2", "too large"),
        ("10 ** 0.5 ** -1000", "too large"),
        ("(-8) ** 0.5", "not a real number"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("sqrt(-1)", "sqrt"),
        ("log(0)", "log"),
        ("exp(1000)", "exp"),
        ("max()", "max"),
        ("round(x=1)", "only sqrt"),
        ("", "empty"),
        ("1 +", "not an arithmetic expression"),
        ("(1 + " * 60 + "1" + ")" * 60, "nested"),
        ("-" * 45 + "1", "nested"),
        ("1+" * 150 + "1", "more than"),
        ("1" * 501, "longer than"),
        ("1e400", "too large"),
        ("2 ** 3000 * 2 ** 3000", "too large"),
    ],
)
def test_hostile_or_impossible_inputs_are_refused_cleanly(expression: str, reason: str) -> None:
    with pytest.raises(CalculationError, match=reason):
        evaluate(expression)


def _random_tree(rng: random.Random, depth: int) -> tuple[str, Fraction]:
    """A random expression and its value computed independently with Fraction."""
    if depth == 0 or rng.random() < 0.25:
        whole, cents = rng.randint(0, 999), rng.choice([None, rng.randint(0, 99)])
        text = f"{whole}" if cents is None else f"{whole}.{cents:02d}"
        return text, Fraction(text)
    left_text, left = _random_tree(rng, depth - 1)
    right_text, right = _random_tree(rng, depth - 1)
    op = rng.choice("+-*/")
    if op == "/" and right == 0:
        op = "+"
    value = {"+": left + right, "-": left - right, "*": left * right, "/": left / right if right else 0}[op]
    return f"({left_text} {op} {right_text})", value


def test_random_expressions_match_an_independent_fraction_reference() -> None:
    rng = random.Random(20261129)
    for _ in range(400):
        text, expected = _random_tree(rng, depth=4)
        assert evaluate(text) == expected, text


def test_percent_forms_match_their_definition() -> None:
    rng = random.Random(7)
    for _ in range(200):
        rate, base = Fraction(rng.randint(0, 10_000), 100), rng.randint(1, 5_000_000)
        rate_text = format_number(rate)
        base_text = f"{base:,}"
        assert evaluate(f"{rate_text} % of {base_text}") == rate * base / 100
        assert evaluate(f"{rate_text}% of {base_text}") == rate * base / 100


async def test_the_tool_answers_and_refuses_as_tool_results() -> None:
    tool = CalculatorTool()
    assert tool.spec.name == "calculator" and not tool.spec.side_effects
    assert tool.spec.destination == "local"
    result = await tool.run(CalculatorArguments(expression="17.5 % of 2,380"), CONTEXT)
    assert result.content == "416.5" and not result.is_error
    refused = await tool.run(CalculatorArguments(expression="__import__('os')"), CONTEXT)
    assert refused.is_error and refused.content.startswith("cannot calculate this")
