"""Validation reports: located findings, collected (never stopping at the first)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_SAMPLES", "Finding", "Severity", "ValidationReport"]

Severity = Literal["error", "warning", "info"]
MAX_SAMPLES = 5
_ORDER = {"error": 0, "warning": 1, "info": 2}


class Finding(BaseModel):
    """One rule broken by ``count`` rows of one entity's field, with a few sample rows."""

    model_config = ConfigDict(extra="forbid")

    rule: str = Field(description="Rule id, e.g. 'domain.vin_check_digit'.")
    entity: str = Field(description="persons, vehicles, profiles or snapshot.")
    field: str | None = Field(default=None, description="Column, when one is at fault.")
    severity: Severity
    message: str = Field(description="What is wrong, in a sentence.")
    count: int = Field(ge=1, description="How many rows break the rule.")
    samples: list[str] = Field(default_factory=list, description="Up to 5 rows: 'row N (id)'.")

    def key(self) -> tuple[str, str, str | None, str]:
        return (self.rule, self.entity, self.field, self.severity)


class ValidationReport(BaseModel):
    """Every finding of a validation run, plus what was checked."""

    model_config = ConfigDict(extra="forbid")

    rows: dict[str, int] = Field(default_factory=dict, description="Rows checked per entity.")
    rules: list[str] = Field(default_factory=list, description="Rule ids evaluated.")
    findings: list[Finding] = Field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when no error-level finding exists."""
        return self.errors == 0

    def summary(self) -> dict[str, int]:
        """Finding counts by severity (rules broken, not rows)."""
        out = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            out[finding.severity] += 1
        return out

    @classmethod
    def merge(
        cls, findings: Iterable[Finding], rows: dict[str, int], rules: Iterable[str]
    ) -> ValidationReport:
        """Combine findings of the same rule/entity/field/severity, in a stable order."""
        merged: dict[tuple[str, str, str | None, str], Finding] = {}
        for finding in findings:
            key = finding.key()
            if key in merged:
                have = merged[key]
                have.count += finding.count
                room = MAX_SAMPLES - len(have.samples)
                have.samples.extend(finding.samples[: max(room, 0)])
            else:
                merged[key] = finding.model_copy(deep=True)
        ordered = sorted(
            merged.values(),
            key=lambda f: (_ORDER[f.severity], f.rule, f.entity, f.field or ""),
        )
        return cls(rows=dict(rows), rules=sorted(set(rules)), findings=ordered)
