"""The `calculator` tool: arithmetic the way people write it, evaluated safely and exactly.

Small models are bad at arithmetic and good at calling a calculator. The expression is parsed
with `ast` and walked node by node against a whitelist: numbers, + - * / // % **, parentheses,
a few math functions and constants. It must never call `eval`, look up a name outside the
whitelist, or let an input spend unbounded time or memory: the text length, the number of nodes,
the nesting depth, the size of every intermediate number and every power are bounded, and a
breach is a clean `CalculationError`, never a hang or a traceback.

Decimals are exact (`Fraction`), so "17.5 % of 2,380" is 416.5, not 416.49999999999994.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assistant.tools.base import ToolContext, ToolResult, ToolSpec
from routing.tiers import Tier

MAX_CHARS = 500
MAX_NODES = 200
MAX_DEPTH = 40
# About 1,200 decimal digits: far beyond any real calculation, far below a slow one.
MAX_BITS = 4000

Number = Fraction | float


class CalculationError(ValueError):
    """The expression is not arithmetic we evaluate, or it is too big; the message says which."""


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "abs": abs, "round": round, "min": min, "max": max, "log": math.log,
    "log10": math.log10, "exp": math.exp, "sin": math.sin, "cos": math.cos, "tan": math.tan,
    "floor": math.floor, "ceil": math.ceil,
}  # fmt: skip
_CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e}

# Written forms people use, rewritten to Python's operators before parsing.
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_PERCENT_OF = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%\s*of\b", re.IGNORECASE)
# A % with no operand after it is a percentage ("20% - 5", "15 %"); otherwise it is modulo.
_PERCENT = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*%(?=\s*(?:$|[-+*/)^,]))")
_SYMBOLS = {"×": "*", "÷": "/", "−": "-", "^": "**"}


def normalise(expression: str) -> str:
    """Thousands separators, percentages and typographic operators in Python's spelling."""
    text = expression.strip().rstrip("=?").strip()
    for symbol, python in _SYMBOLS.items():
        text = text.replace(symbol, python)
    text = re.sub(r"\bmod\b", "%", text, flags=re.IGNORECASE)
    text = _THOUSANDS.sub("", text)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    return _PERCENT.sub(r"(\1/100)", text)


def evaluate(expression: str) -> Number:
    """The value of an arithmetic expression, or a `CalculationError` saying why not."""
    if len(expression) > MAX_CHARS:
        raise CalculationError(f"the expression is longer than {MAX_CHARS} characters")
    text = normalise(expression)
    if not text:
        raise CalculationError("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise CalculationError("this is not an arithmetic expression") from None
    except (RecursionError, MemoryError):
        raise CalculationError("the expression is nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculationError(f"the expression has more than {MAX_NODES} parts")
    return _Evaluator().value(tree.body, 0)


def format_number(value: Number) -> str:
    """Integers exactly; other values to 12 significant digits, without float noise."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return str(value.numerator)
    text = format(float(value), ".12g")
    return text if "e" in text or "." not in text else text.rstrip("0").rstrip(".")


class _Evaluator:
    """One walk over a parsed expression; every node kind not listed here is refused."""

    def value(self, node: ast.expr, depth: int) -> Number:
        if depth > MAX_DEPTH:
            raise CalculationError("the expression is nested too deeply")
        if isinstance(node, ast.Constant):
            return _literal(node.value)
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            raise CalculationError(f"unknown name {node.id[:40]!r}")
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _checked(_UNARY[type(node.op)](self.value(node.operand, depth + 1)))
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise CalculationError(f"{type(node).__name__} is not allowed in a calculation")

    def _binary(self, node: ast.BinOp, depth: int) -> Number:
        left, right = self.value(node.left, depth + 1), self.value(node.right, depth + 1)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        function = _BINARY.get(type(node.op))
        if function is None:
            raise CalculationError(f"the operator {type(node.op).__name__} is not allowed")
        try:
            return _checked(function(left, right))
        except ZeroDivisionError:
            raise CalculationError("division by zero") from None

    def _call(self, node: ast.Call, depth: int) -> Number:
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords:
            raise CalculationError(
                "only sqrt, abs, round, min, max, log, log10, exp, sin, cos, tan, floor, ceil"
            )
        arguments = [self.value(argument, depth + 1) for argument in node.args]
        try:
            result = _FUNCTIONS[node.func.id](*arguments)
        except (ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
            raise CalculationError(f"{node.func.id}: {exc}") from None
        return _checked(result if isinstance(result, Fraction | float) else Fraction(result))


def _literal(value: object) -> Number:
    # bool is an int subclass; complex and strings are not arithmetic here.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalculationError("only numbers may appear in a calculation")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculationError("the number is too large")
        return Fraction(repr(value))  # the decimal as written, not its binary approximation
    return _checked(Fraction(value))


def _power(base: Number, exponent: Number) -> Number:
    if isinstance(exponent, Fraction) and exponent.denominator == 1 and isinstance(base, Fraction):
        if abs(base) not in (0, 1):
            bits = max(base.numerator.bit_length(), base.denominator.bit_length())
            if bits * abs(exponent.numerator) > MAX_BITS:
                raise CalculationError("the power is too large")
        if base == 0 and exponent < 0:
            raise CalculationError("division by zero")
        return _checked(base ** int(exponent))
    try:
        result = float(base) ** float(exponent)
    except (OverflowError, ZeroDivisionError):
        raise CalculationError("the power is too large or undefined") from None
    if isinstance(result, complex):
        raise CalculationError("the result is not a real number")
    return _checked(result)


def _checked(value: Any) -> Number:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CalculationError("the result is too large or undefined")
        return value
    if isinstance(value, int):
        value = Fraction(value)
    if not isinstance(value, Fraction):
        raise CalculationError("the result is not a number")
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_BITS:
        raise CalculationError("the result is too large")
    return value


class CalculatorArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expression: str = Field(
        max_length=MAX_CHARS,
        description="Arithmetic as written, e.g. '17.5 % of 2,380', '(3 + 4) * 2', 'sqrt(2)'.",
    )


class CalculatorTool:
    """Exact arithmetic; nothing leaves the process and nothing changes."""

    spec = ToolSpec(
        name="calculator",
        description=(
            "Evaluate an arithmetic expression exactly. Use it for every calculation instead of "
            "computing in your head. Understands + - * / ** ^, parentheses, percentages "
            "('15 % of 80'), thousands separators and sqrt, log, round, min, max."
        ),
        arguments=CalculatorArguments,
        timeout_s=2.0,
        # Numbers alone are not personal data, and nothing leaves the machine.
        max_argument_tier=Tier.REGULATED,
    )

    async def run(self, arguments: BaseModel, context: ToolContext) -> ToolResult:
        expression = CalculatorArguments.model_validate(arguments.model_dump()).expression
        try:
            value = format_number(evaluate(expression))
        except CalculationError as exc:
            return ToolResult(content=f"cannot calculate this: {exc}", is_error=True)
        return ToolResult(content=value, data={"expression": expression, "value": value})
