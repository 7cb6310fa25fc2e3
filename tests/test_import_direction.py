"""Dependencies point down only: models ← routing ← knowledge ← assistant ← app.py.

Every import statement counts, including those inside functions and under TYPE_CHECKING: a lazy
upward import is still a dependency a reader has to follow. The check reads source, never imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"models": 0, "routing": 1, "knowledge": 2, "assistant": 3, "app": 4}


def _parse(source: str) -> ast.Module:
    """`ast.parse`, asked again on CPython 3.11's spurious "AST constructor recursion depth mismatch"
    (python/cpython#106905, fixed in 3.12): it came once in a loaded fresh-clone run, with other
    tests' threads alive; the source is unchanged, so a second parse is the same question."""
    for _ in range(2):
        try:
            return ast.parse(source)
        except SystemError as error:
            if "recursion depth mismatch" not in str(error):
                raise
    return ast.parse(source)


def imported_packages(source: str) -> set[str]:
    """The project packages a module's source imports, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(_parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def upward_imports(package: str) -> list[str]:
    upward = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for target in sorted(imported_packages(path.read_text(encoding="utf-8"))):
            if LAYERS[target] > LAYERS[package]:
                upward.append(f"{path.relative_to(ROOT)} imports {target}")
    return upward


@pytest.mark.parametrize("package", ["models", "routing", "knowledge", "assistant"])
def test_no_package_imports_a_higher_one(package: str) -> None:
    assert upward_imports(package) == []


def test_the_check_sees_lazy_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from assistant.settings import Settings\n"
        "def f():\n    import knowledge.store\n"
        "from . import sibling\n"
    )
    assert imported_packages(source) == {"assistant", "knowledge"}
