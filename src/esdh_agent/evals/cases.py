"""Labelled critic cases, built from real generator output with seeded defects.

``critics/cases/specs.yaml`` says what each case is: a slice prompt, plan changes, a defect
and the verdict each critic should reach. ``esdh-agent critic cases build`` generates the
data, applies the defect, validates and profiles it, and writes ``critics/cases/<id>.yaml``
— what a critic would see, and nothing else. A test fails when they are not current.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field

from esdh_agent.agents.context import AgentWorkspace, apply_pins
from esdh_agent.agents.grounding import ground, verify_requirements
from esdh_agent.agents.profile import build_profile
from esdh_agent.core.generator import generate_block
from esdh_agent.core.layout import compile_layout
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.validate import ValidationContext, validate_tables
from esdh_agent.core.yamlio import load_model
from esdh_agent.errors import WorkspaceError

__all__ = [
    "DEFECTS",
    "CaseSpec",
    "CriticCase",
    "build_cases",
    "case_files",
    "labelled_critics",
    "load_cases",
]

Verdict = Literal["pass", "block"]
Tables = dict[str, pa.Table]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    description: str
    slice: str = Field(description="Slice whose prompt and pinned requirements the case uses.")
    persons: int = Field(120, ge=10, le=5000)
    plan: dict[str, Any] = Field(
        default_factory=dict, description="The planner's choices beyond the pinned fields."
    )
    generate: dict[str, Any] = Field(
        default_factory=dict, description="Where the data departs from the plan."
    )
    defect: str | None = None
    expected: dict[str, Verdict] = Field(min_length=1)


class CaseSpecs(_Strict):
    cases: list[CaseSpec]


class CriticCase(_Strict):
    """What a critic sees for one case, and what it should conclude."""

    id: str
    description: str
    expected: dict[str, Verdict]
    slice_prompt: str
    pinned: dict[str, Any]
    plan: dict[str, Any]
    validation: dict[str, Any]
    profile: dict[str, Any]
    ledger: dict[str, Any] | None = None  # the request's ledger, verified on this data


def _set(tables: Tables, entity: str, column: str, rows: list[int], value: Any) -> Tables:
    table = tables[entity]
    values = table.column(column).to_pylist()
    for row in rows:
        values[row] = value(values[row]) if callable(value) else value
    index = table.column_names.index(column)
    field = table.field(column)
    return {**tables, entity: table.set_column(index, field, pa.array(values, field.type))}


def _every(table: pa.Table, step: int) -> list[int]:
    return list(range(0, table.num_rows, step))


def _flip_check_digit(vin: str) -> str:
    return vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]


DEFECTS: dict[str, Callable[[Tables], Tables]] = {
    "licensed-12-year-olds": lambda t: _set(
        t, "persons", "date_of_birth", _every(t["persons"], 5), dt.date(2013, 6, 1)
    ),
    "bad-vin-check-digits": lambda t: _set(
        t, "vehicles", "vin", _every(t["vehicles"], 7), _flip_check_digit
    ),
    "missing-marker": lambda t: _set(
        t, "persons", "synthetic_source", _every(t["persons"], 9), "prod-extract-2025-10"
    ),
    "ssn-in-address": lambda t: _set(
        t, "persons", "address_line_2", _every(t["persons"], 11), "SSN 123-45-6789"
    ),
}


def _build(aw: AgentWorkspace, spec: CaseSpec) -> CriticCase:
    slice_ = aw.slice(spec.slice)
    # What a run plans from this slice: the fields its words decide (the grammar's reading),
    # then the case's planner choices, then the pins (the case's size wins, to stay small).
    grounding = ground(aw, None, slice_)
    base = apply_pins(GenerationPlan().model_dump(mode="json"), grounding.fields)
    asked = GenerationPlan.model_validate(
        apply_pins(
            apply_pins(base, spec.plan), {**slice_.meta.pinned, "person_count": spec.persons}
        )
    )
    made = GenerationPlan.model_validate(apply_pins(asked.model_dump(mode="json"), spec.generate))
    vocab = aw.ws.vocabulary()
    marker = aw.policy.required_marker
    layout = compile_layout(made, vocab, marker, block_size=4096)
    blocks = [generate_block(layout, block) for block in layout.blocks]
    tables = {
        e: pa.concat_tables([b[e] for b in blocks]) for e in ("persons", "vehicles", "profiles")
    }
    if spec.defect:
        if spec.defect not in DEFECTS:
            raise WorkspaceError(
                f"case {spec.id}: unknown defect {spec.defect!r}",
                hint=f"defects: {', '.join(DEFECTS)}",
            )
        tables = DEFECTS[spec.defect](tables)
    ctx = ValidationContext(vocab=vocab, as_of=asked.as_of_date, marker=marker, plan=asked)
    report = validate_tables(ctx, tables)
    # A case is a small sample of its slice: the request's person count is not checked on it.
    sample = grounding.ledger.model_copy(
        update={
            "requirements": [r for r in grounding.ledger.requirements if r.target != "person_count"]
        }
    )
    ledger = verify_requirements(sample, asked, tables)
    return CriticCase(
        id=spec.id,
        description=spec.description,
        expected=spec.expected,
        slice_prompt=slice_.prose,
        pinned=slice_.meta.pinned,
        plan=asked.model_dump(mode="json"),
        validation=report.model_dump(mode="json"),
        profile=build_profile(tables, asked.as_of_date),
        ledger=ledger.model_dump(mode="json"),
    )


def case_files(aw: AgentWorkspace) -> dict[Path, str]:
    """Every case file's path and text, built from critics/cases/specs.yaml."""
    folder = aw.ws.root / "critics" / "cases"
    specs = load_model(folder / "specs.yaml", CaseSpecs)
    header = (
        "# Built by `esdh-agent critic cases build` from specs.yaml and real generator "
        "output.\n# Do not edit by hand: a test fails when this file is not current.\n"
    )
    out = {}
    for spec in specs.cases:
        case = _build(aw, spec)
        text = yaml.safe_dump(
            case.model_dump(mode="json"), sort_keys=False, width=100, allow_unicode=True
        )
        out[folder / f"{spec.id}.yaml"] = header + text
    return out


def build_cases(aw: AgentWorkspace) -> list[Path]:
    files = case_files(aw)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def _committed(aw: AgentWorkspace, root: Path | None) -> list[CriticCase]:
    """Every committed case file of the workspace (or of ``root``), in file-name order."""
    folder = (root or aw.ws.root) / "critics" / "cases"
    return [
        load_model(path, CriticCase)
        for path in sorted(folder.glob("*.yaml"))
        if path.name != "specs.yaml"
    ]


def load_cases(aw: AgentWorkspace, critic: str, root: Path | None = None) -> list[CriticCase]:
    """The committed cases that name ``critic`` in their expectations."""
    return [case for case in _committed(aw, root) if critic in case.expected]


def labelled_critics(aw: AgentWorkspace, root: Path | None = None) -> set[str]:
    """The critics some committed case names in its expectations (those ``critic eval`` can
    score: a built-in critic a workspace's specs predate has none)."""
    return {critic for case in _committed(aw, root) for critic in case.expected}
