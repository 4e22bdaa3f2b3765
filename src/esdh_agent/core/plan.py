"""GenerationPlan: everything that decides the generated values, and nothing else.

The planner LLM fills this model, so every field is documented and unknown fields are
rejected. Output formats, snapshot names, paths and the synthetic-source marker are *not*
plan fields: they come from the command line, the workspace or the governance policy.

Shares are fractions that sum to 1; the generator realizes them as exact quotas (largest
remainder), so ``{"Commercial": 0.25}`` over 200 persons means exactly 50 commercial persons.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from esdh_agent.core.contract import BodyStyle, ContractState, LobType, RiskRating

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_PLAN",
    "AgeBand",
    "EdgeCases",
    "GenerationPlan",
    "block_count",
    "check_shares",
]

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]
BLOCK_SIZE = 65_536
"""Persons per block. Part of the output's identity: changing it changes values. (Here, not in
``core.layout``, so the command line can count blocks before it imports the generator.)"""


def block_count(persons: int, block_size: int = BLOCK_SIZE) -> int:
    """How many blocks ``persons`` persons make (the last one may be short)."""
    return -(-persons // block_size)


SHARE_TOLERANCE = 1e-6


def check_shares(name: str, shares: dict[Any, float]) -> None:
    """Raise ValueError unless ``shares`` is non-empty and sums to 1."""
    if not shares:
        raise ValueError(f"{name} must name at least one category")
    total = sum(shares.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ValueError(f"{name} shares sum to {total:g}; they must sum to 1")
    if not any(value > 0 for value in shares.values()):
        raise ValueError(f"{name} needs at least one positive share")


_ORDER = {
    name: i
    for i, name in enumerate(
        (
            "Personal",
            "Commercial",
            "CA",
            "AZ",
            "NV",
            "OR",
            "WA",
            "Sedan",
            "SUV",
            "Truck",
            "Low",
            "Medium",
            "High",
        )
    )
}


def _canonical(value: dict[Any, Any]) -> dict[Any, Any]:
    """The mapping in canonical key order (contract order, numbers ascending, else A-Z).

    Key order decides how ties in the largest-remainder quotas are broken, so it must not
    depend on how a plan file (or a model) happened to order its keys.
    """
    return dict(
        sorted(
            value.items(),
            key=lambda kv: (
                _ORDER.get(kv[0], len(_ORDER)),
                str(kv[0]).zfill(4) if isinstance(kv[0], int) else str(kv[0]),
            ),
        )
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgeBand(_Strict):
    """A driver-age band (ages on the as-of date, inclusive) and its share of persons."""

    min_age: int = Field(ge=0, le=120, description="Youngest age in the band, inclusive.")
    max_age: int = Field(ge=0, le=120, description="Oldest age in the band, inclusive.")
    share: Share = Field(description="Fraction of persons in this band.")

    @model_validator(mode="after")
    def _ordered(self) -> AgeBand:
        if self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")
        return self


class EdgeCases(_Strict):
    """Fractions of persons carrying deliberate edge cases, for form-validation testing.

    The name variants are mutually exclusive (their rates sum to at most 1); boundary ages
    combine with any of them.
    """

    hyphenated_names: Rate = Field(0.0, description="Double-barrelled last names: 'Lee-Smith'.")
    apostrophe_names: Rate = Field(0.0, description="Last names with an apostrophe: O'Brien.")
    long_names: Rate = Field(0.0, description="Long names (31-50 characters).")
    non_ascii_names: Rate = Field(0.0, description="Names with non-ASCII letters: José Müller.")
    max_length_fields: Rate = Field(
        0.0, description="Names and address lines exactly at the contract's maximum length."
    )
    boundary_ages: Rate = Field(
        0.0,
        description="Persons whose birthday puts them exactly on their age band's edge: "
        "turning the band's min age on the as-of date, or turning max age + 1 the day after.",
    )

    @model_validator(mode="after")
    def _exclusive(self) -> EdgeCases:
        total = (
            self.hyphenated_names
            + self.apostrophe_names
            + self.long_names
            + self.non_ascii_names
            + self.max_length_fields
        )
        if total > 1.0 + SHARE_TOLERANCE:
            raise ValueError(f"name edge-case rates sum to {total:g}; at most 1 is possible")
        return self

    def name_variants(self) -> dict[str, float]:
        """Shares of each name variant, 'plain' included, in a fixed order."""
        variants = {
            "hyphenated": self.hyphenated_names,
            "apostrophe": self.apostrophe_names,
            "long": self.long_names,
            "non_ascii": self.non_ascii_names,
            "max_length": self.max_length_fields,
        }
        plain = max(0.0, 1.0 - sum(variants.values()))
        return {"plain": plain, **variants}


def _default_age_bands() -> list[AgeBand]:
    return [
        AgeBand(min_age=16, max_age=24, share=0.12),
        AgeBand(min_age=25, max_age=44, share=0.36),
        AgeBand(min_age=45, max_age=64, share=0.33),
        AgeBand(min_age=65, max_age=90, share=0.19),
    ]


def _default_body_styles() -> dict[LobType, dict[BodyStyle, float]]:
    return {"Personal": {"Sedan": 0.55, "SUV": 0.45}, "Commercial": {"SUV": 0.35, "Truck": 0.65}}


def _default_risks() -> dict[LobType, dict[RiskRating, float]]:
    return {"Personal": {"Low": 0.6, "Medium": 0.4}, "Commercial": {"Medium": 0.55, "High": 0.45}}


class GenerationPlan(_Strict):
    """What to generate. The only thing a model (the planner LLM) decides."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    dataset_version: str = Field(
        "v0.1",
        pattern=r"^v[0-9]+\.[0-9]+(\.[0-9]+)?$",
        max_length=20,
        description="Contract/dataset version label, e.g. 'v0.1'.",
    )
    seed: int = Field(
        20251101, ge=0, le=2**63 - 1, description="Seed of every random stream (0 to 2^63-1)."
    )
    as_of_date: dt.date = Field(
        dt.date(2025, 11, 1), description="Date on which ages are computed (YYYY-MM-DD)."
    )
    person_count: int = Field(200, ge=1, le=100_000_000, description="Number of persons.")
    vehicles_per_person: dict[Annotated[int, Field(ge=1, le=10)], Share] = Field(
        default_factory=lambda: {1: 1.0},
        description="Share of persons owning each number of vehicles (1-10), e.g. {1: 0.7, 2: 0.3}."
        " Applied within each line of business.",
    )
    lob_mix: dict[LobType, Share] = Field(
        default_factory=lambda: {"Personal": 0.7, "Commercial": 0.3},  # type: ignore[arg-type]
        description="Share of persons per line of business.",
    )
    state_mix: dict[ContractState, Share] = Field(
        default_factory=lambda: {"CA": 0.4, "AZ": 0.15, "NV": 0.1, "OR": 0.15, "WA": 0.2},  # type: ignore[arg-type]
        description="Share of persons per residence state (contract states only).",
    )
    age_bands: list[AgeBand] = Field(
        default_factory=_default_age_bands,
        min_length=1,
        max_length=20,
        description="Driver-age bands; their shares sum to 1.",
    )
    model_year_min: int = Field(2005, ge=1980, le=2039, description="Oldest model year.")
    model_year_max: int = Field(2024, ge=1980, le=2039, description="Newest model year.")
    make_mix: dict[str, Share] = Field(
        default_factory=lambda: {
            "Toyota": 0.25,
            "Ford": 0.2,
            "Honda": 0.2,
            "Chevrolet": 0.2,
            "Nissan": 0.15,
        },
        description="Share of vehicles per make (makes from the vehicle catalogue).",
    )
    body_style_mix: dict[LobType, dict[BodyStyle, Share]] = Field(
        default_factory=_default_body_styles,
        description="Share of body styles within each line of business. Defaults follow the "
        "v0.1 rules (Personal: Sedan/SUV; Commercial: SUV/Truck); a plan may override them.",
    )
    risk_mix: dict[LobType, dict[RiskRating, Share]] = Field(
        default_factory=_default_risks,
        description="Share of risk ratings within each line of business. Defaults follow the "
        "v0.1 rules (Personal: Low/Medium; Commercial: Medium/High).",
    )
    address_line_2_rate: Rate = Field(0.15, description="Fraction of persons with a unit line.")
    zip_plus4_rate: Rate = Field(0.1, description="Fraction of persons with a ZIP+4 code.")
    garaging_elsewhere_rate: Rate = Field(
        0.0,
        description="Fraction of vehicles garaged at another ZIP of the owner's state "
        "(otherwise garaging mirrors the residence).",
    )
    edge_cases: EdgeCases = Field(default_factory=EdgeCases, description="Deliberate edge cases.")

    @field_validator("vehicles_per_person", "lob_mix", "state_mix", "make_mix")
    @classmethod
    def _sums_to_one(cls, value: dict[Any, float], info: Any) -> dict[Any, float]:
        check_shares(info.field_name, value)
        return _canonical(value)

    @field_validator("body_style_mix", "risk_mix")
    @classmethod
    def _nested_sum_to_one(
        cls, value: dict[str, dict[str, float]], info: Any
    ) -> dict[str, dict[str, float]]:
        for lob, shares in value.items():
            check_shares(f"{info.field_name}.{lob}", shares)
        return {lob: _canonical(shares) for lob, shares in _canonical(value).items()}

    @model_validator(mode="after")
    def _consistent(self) -> GenerationPlan:
        check_shares("age_bands", {i: band.share for i, band in enumerate(self.age_bands)})
        if self.model_year_min > self.model_year_max:
            raise ValueError(
                f"model_year_min {self.model_year_min} is above model_year_max "
                f"{self.model_year_max}"
            )
        for field in ("body_style_mix", "risk_mix"):
            mix: dict[str, Any] = getattr(self, field)
            missing = [lob for lob, share in self.lob_mix.items() if share > 0 and lob not in mix]
            if missing:
                raise ValueError(f"{field} has no entry for line of business {missing[0]}")
        return self

    def canonical_json(self) -> str:
        """The plan as canonical JSON (sorted keys, no spaces): what its hash covers."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def plan_hash(self) -> str:
        """SHA-256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def age_range(self) -> tuple[int, int]:
        """The youngest and oldest age any band allows."""
        return (
            min(band.min_age for band in self.age_bands),
            max(band.max_age for band in self.age_bands),
        )


DEFAULT_PLAN = GenerationPlan()
"""The v0.1 baseline: 200 persons, seed 20251101, as of 2025-11-01."""
