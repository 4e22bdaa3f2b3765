"""The rules depend on the checker, never on the validator that runs them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import esdh_agent.core
from esdh_agent.core import rules, validate

CORE = Path(esdh_agent.core.__file__).parent
RULES = sorted((CORE / "rules").glob("*.py"))
HOUSE_LIMIT = 400


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, including under ``if TYPE_CHECKING``."""
    package = "esdh_agent.core" + (".rules" if path.parent.name == "rules" else "")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_rules_package_has_its_modules() -> None:
    assert {p.stem for p in RULES} >= {"__init__", "common", "fields", "dataset", "quotas"}
    assert not (CORE / "rules.py").exists()


@pytest.mark.parametrize("path", RULES, ids=lambda p: p.name)
def test_no_rule_imports_the_validator(path: Path) -> None:
    names = imported(path)
    assert not {n for n in names if n.startswith("esdh_agent.core.validate")}


@pytest.mark.parametrize("name", ["checker.py", "keystore.py"])
def test_checker_and_keystore_import_neither_rules_nor_validator(name: str) -> None:
    names = imported(CORE / name)
    assert not {
        n for n in names if n.startswith(("esdh_agent.core.rules", "esdh_agent.core.validate"))
    }


@pytest.mark.parametrize(
    "path", [*RULES, CORE / "checker.py", CORE / "keystore.py", CORE / "validate.py"]
)
def test_modules_stay_under_the_house_limit(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= HOUSE_LIMIT


def test_the_old_import_paths_still_work() -> None:
    for name in validate.__all__:
        assert hasattr(validate, name), name
    for name in rules.__all__:
        assert hasattr(rules, name), name
    assert callable(rules.ages) and callable(rules.uniqueness)
