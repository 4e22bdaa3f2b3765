"""Rules on vehicles: owner exists, VIN, catalogue, line-of-business rules, garaging.

fk.vehicle_person, domain.* (VIN check digit, year code and WMI; make, model and year in the
catalogue; body style and risk allowed for the line of business; garaging) and
plan.garaging_mirrors_residence.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext, as_mask
from esdh_agent.core.columns import fixed_width_bytes
from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES, LOBS, RISKS
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.rules.common import (
    LookupTables,
    catalogue_entries,
    lookup_tables,
    not_listed,
    pattern_failures,
    zip_rows,
)
from esdh_agent.core.vin import YEAR_CODES, check_digits

__all__ = ["DEFAULT_LOB_BODY", "DEFAULT_LOB_RISK", "VIN_PATTERN", "garaged_elsewhere", "vehicles"]

VIN_PATTERN = r"^[A-HJ-NPR-Z0-9]{17}$"
GARAGING = ("garaging_postal_code", "garaging_state")
DEFAULT_LOB_BODY: dict[str, tuple[str, ...]] = {
    "Personal": ("Sedan", "SUV"),
    "Commercial": ("SUV", "Truck"),
}
DEFAULT_LOB_RISK: dict[str, tuple[str, ...]] = {
    "Personal": ("Low", "Medium"),
    "Commercial": ("Medium", "High"),
}


def _model_years(checker: Checker) -> np.ndarray:
    """Each vehicle's model year (0 where missing)."""
    year = pc.fill_null(checker.column("vehicles", "model_year"), 0)
    return np.asarray(year.to_numpy(zero_copy_only=False))


def _make_codes(checker: Checker, tables: LookupTables) -> np.ndarray:
    """Each vehicle's make among the catalogue's (-1: not a catalogue make)."""
    return checker.codes("vehicles", "make", tuple(tables.catalogue.makes.to_pylist()))


def _vin_checks(checker: Checker, tables: LookupTables) -> None:
    vin = checker.column("vehicles", "vin")
    valid = ~pattern_failures(checker, "vehicles", "vin", VIN_PATTERN) & as_mask(vin.is_valid())
    rows = np.flatnonzero(valid)
    chars = fixed_width_bytes(vin if len(rows) == len(vin) else vin.take(pa.array(rows)), 17)
    bad_check = np.zeros(len(vin), dtype=bool)
    bad_check[rows] = check_digits(chars) != chars[:, 8]
    checker.flag(
        "domain.vin_check_digit",
        "vehicles",
        "vin",
        bad_check,
        "VIN position 9 is not its check digit",
    )
    year = _model_years(checker)
    codes = np.frombuffer(YEAR_CODES.encode(), dtype=np.uint8)
    expected = codes[(year[rows].astype(np.int64) - 1980) % 30]
    bad_year = np.zeros(len(vin), dtype=bool)
    bad_year[rows] = expected != chars[:, 9]
    checker.flag(
        "domain.vin_year_code",
        "vehicles",
        "vin",
        bad_year,
        "VIN position 10 does not encode the model year",
    )
    make = _make_codes(checker, tables)
    known = make >= 0
    checker.flag(
        "domain.make_unknown",
        "vehicles",
        "make",
        ~known,
        "make is not in the vehicle catalogue",
        severity="warning",
    )
    wmi = chars[:, :3].astype(np.int64)
    pair = make[rows] << 24 | wmi[:, 0] << 16 | wmi[:, 1] << 8 | wmi[:, 2]
    allowed = tables.catalogue.make_wmi
    spot = np.minimum(np.searchsorted(allowed, pair), max(len(allowed) - 1, 0))
    listed = allowed[spot] == pair if len(allowed) else np.zeros(len(pair), dtype=bool)
    bad_wmi = np.zeros(len(vin), dtype=bool)
    bad_wmi[rows] = known[rows] & ~listed
    checker.flag(
        "domain.vin_wmi",
        "vehicles",
        "vin",
        bad_wmi,
        "VIN manufacturer prefix (WMI) does not belong to the make",
    )


def _allowed_matrix(
    plan: GenerationPlan | None,
    attr: str,
    default: dict[str, tuple[str, ...]],
    values: tuple[str, ...],
) -> np.ndarray:
    """allowed[lob, value]: from the plan's positive shares, else the v0.1 defaults."""
    out = np.zeros((len(LOBS), len(values)), dtype=bool)
    for i, lob in enumerate(LOBS):
        if plan is None:
            chosen = set(default.get(lob, ()))
        else:
            mix: dict[str, dict[str, float]] = getattr(plan, attr)
            chosen = {v for v, share in mix.get(lob, {}).items() if share > 0}
        for j, value in enumerate(values):
            out[i, j] = value in chosen
    return out


def _catalogue_checks(checker: Checker, tables: LookupTables) -> None:
    """Make, model and body style are a catalogue entry, sold in the model year."""
    known = _make_codes(checker, tables) >= 0
    entry = catalogue_entries(checker, tables)
    body = checker.codes("vehicles", "body_style", BODY_STYLES)
    listed = entry >= 0
    wrong_body = listed & (body >= 0) & (tables.catalogue.model_body[np.maximum(entry, 0)] != body)
    checker.flag(
        "domain.catalogue_model",
        "vehicles",
        "model",
        known & (~listed | wrong_body),
        "make/model/body style is not in the vehicle catalogue",
    )
    year = _model_years(checker)
    offset = np.clip(year.astype(np.int64) - 1980, 0, 59)
    sold = tables.catalogue.model_years[np.maximum(entry, 0), offset]
    sold &= (year >= 1980) & (year < 2040)
    checker.flag(
        "domain.catalogue_year",
        "vehicles",
        "model_year",
        listed & ~sold,
        "model was not sold in that model year",
        severity="warning",
    )


_LOB_RULES = (
    (
        "domain.lob_body_style",
        "body_style",
        BODY_STYLES,
        "body_style_mix",
        DEFAULT_LOB_BODY,
        "body style not allowed for the line of business",
    ),
    (
        "domain.lob_risk",
        "risk_rating",
        RISKS,
        "risk_mix",
        DEFAULT_LOB_RISK,
        "risk rating not allowed for the line of business",
    ),
)
"""Rule, column, its values, the plan's mix by line of business, the default, message."""


def _lob_checks(checker: Checker, plan: GenerationPlan | None) -> None:
    """Body style and risk rating are allowed for the vehicle's line of business."""
    lob = checker.codes("vehicles", "lob_type", LOBS)
    for rule, column, values, attr, default, message in _LOB_RULES:
        allowed = _allowed_matrix(plan, attr, default, values)
        codes = checker.codes("vehicles", column, values)
        both = (lob >= 0) & (codes >= 0)
        bad = both & ~allowed[np.maximum(lob, 0), np.maximum(codes, 0)]
        checker.flag(rule, "vehicles", column, bad, message)


def garaged_elsewhere(checker: Checker) -> pa.Array:
    """Whether each vehicle's garaging postal code differs from its owner's (row 0's when it
    has none; null when either is null)."""
    return checker.unequal("vehicles", "garaging_postal_code")


def _garaging_zip(checker: Checker, tables: LookupTables) -> np.ndarray:
    """Vehicles whose garaging (ZIP, state) is no vocabulary entry. A vehicle garaged at its
    owner's postal code and state, whose (ZIP, city, state) is an entry, is garaged at an
    entry (the pairs are the triples without the city): only the others are looked up."""
    owner = checker.source_rows("vehicles", "garaging_postal_code")
    home = zip_rows(checker, tables, "persons", ("postal_code", "city", "state"))
    fine = checker.same_as_source("vehicles", "garaging_postal_code") & ~home[np.maximum(owner, 0)]
    fine &= checker.same_as_source("vehicles", "garaging_state")
    bad = np.zeros(len(owner), dtype=bool)
    rest = np.flatnonzero(~fine)
    if len(rest):
        idx = pa.array(rest)
        values = [checker.column("vehicles", c).take(idx) for c in GARAGING]
        state = checker.codes("vehicles", "garaging_state", CONTRACT_STATES)[rest]
        bad[rest] = not_listed(tables, values, state)
    return bad


def _owner_checks(checker: Checker, ctx: ValidationContext, owner: np.ndarray) -> None:
    """The vehicle shares its owner's line of business and state; garaging ZIP and state."""
    has_owner = owner >= 0
    for rule, column, message in (
        ("domain.vehicle_lob", "lob_type", "line of business differs from owner's"),
        ("domain.garaging_state", "garaging_state", "garaged outside owner's state"),
    ):
        differ = has_owner & as_mask(checker.unequal("vehicles", column))
        checker.flag(rule, "vehicles", column, differ, message)
    checker.flag(
        "domain.garaging_zip",
        "vehicles",
        "garaging_postal_code",
        _garaging_zip(checker, lookup_tables(ctx.vocab)),
        "garaging ZIP is not in the garaging state",
    )
    if ctx.plan is not None and ctx.plan.garaging_elsewhere_rate == 0:
        mirrors = "plan says garaging mirrors the residence, but the ZIP differs"
        checker.flag(
            "plan.garaging_mirrors_residence",
            "vehicles",
            "garaging_postal_code",
            has_owner & as_mask(garaged_elsewhere(checker)),
            mirrors,
        )


def vehicles(checker: Checker, ctx: ValidationContext) -> None:
    """Owner exists, VIN, catalogue, line-of-business rules, garaging."""
    owner = checker.index("vehicles", "person_id", "persons", "person_id")
    checker.flag(
        "fk.vehicle_person",
        "vehicles",
        "person_id",
        owner < 0,
        "vehicle's person_id is not a person",
    )
    tables = lookup_tables(ctx.vocab)
    _vin_checks(checker, tables)
    _catalogue_checks(checker, tables)
    _lob_checks(checker, ctx.plan)
    _owner_checks(checker, ctx, owner)
