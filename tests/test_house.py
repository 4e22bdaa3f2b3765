"""House rules of the package layout, checked on the source (docs/architecture.md).

Layer rules and cycles are checked by `lint-imports` (import-linter contracts in
pyproject.toml); these are the two rules it does not cover.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "esdh_agent"
MAX_LINES = 400
MODULES = sorted(PACKAGE.rglob("*.py"))
IDS = [str(p.relative_to(PACKAGE)) for p in MODULES]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(source: str, own: str) -> list[str]:
    """Every ``from esdh_agent.x import _name`` in ``source`` where x is not ``own``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if not node.module.startswith("esdh_agent") or node.module == own:
            continue
        found += [
            f"{node.module}.{alias.name} (line {node.lineno})"
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_the_package_is_found() -> None:
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_module_fits_on_a_screen(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{lines} lines: split it along its own docstring"


@pytest.mark.parametrize("path", MODULES, ids=IDS)
def test_no_private_names_across_modules(path: Path) -> None:
    assert private_imports(path.read_text(encoding="utf-8"), module_name(path)) == []


def test_the_private_name_check_can_fail() -> None:
    source = (
        "from esdh_agent.core.store import _private, public\n"
        "from esdh_agent.core.vin import _own\n"
        "from esdh_agent import __version__\n"
    )
    assert private_imports(source, own="esdh_agent.core.vin") == [
        "esdh_agent.core.store._private (line 1)"
    ]
