"""The validator's rules, vectorized. Rule ids are stable: reports and critics cite them.

contract.*    types, required values, patterns, lengths, enums, ranges (from the models)
fk.*          references between persons, vehicles and profiles
profile.*     profiles agree with the person and primary vehicle they copy
unique.*      ids, VINs, licence numbers (whole dataset)
domain.*      licence age and format, ZIP/city/state, VIN check digit/year/WMI, catalogue,
              line-of-business rules, garaging
governance.*  marker on every row; nothing shaped like an SSN, card, phone or e-mail
plan.*        exact counts and quotas of the plan (whole dataset)
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.columns import fixed_width_bytes, join, repeated_rows, uuid5_pairs
from esdh_agent.core.contract import (
    BODY_STYLES,
    CONTRACT_STATES,
    LOBS,
    PROFILE_NAMESPACE,
    RISKS,
    column_rules,
)
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import MAX_SAMPLES, Finding
from esdh_agent.core.rng import largest_remainder
from esdh_agent.core.vin import YEAR_CODES, check_digits
from esdh_agent.core.vocab import Vocabulary

if TYPE_CHECKING:
    from esdh_agent.core.validate import Checker, KeyStore, ValidationContext

__all__ = [
    "DEFAULT_LOB_BODY",
    "DEFAULT_LOB_RISK",
    "conformance",
    "contract",
    "hygiene",
    "keys_and_tallies",
    "persons",
    "profiles",
    "uniqueness",
    "vehicles",
]

DERIVED_IDS: dict[tuple[str, str], tuple[str, str]] = {
    ("vehicles", "person_id"): ("persons", "person_id"),
    ("profiles", "person_id"): ("persons", "person_id"),
    ("profiles", "vehicle_id"): ("vehicles", "vehicle_id"),
}
"""Foreign-key columns and the column whose values they copy."""
DEFAULT_LOB_BODY: dict[str, tuple[str, ...]] = {
    "Personal": ("Sedan", "SUV"),
    "Commercial": ("SUV", "Truck"),
}
DEFAULT_LOB_RISK: dict[str, tuple[str, ...]] = {
    "Personal": ("Low", "Medium"),
    "Commercial": ("Medium", "High"),
}
LICENSED_AGES = (16, 99)
FREE_TEXT = {
    "persons": (
        "first_name",
        "last_name",
        "driver_license_number",
        "address_line_1",
        "address_line_2",
        "city",
    ),
    "vehicles": ("make", "model"),
    "profiles": ("full_name", "city", "vehicle_summary"),
}
_SENSITIVE = (
    r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -]"
    r"[0-9]{4}[ -][0-9]{4}|\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}|@"
)
_SSN = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])")
_CARD = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_PHONE = re.compile(r"\(?([0-9]{3})\)?[ .-]([0-9]{3})[ .-]([0-9]{4})")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[A-Za-z]{2,})")
RESERVED_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class _Tables:
    zip_city_state: pa.Array
    zip_state: pa.Array
    licence_regex: str
    make_wmi: pa.Array
    make_models: pa.Array  # "make|model" of every catalogue entry
    model_body: np.ndarray  # body-style code of each entry
    model_years: np.ndarray  # (entries, 60) bool: sold in 1980 + i
    makes: pa.Array


_CACHE: dict[str, _Tables] = {}


def _tables(vocab: Vocabulary) -> _Tables:
    """Lookup sets built once per vocabulary."""
    if vocab.digest not in _CACHE:
        states: list[str] = []
        for state in CONTRACT_STATES:
            _start, size = vocab.zip_state_offsets[state]
            states += [state] * size
        state_arr = pa.array(states, pa.string())
        formats = vocab.licence_formats.formats
        cat = vocab.catalogue.makes
        _CACHE[vocab.digest] = _Tables(
            zip_city_state=join(vocab.zip_codes, vocab.zip_cities, state_arr, sep="|"),
            zip_state=join(vocab.zip_codes, state_arr, sep="|"),
            licence_regex="^(?:"
            + "|".join(f"{s}:(?:{'|'.join(f.regex() for f in formats[s])})" for s in formats)
            + ")$",
            make_wmi=pa.array(
                sorted({f"{mk}|{w}" for mk, models in cat.items() for m in models for w in m.wmi})
            ),
            make_models=pa.array([f"{mk}|{m.model}" for mk, ms in cat.items() for m in ms]),
            model_body=np.array(
                [BODY_STYLES.index(m.body_style) for ms in cat.values() for m in ms]
            ),
            model_years=np.array(
                [
                    [any(lo <= 1980 + i <= hi for lo, hi in m.years) for i in range(60)]
                    for ms in cat.values()
                    for m in ms
                ]
            ),
            makes=pa.array(sorted(cat)),
        )
    return _CACHE[vocab.digest]


def _not_in(values: pa.Array | pa.ChunkedArray, allowed: pa.Array) -> pa.Array:
    return pc.invert(pc.is_in(values, value_set=allowed))


def _col(checker: Checker, entity: str, name: str) -> pa.Array:
    column = checker.block[entity].column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


# --- contract -----------------------------------------------------------------------------


def contract(checker: Checker, entity: str) -> None:
    """Types, required values, patterns, lengths, enums and ranges from the pydantic models."""
    table = checker.block[entity]
    for rule in column_rules(entity):
        values = table.column(rule.name)
        if rule.required:
            checker.flag(
                "contract.required",
                entity,
                rule.name,
                values.is_null(),
                f"{rule.name} is required but empty",
            )
        if rule.kind != "string":
            if rule.ge is not None or rule.le is not None:
                low = pc.less(values, rule.ge) if rule.ge is not None else None
                high = pc.greater(values, rule.le) if rule.le is not None else None
                bad = pc.or_(low, high) if low is not None and high is not None else (low or high)
                checker.flag(
                    "contract.range",
                    entity,
                    rule.name,
                    bad,
                    f"{rule.name} outside {rule.ge}-{rule.le}",
                )
            continue
        if rule.enum:
            codes = checker.codes(entity, rule.name, rule.enum)
            checker.flag(
                "contract.enum",
                entity,
                rule.name,
                (codes < 0) & as_np(values.is_valid()),
                f"{rule.name} not one of {', '.join(rule.enum)}",
            )
        elif rule.pattern:
            source = DERIVED_IDS.get((entity, rule.name))
            if source is not None and source in checker.pattern_failures:
                # Rows that equal a checked source value share its verdict; only rows with
                # no match in the source need the regular expression.
                found = checker.index(entity, rule.name, *source)
                bad = np.zeros(len(values), dtype=bool)
                bad[found >= 0] = checker.pattern_failures[source][found[found >= 0]]
                loose = np.flatnonzero(found < 0)
                if len(loose):
                    sub = values.take(pa.array(loose))
                    bad[loose] = ~as_np(pc.match_substring_regex(sub, rule.pattern))
                    bad[loose] &= as_np(sub.is_valid())
            else:
                bad = as_np(pc.invert(pc.match_substring_regex(values, rule.pattern)))
            checker.pattern_failures[(entity, rule.name)] = bad
            checker.flag(
                "contract.pattern",
                entity,
                rule.name,
                bad,
                f"{rule.name} does not match {rule.pattern}",
            )
        if rule.pattern is None and (rule.min_length is not None or rule.max_length is not None):
            length = pc.utf8_length(values)
            bad = pc.or_(
                pc.less(length, rule.min_length or 0),
                pc.greater(length, rule.max_length or 1 << 30),
            )
            checker.flag(
                "contract.length",
                entity,
                rule.name,
                bad,
                f"{rule.name} length outside {rule.min_length}-{rule.max_length}",
            )


# --- persons ------------------------------------------------------------------------------


def ages(dob: pa.Array | pa.ChunkedArray, as_of: dt.date) -> np.ndarray:
    """Age in whole years on ``as_of`` (-1 for a missing date of birth)."""
    year = pc.fill_null(pc.year(dob), as_of.year + 1).to_numpy(zero_copy_only=False)
    month_day = pc.add(pc.multiply(pc.month(dob), 100), pc.day(dob))
    md = pc.fill_null(month_day, 0).to_numpy(zero_copy_only=False)
    before = (md > as_of.month * 100 + as_of.day).astype(np.int64)
    return np.asarray(as_of.year - year - before, dtype=np.int64)


def persons(checker: Checker, ctx: ValidationContext) -> None:
    """Licence age and format, ZIP/city/state triples."""
    tables = _tables(ctx.vocab)
    age = ages(checker.block["persons"].column("date_of_birth"), ctx.as_of)
    low, high = LICENSED_AGES
    checker.flag(
        "domain.licence_age",
        "persons",
        "date_of_birth",
        (age >= 0) & ((age < low) | (age > high)),
        f"age on {ctx.as_of} outside the licensed {low}-{high}",
    )
    keyed = join(
        _col(checker, "persons", "driver_license_state"),
        _col(checker, "persons", "driver_license_number"),
        sep=":",
    )
    checker.flag(
        "domain.licence_format",
        "persons",
        "driver_license_number",
        pc.invert(pc.match_substring_regex(keyed, tables.licence_regex)),
        "licence number does not follow its state's format",
    )
    postal = _col(checker, "persons", "postal_code")
    triple = join(
        pc.utf8_slice_codeunits(postal, 0, 5),
        _col(checker, "persons", "city"),
        _col(checker, "persons", "state"),
        sep="|",
    )
    checker.flag(
        "domain.zip_city_state",
        "persons",
        "postal_code",
        _not_in(triple, tables.zip_city_state),
        "ZIP, city and state are not a real triple",
    )


def as_np(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


# --- vehicles -----------------------------------------------------------------------------


def _vin_checks(checker: Checker, ctx: ValidationContext) -> None:
    vin = _col(checker, "vehicles", "vin")
    valid = as_np(pc.match_substring_regex(vin, r"^[A-HJ-NPR-Z0-9]{17}$"))
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
    year = pc.fill_null(_col(checker, "vehicles", "model_year"), 0).to_numpy(zero_copy_only=False)
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
    tables = _tables(ctx.vocab)
    make = _col(checker, "vehicles", "make")
    known = as_np(pc.is_in(make, value_set=tables.makes))
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
        known & valid & as_np(_not_in(pair, tables.make_wmi)),
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


def vehicles(checker: Checker, ctx: ValidationContext) -> None:
    """Owner exists, VIN, catalogue, line-of-business rules, garaging."""
    tables = _tables(ctx.vocab)
    owner = checker.index("vehicles", "person_id", "persons", "person_id")
    checker.flag(
        "fk.vehicle_person",
        "vehicles",
        "person_id",
        owner < 0,
        "vehicle's person_id is not a person",
    )
    _vin_checks(checker, ctx)
    make, model = _col(checker, "vehicles", "make"), _col(checker, "vehicles", "model")
    known = as_np(pc.is_in(make, value_set=tables.makes))
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
    year = pc.fill_null(_col(checker, "vehicles", "model_year"), 0).to_numpy(zero_copy_only=False)
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
    lob = checker.codes("vehicles", "lob_type", LOBS)
    for column, values, attr, default, message in (
        (
            "body_style",
            BODY_STYLES,
            "body_style_mix",
            DEFAULT_LOB_BODY,
            "body style not allowed for the line of business",
        ),
        (
            "risk_rating",
            RISKS,
            "risk_mix",
            DEFAULT_LOB_RISK,
            "risk rating not allowed for the line of business",
        ),
    ):
        allowed = _allowed_matrix(ctx.plan, attr, default, values)
        codes = checker.codes("vehicles", column, values)
        both = (lob >= 0) & (codes >= 0)
        bad = both & ~allowed[np.maximum(lob, 0), np.maximum(codes, 0)]
        checker.flag(
            f"domain.lob_{'body_style' if column == 'body_style' else 'risk'}",
            "vehicles",
            column,
            bad,
            message,
        )
    has_owner = owner >= 0
    idx = pa.array(np.maximum(owner, 0))
    person = checker.block["persons"]
    for column, owner_column, rule, message in (
        ("lob_type", "lob_type", "domain.vehicle_lob", "line of business differs from owner's"),
        ("garaging_state", "state", "domain.garaging_state", "garaged outside owner's state"),
    ):
        theirs = person.column(owner_column).take(idx)
        checker.flag(
            rule,
            "vehicles",
            column,
            has_owner & as_np(pc.not_equal(_col(checker, "vehicles", column), theirs)),
            message,
        )
    garage = _col(checker, "vehicles", "garaging_postal_code")
    pair = join(
        pc.utf8_slice_codeunits(garage, 0, 5), _col(checker, "vehicles", "garaging_state"), sep="|"
    )
    checker.flag(
        "domain.garaging_zip",
        "vehicles",
        "garaging_postal_code",
        _not_in(pair, tables.zip_state),
        "garaging ZIP is not in the garaging state",
    )
    if ctx.plan is not None and ctx.plan.garaging_elsewhere_rate == 0:
        theirs = person.column("postal_code").take(idx)
        checker.flag(
            "plan.garaging_mirrors_residence",
            "vehicles",
            "garaging_postal_code",
            has_owner & as_np(pc.not_equal(garage, theirs)),
            "plan says garaging mirrors the residence, but the ZIP differs",
        )


# --- profiles -----------------------------------------------------------------------------


def profiles(checker: Checker) -> None:
    """Profiles reference a real (person, primary vehicle) pair and copy their fields."""
    person, vehicle = checker.block["persons"], checker.block["vehicles"]
    pid, vid = _col(checker, "profiles", "person_id"), _col(checker, "profiles", "vehicle_id")
    pi = checker.index("profiles", "person_id", "persons", "person_id")
    vi = checker.index("profiles", "vehicle_id", "vehicles", "vehicle_id")
    checker.flag(
        "fk.profile_person", "profiles", "person_id", pi < 0, "profile's person_id is not a person"
    )
    checker.flag(
        "fk.profile_vehicle",
        "profiles",
        "vehicle_id",
        vi < 0,
        "profile's vehicle_id is not a vehicle",
    )
    both = (pi >= 0) & (vi >= 0)
    pidx, vidx = pa.array(np.maximum(pi, 0)), pa.array(np.maximum(vi, 0))
    owner = vehicle.column("person_id").take(vidx)
    checker.flag(
        "fk.profile_pair",
        "profiles",
        "vehicle_id",
        both & as_np(pc.not_equal(owner, pid)),
        "profile's vehicle belongs to another person",
    )
    first = checker.index("persons", "person_id", "vehicles", "person_id")
    checker.flag(
        "fk.person_without_vehicle",
        "persons",
        "person_id",
        first < 0,
        "person owns no vehicle, so has no primary vehicle",
    )
    primary = vehicle.column("vehicle_id").take(pa.array(np.maximum(first, 0))).take(pidx)
    checker.flag(
        "profile.primary_vehicle",
        "profiles",
        "vehicle_id",
        both & as_np(pc.not_equal(primary, vid)),
        "profile is not for the person's primary (first) vehicle",
    )
    has_profile = checker.index("persons", "person_id", "profiles", "person_id") >= 0
    checker.flag("profile.missing", "persons", "person_id", ~has_profile, "person has no profile")
    full = join(
        person.column("first_name").take(pidx), person.column("last_name").take(pidx), sep=" "
    )
    summary = join(
        pc.cast(vehicle.column("model_year").take(vidx), pa.string()),
        vehicle.column("make").take(vidx),
        vehicle.column("model").take(vidx),
        sep=" ",
    )
    copies = [
        ("full_name", full, "first_name + last_name"),
        ("lob_type", person.column("lob_type").take(pidx), "the person's lob_type"),
        ("residence_state", person.column("state").take(pidx), "the person's state"),
        ("city", person.column("city").take(pidx), "the person's city"),
        ("postal_code", person.column("postal_code").take(pidx), "the person's postal_code"),
        ("garaging_state", vehicle.column("garaging_state").take(vidx), "the vehicle's"),
        ("primary_vehicle_vin", vehicle.column("vin").take(vidx), "the vehicle's VIN"),
        ("vehicle_summary", summary, "'<model_year> <make> <model>'"),
        ("risk_rating", vehicle.column("risk_rating").take(vidx), "the vehicle's risk"),
    ]
    for column, expected, what in copies:
        checker.flag(
            "profile.copied_field",
            "profiles",
            column,
            both & as_np(pc.not_equal(_col(checker, "profiles", column), expected)),
            f"{column} differs from {what}",
        )
    ok_ids = as_np(pc.equal(pc.binary_length(pid), 36)) & as_np(pc.equal(pc.binary_length(vid), 36))
    rows = np.flatnonzero(ok_ids)
    derived = uuid5_pairs(PROFILE_NAMESPACE, pid.take(pa.array(rows)), vid.take(pa.array(rows)))
    bad = np.zeros(len(pid), dtype=bool)
    bad[rows] = as_np(
        pc.not_equal(_col(checker, "profiles", "profile_id").take(pa.array(rows)), derived)
    )
    checker.flag(
        "profile.id_derivation",
        "profiles",
        "profile_id",
        bad,
        "profile_id is not UUIDv5 of 'person_id:vehicle_id'",
    )


# --- governance hygiene -------------------------------------------------------------------


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _sensitive_kind(text: str) -> str | None:
    """What a suspicious string looks like: 'SSN', 'card number', 'phone', 'e-mail' or None."""
    if _SSN.search(text):
        return "SSN"
    for match in _CARD.finditer(text):
        if _luhn(re.sub(r"[ -]", "", match.group())):
            return "card number"
    for match in _PHONE.finditer(text):
        if not (match.group(2) == "555" and "0100" <= match.group(3) <= "0199"):
            return "phone number"
    for match in _EMAIL.finditer(text):
        if match.group(1).lower() not in RESERVED_EMAIL_DOMAINS:
            return "e-mail address"
    return None


def hygiene(checker: Checker, ctx: ValidationContext) -> None:
    """The marker on every row; nothing shaped like real personal data."""
    checker.result.rules.add("governance.sensitive_shape")
    for entity, columns in FREE_TEXT.items():
        table = checker.block[entity]
        if ctx.marker is not None:
            checker.flag(
                "governance.marker",
                entity,
                "synthetic_source",
                pc.not_equal(table.column("synthetic_source"), ctx.marker),
                f"synthetic_source is not the required marker {ctx.marker!r}",
            )
        texts = [_col(checker, entity, c) for c in columns]
        combined = pc.binary_join_element_wise(*texts, "\x1f", null_handling="replace")
        suspect = np.flatnonzero(as_np(pc.match_substring_regex(combined, _SENSITIVE)))
        if not len(suspect):
            continue
        rows = pa.array(suspect)
        for column, values in zip(columns, texts, strict=True):
            by_kind: dict[str, list[int]] = {}
            for row, text in zip(suspect, values.take(rows).to_pylist(), strict=True):
                kind = _sensitive_kind(text or "")
                if kind:
                    by_kind.setdefault(kind, []).append(int(row))
            for kind, bad_rows in by_kind.items():
                mask = np.zeros(len(values), dtype=bool)
                mask[bad_rows] = True
                checker.flag(
                    "governance.sensitive_shape",
                    entity,
                    column,
                    mask,
                    f"value is shaped like a real {kind}",
                )


# --- whole-dataset rules ------------------------------------------------------------------


def keys_and_tallies(checker: Checker, ctx: ValidationContext) -> None:
    """Hand back what uniqueness and plan conformance need."""
    person, vehicle = checker.block["persons"], checker.block["vehicles"]
    profile = checker.block["profiles"]
    checker.key("persons.person_id", "persons", person.column("person_id"), "person_id")
    checker.key(
        "persons.licence",
        "persons",
        join(
            _col(checker, "persons", "driver_license_state"),
            _col(checker, "persons", "driver_license_number"),
            sep=" ",
        ),
    )
    checker.key("vehicles.vehicle_id", "vehicles", vehicle.column("vehicle_id"), "vehicle_id")
    checker.key("vehicles.vin", "vehicles", vehicle.column("vin"))
    checker.key("profiles.profile_id", "profiles", profile.column("profile_id"))
    checker.key("profiles.person_id", "profiles", profile.column("person_id"), "person_id")
    if ctx.plan is None:
        return
    lob = checker.codes("persons", "lob_type", LOBS)
    checker.tally_codes("lob_type", lob, LOBS)
    checker.tally_codes(
        "state", checker.codes("persons", "state", CONTRACT_STATES), CONTRACT_STATES
    )
    age = ages(person.column("date_of_birth"), ctx.as_of)
    checker.tally("age", pa.array(age))
    checker.tally(
        "address_line_2", pc.if_else(person.column("address_line_2").is_valid(), "yes", "no")
    )
    checker.tally(
        "zip_plus4",
        pc.if_else(pc.greater(pc.utf8_length(person.column("postal_code")), 5), "yes", "no"),
    )
    owner = checker.index("vehicles", "person_id", "persons", "person_id")
    count = np.bincount(owner[owner >= 0], minlength=person.num_rows)
    pairs = [f"{name}|{k}" for name in LOBS for k in range(int(count.max(initial=0)) + 1)]
    width = int(count.max(initial=0)) + 1
    checker.tally_codes("vehicles_per_person", np.where(lob >= 0, lob * width + count, -1), pairs)
    vlob = checker.codes("vehicles", "lob_type", LOBS)
    for column, values in (("body_style", BODY_STYLES), ("risk_rating", RISKS)):
        codes = checker.codes("vehicles", column, values)
        combined = np.where((vlob >= 0) & (codes >= 0), vlob * len(values) + codes, -1)
        labels = [f"{name}|{v}" for name in LOBS for v in values]
        checker.tally_codes(column, combined, labels)
    checker.tally("make", vehicle.column("make"))
    checker.tally("model_year", vehicle.column("model_year"))
    idx = pa.array(np.maximum(owner, 0))
    differs = pc.not_equal(
        vehicle.column("garaging_postal_code"), person.column("postal_code").take(idx)
    )
    checker.tally("garaging_elsewhere", pc.if_else(differs, "yes", "no"))


def uniqueness(keys: KeyStore, rules: set[str]) -> list[Finding]:
    """Values that appear more than once in the whole dataset.

    Checked one hash bucket at a time (equal keys share a bucket), so only one bucket is in
    memory. The finding counts every row whose value repeats and samples the first rows in
    row order, exactly as one sort over all keys would.
    """
    findings = []
    for name in sorted(keys.names):
        entity, column = name.split(".")
        rule = f"unique.{column}"
        rules.add(rule)
        count, first = 0, np.zeros(0, dtype=np.int64)
        for records in keys.buckets(name):
            repeated = repeated_rows(records["h1"], records["h2"])
            if len(repeated):
                count += len(repeated)
                rows = np.concatenate([first, records["row"][repeated]])
                first = np.sort(rows)[:MAX_SAMPLES]
        if not count:
            continue
        findings.append(
            Finding(
                rule=rule,
                entity=entity,
                field="driver_license_number" if column == "licence" else column,
                severity="error",
                message=f"{column} values repeat",
                count=count,
                samples=[f"row {int(r)}" for r in first],
            )
        )
    return findings


def _expect(
    rule: str,
    entity: str,
    column: str,
    expected: dict[str, int],
    found: Counter[str],
    findings: list[Finding],
    rules: set[str],
) -> None:
    rules.add(rule)
    wrong = [
        f"{key}: expected {expected.get(key, 0)}, found {found.get(key, 0)}"
        for key in sorted(set(expected) | set(found))
        if expected.get(key, 0) != found.get(key, 0)
    ]
    if wrong:
        findings.append(
            Finding(
                rule=rule,
                entity=entity,
                field=column,
                severity="error",
                message=f"{column} does not match the plan's exact quotas",
                count=len(wrong),
                samples=wrong[:MAX_SAMPLES],
            )
        )


def _quota(total: int, shares: dict[str, float]) -> dict[str, int]:
    keys = list(shares)
    counts = largest_remainder(total, [shares[k] for k in keys])
    return {k: int(c) for k, c in zip(keys, counts, strict=True) if c}


def conformance(
    plan: GenerationPlan, tallies: dict[str, Counter[str]], rows: dict[str, int], rules: set[str]
) -> list[Finding]:
    """The data realizes the plan's counts and exact quotas."""
    findings: list[Finding] = []
    empty: Counter[str] = Counter()
    t = {
        k: tallies.get(k, empty)
        for k in (
            "lob_type",
            "state",
            "age",
            "address_line_2",
            "zip_plus4",
            "vehicles_per_person",
            "body_style",
            "risk_rating",
            "make",
            "model_year",
            "garaging_elsewhere",
        )
    }
    n = plan.person_count
    _expect(
        "plan.count",
        "persons",
        "rows",
        {"persons": n},
        Counter({"persons": rows.get("persons", 0)}),
        findings,
        rules,
    )
    lob = _quota(n, {str(k): v for k, v in plan.lob_mix.items()})
    _expect("plan.quota", "persons", "lob_type", lob, t["lob_type"], findings, rules)
    _expect(
        "plan.quota",
        "persons",
        "state",
        _quota(n, {str(k): v for k, v in plan.state_mix.items()}),
        t["state"],
        findings,
        rules,
    )
    rate2 = plan.address_line_2_rate
    _expect(
        "plan.quota",
        "persons",
        "address_line_2",
        _quota(n, {"no": 1 - rate2, "yes": rate2}),
        t["address_line_2"],
        findings,
        rules,
    )
    rate4 = plan.zip_plus4_rate
    _expect(
        "plan.quota",
        "persons",
        "postal_code",
        _quota(n, {"no": 1 - rate4, "yes": rate4}),
        t["zip_plus4"],
        findings,
        rules,
    )
    vpp: dict[str, int] = {}
    vehicles_by_lob: dict[str, int] = {}
    for name, count in lob.items():
        shares = {str(k): v for k, v in plan.vehicles_per_person.items()}
        for k, c in _quota(count, shares).items():
            vpp[f"{name}|{k}"] = c
            vehicles_by_lob[name] = vehicles_by_lob.get(name, 0) + int(k) * c
    _expect(
        "plan.quota",
        "vehicles",
        "vehicles_per_person",
        vpp,
        t["vehicles_per_person"],
        findings,
        rules,
    )
    total_vehicles = sum(vehicles_by_lob.values())
    _expect(
        "plan.count",
        "vehicles",
        "rows",
        {"vehicles": total_vehicles},
        Counter({"vehicles": rows.get("vehicles", 0)}),
        findings,
        rules,
    )
    for column, attr in (("body_style", "body_style_mix"), ("risk_rating", "risk_mix")):
        expected: dict[str, int] = {}
        mix: dict[str, dict[str, float]] = getattr(plan, attr)
        for name, count in vehicles_by_lob.items():
            for value, c in _quota(count, dict(mix[name])).items():
                expected[f"{name}|{value}"] = c
        _expect("plan.quota", "vehicles", column, expected, t[column], findings, rules)
    _expect(
        "plan.quota",
        "vehicles",
        "make",
        _quota(total_vehicles, dict(plan.make_mix)),
        t["make"],
        findings,
        rules,
    )
    rate = plan.garaging_elsewhere_rate
    _expect(
        "plan.quota",
        "vehicles",
        "garaging_postal_code",
        _quota(total_vehicles, {"no": 1 - rate, "yes": rate}),
        t["garaging_elsewhere"],
        findings,
        rules,
    )
    lo, hi = plan.age_range()
    outside = sum(c for age, c in t["age"].items() if not lo <= int(age) <= hi)
    rules.add("plan.age_range")
    if outside:
        findings.append(
            Finding(
                rule="plan.age_range",
                entity="persons",
                field="date_of_birth",
                severity="error",
                count=outside,
                message=f"ages outside the plan's {lo}-{hi}",
            )
        )
    bands = sorted((b.min_age, b.max_age) for b in plan.age_bands)
    if all(a[1] < b[0] for a, b in itertools.pairwise(bands)):
        expected_bands = _quota(n, {f"{b.min_age}-{b.max_age}": b.share for b in plan.age_bands})
        found_bands: Counter[str] = Counter()
        for age, c in t["age"].items():
            for b in plan.age_bands:
                if b.min_age <= int(age) <= b.max_age:
                    found_bands[f"{b.min_age}-{b.max_age}"] += c
        _expect("plan.quota", "persons", "age_band", expected_bands, found_bands, findings, rules)
    ylo, yhi = plan.model_year_min, plan.model_year_max
    outside = sum(c for y, c in t["model_year"].items() if not ylo <= int(y) <= yhi)
    rules.add("plan.model_year_range")
    if outside:
        findings.append(
            Finding(
                rule="plan.model_year_range",
                entity="vehicles",
                field="model_year",
                severity="error",
                count=outside,
                message=f"model years outside the plan's {ylo}-{yhi}",
            )
        )
    return findings
