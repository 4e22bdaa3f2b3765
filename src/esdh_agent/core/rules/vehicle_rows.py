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
from esdh_agent.core.columns import fixed_width_bytes, join
from esdh_agent.core.contract import BODY_STYLES, LOBS, RISKS
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.rules.common import differs, flat_column, lookup_tables, not_in, zip_key
from esdh_agent.core.vin import YEAR_CODES, check_digits

__all__ = ["DEFAULT_LOB_BODY", "DEFAULT_LOB_RISK", "vehicles"]

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
    year = pc.fill_null(flat_column(checker, "vehicles", "model_year"), 0)
    return np.asarray(year.to_numpy(zero_copy_only=False))


def _vin_checks(checker: Checker, ctx: ValidationContext) -> None:
    vin = flat_column(checker, "vehicles", "vin")
    valid = as_mask(pc.match_substring_regex(vin, r"^[A-HJ-NPR-Z0-9]{17}$"))
    rows = np.flatnonzero(valid)
    chars = fixed_width_bytes(vin.take(pa.array(rows)), 17)
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
    tables = lookup_tables(ctx.vocab)
    make = flat_column(checker, "vehicles", "make")
    known = as_mask(pc.is_in(make, value_set=tables.makes))
    checker.flag(
        "domain.make_unknown",
        "vehicles",
        "make",
        ~known,
        "make is not in the vehicle catalogue",
        severity="warning",
    )
    pair = join(make, pc.utf8_slice_codeunits(vin, 0, 3), sep="|")
    checker.flag(
        "domain.vin_wmi",
        "vehicles",
        "vin",
        known & valid & as_mask(not_in(pair, tables.make_wmi)),
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


def _catalogue_checks(checker: Checker, ctx: ValidationContext) -> None:
    """Make, model and body style are a catalogue entry, sold in the model year."""
    tables = lookup_tables(ctx.vocab)
    make = flat_column(checker, "vehicles", "make")
    model = flat_column(checker, "vehicles", "model")
    known = as_mask(pc.is_in(make, value_set=tables.makes))
    entry = np.asarray(
        pc.fill_null(
            pc.index_in(join(make, model, sep="|"), value_set=tables.make_models), -1
        ).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    body = checker.codes("vehicles", "body_style", BODY_STYLES)
    listed = entry >= 0
    wrong_body = listed & (body >= 0) & (tables.model_body[np.maximum(entry, 0)] != body)
    checker.flag(
        "domain.catalogue_model",
        "vehicles",
        "model",
        known & (~listed | wrong_body),
        "make/model/body style is not in the vehicle catalogue",
    )
    year = _model_years(checker)
    offset = np.clip(year.astype(np.int64) - 1980, 0, 59)
    sold = tables.model_years[np.maximum(entry, 0), offset] & (year >= 1980) & (year < 2040)
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


def _owner_checks(checker: Checker, ctx: ValidationContext, owner: np.ndarray) -> None:
    """The vehicle shares its owner's line of business and state; garaging ZIP and state."""
    has_owner = owner >= 0
    idx = pa.array(np.maximum(owner, 0))
    person = checker.block["persons"]

    def unlike_owner(rule: str, column: str, owner_column: str, message: str) -> None:
        """``rule``: the vehicle's ``column`` equals its owner's ``owner_column``."""
        theirs = person.column(owner_column).take(idx)
        mine = flat_column(checker, "vehicles", column)
        checker.flag(rule, "vehicles", column, differs(has_owner, mine, theirs), message)

    unlike_owner(
        "domain.vehicle_lob", "lob_type", "lob_type", "line of business differs from owner's"
    )
    unlike_owner(
        "domain.garaging_state", "garaging_state", "state", "garaged outside owner's state"
    )
    pair = zip_key(checker, "vehicles", "garaging_postal_code", "garaging_state")
    checker.flag(
        "domain.garaging_zip",
        "vehicles",
        "garaging_postal_code",
        not_in(pair, lookup_tables(ctx.vocab).zip_state),
        "garaging ZIP is not in the garaging state",
    )
    if ctx.plan is not None and ctx.plan.garaging_elsewhere_rate == 0:
        mirrors = "plan says garaging mirrors the residence, but the ZIP differs"
        unlike_owner(
            "plan.garaging_mirrors_residence", "garaging_postal_code", "postal_code", mirrors
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
    _vin_checks(checker, ctx)
    _catalogue_checks(checker, ctx)
    _lob_checks(checker, ctx.plan)
    _owner_checks(checker, ctx, owner)
