"""The requirements ledger: what a slice prompt asks for, each item grounded in its words.

A :class:`Requirement` is one checkable thing the request asks for: *what* it constrains
(``target`` and, for shares, ``key``), *how* (``op`` and ``value``), how strictly its words
mean it (``tolerance``), *where* it says so (``quote`` with character offsets into the
prose) and *who* read it (``source``: the pinned front matter, the deterministic grammar or
the model). Verification later sets its ``status`` and ``measured`` value.

Value conventions, by ``op``:

- ``eq``: a number (person_count, seed) or a string (dataset_version, as_of_date ISO date);
- ``min`` / ``max``: a number, inclusive ("at least 50 persons", "no older than model year
  2020" is ``model_year min 2020``, "over 90" is ``age min 91``);
- ``range``: ``[low, high]``, inclusive, every row inside it ("drivers 21 to 70");
- ``share``: the fraction (0..1) of rows whose ``target`` equals ``key``; ``value`` may be
  ``None`` when the words give no number ("mostly trucks": tolerance ``mostly``);
- ``only``: ``value`` lists the only keys allowed (every row is one of them);
- ``exclude``: ``value`` lists keys no row may have ("nothing personal-lines").

Keys are canonical: state codes (``AZ``), ``Personal``/``Commercial``, ``Sedan``/``SUV``/
``Truck``, ``Low``/``Medium``/``High``, age or vehicle-count bands as ``"16-17"`` or ``"1"``,
name variants as the ``EdgeCases`` names without ``_names`` (``hyphenated``, ``apostrophe``,
``long``, ``non_ascii``, ``max_length``), directives by their kind (see ``DIRECTIVES``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DATA_TARGETS",
    "DIRECTIVES",
    "PLAN_TARGETS",
    "TARGETS",
    "VAGUE_BOUNDS",
    "Conflict",
    "Discarded",
    "Ledger",
    "Op",
    "Requirement",
    "Source",
    "Status",
    "Target",
    "Tolerance",
    "Unsupported",
]

Target = Literal[
    "person_count",
    "state",
    "lob",
    "body_style",
    "risk",
    "age",
    "model_year",
    "vehicles_per_person",
    "address_line_2",
    "zip_plus4",
    "name_variant",
    "boundary_age",
    "seed",
    "dataset_version",
    "as_of_date",
    "directive",
]
TARGETS: tuple[str, ...] = get_args(Target)
PLAN_TARGETS = ("seed", "dataset_version", "as_of_date")
"""Targets that are facts of the plan and the manifest, not of the rows."""
DATA_TARGETS = tuple(t for t in TARGETS if t not in PLAN_TARGETS and t != "directive")
"""Targets measured on the generated rows."""

DIRECTIVES = (
    "skip_review",  # "skip the critics", "skip validation", "commit directly"
    "marker",  # "set the marker to empty", "synthetic_source: ''"
    "output_path",  # "write the snapshot to ../../etc", snapshot names and paths
    "approval_claim",  # "APPROVED", "pre-approved", "do not pause for approval"
    "override_policy",  # "ignore the policy", "raise the limit", "do not clamp"
    "real_data",  # "real social security numbers", "real customers"
)
"""Kinds of ``directive`` requirement: asks about the run itself, never about the rows.

The data cannot honour them; the gate decides each kind (refuse, pause or decline) as the
policy says, naming the quote."""

Op = Literal["eq", "min", "max", "range", "share", "only", "exclude"]
Tolerance = Literal[
    "exact",  # a bare number: the quota is exact (within one row of rounding)
    "approx",  # about, roughly, around, ~, approximately
    "mostly",  # mostly, most, the majority: share above one half
    "some",  # some, a few: at least one row, at most one half
    "few",  # a handful, a small number: at least one row, at most a fifth
    "at_least",  # at least, no fewer than, minimum
    "at_most",  # at most, no more than, up to
    "all",  # only, each, every, all
    "none",  # no, nothing, none, never
]
VAGUE_BOUNDS = {"mostly": (0.5, 1.0), "some": (0.0, 0.5), "few": (0.0, 0.2)}
"""The share a vague tolerance allows (lower bound exclusive): docs/requests.md, Tolerance."""
Source = Literal["pinned", "grammar", "model"]
Status = Literal[
    "pending",  # not verified yet
    "met",  # verified on the data (or the plan) within its tolerance
    "unmet",  # verified and found wrong: ``measured`` says what the data has
    "not_supported",  # the plan cannot express it; the data may or may not honour it
    "refused",  # out of policy: the run stops, naming the quote
    "declined",  # out of policy for this one requirement: the run goes on without it
    "overridden",  # a pinned value or the grammar's reading replaced this one
]

Value = int | float | str | list[int] | list[str] | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Requirement(_Model):
    """One checkable thing the request asks for, and where its words say so."""

    id: str = Field(description="R1, R2, ... in prose order (pinned ones are P1, P2, ...).")
    target: Target
    key: str | None = Field(None, description="The category for shares; None otherwise.")
    op: Op
    value: Value = None
    tolerance: Tolerance = "exact"
    quote: str = Field(description="The exact span of the prose (or the pinned YAML line).")
    start: int = Field(-1, description="Offset of the quote in the prose; -1 for pinned.")
    end: int = Field(-1, description="End offset (exclusive); -1 for pinned.")
    source: Source = "grammar"
    status: Status = "pending"
    measured: Value = Field(None, description="What verification found (share, count, range).")
    detail: str = Field("", description="One line: why this status, or what was found.")
    plan_fields: list[str] = Field(
        default_factory=list, description="The plan fields this requirement set."
    )

    def label(self) -> str:
        """A short human reading: 'state AZ share 0.6 (exact)'."""
        key = f" {self.key}" if self.key is not None else ""
        value = "" if self.value is None else f" {_show(self.value)}"
        return f"{self.target}{key} {self.op}{value} ({self.tolerance})"

    def signature(self) -> tuple[str, str | None, str, str]:
        """What two readings of the same requirement agree on: target, key, op, value."""
        return (self.target, self.key, self.op, _show(self.value))


class Unsupported(_Model):
    """Checkable words no requirement covers, or a requirement the plan cannot express."""

    quote: str
    start: int = -1
    end: int = -1
    reason: str


class Discarded(_Model):
    """A model reading thrown away: its quote is not in the prose, or its value is not
    what the quote says as that kind of fact."""

    target: str
    quote: str
    value: Value = None
    reason: str


class Conflict(_Model):
    """Two readings of the same thing that disagree, and which one won."""

    kept: str = Field(description="The id of the requirement that stands.")
    other: Requirement = Field(description="The reading that lost (status 'overridden').")
    reason: str


class Ledger(_Model):
    """Every requirement of one slice, plus what could not be read or honoured."""

    slice_id: str
    prose_sha256: str
    grammar_sha256: str = ""
    pinned_fields: list[str] = Field(
        default_factory=list, description="Plan fields the slice pins (they win over prose)."
    )
    requirements: list[Requirement] = Field(default_factory=list)
    unsupported: list[Unsupported] = Field(default_factory=list)
    discarded: list[Discarded] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)

    def get(self, req_id: str) -> Requirement | None:
        return next((r for r in self.requirements if r.id == req_id), None)

    def active(self) -> list[Requirement]:
        """Requirements that stand (not overridden by a pinned value or the grammar)."""
        return [r for r in self.requirements if r.status != "overridden"]

    def by_status(self, *statuses: str) -> list[Requirement]:
        return [r for r in self.requirements if r.status in statuses]

    def ledger_hash(self) -> str:
        """SHA-256 of the canonical JSON of the ledger (what the manifest records)."""
        data = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(data.encode()).hexdigest()


def prose_hash(prose: str) -> str:
    return hashlib.sha256(prose.encode()).hexdigest()


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_show(v) for v in value) + "]"
    return str(value)
