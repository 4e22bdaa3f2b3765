"""Helpers several rule families share: vocabulary lookup tables (built once per vocabulary
digest) and the lookups into them, pattern verdicts, "differs from what it copies" masks, ages.

The ZIP and catalogue rules compare joined strings ("ZIP|city|state", "make|model") with
the vocabulary's. When no vocabulary name holds the separator and every ZIP is listed once,
that is the same as comparing the parts, which integer codes do without building strings;
``zip_rows`` and ``catalogue_entries`` do so then, and join the strings otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import COPIES, Checker, as_mask, scalar
from esdh_agent.core.columns import join
from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES
from esdh_agent.core.lookup import gathered
from esdh_agent.core.shapes import compile_shape, mismatches
from esdh_agent.core.vocab import Vocabulary

__all__ = [
    "Catalogue",
    "LookupTables",
    "ages",
    "catalogue_entries",
    "codes_of",
    "differs",
    "failures",
    "joined",
    "licence_key",
    "lookup_tables",
    "not_listed",
    "pattern_failures",
    "person_ages",
    "zip_rows",
]


@dataclass(frozen=True)
class Catalogue:
    """The vehicle catalogue as lookup tables (makes sorted, entries in catalogue order)."""

    makes: pa.Array
    make_wmi: np.ndarray  # sorted make code << 24 | WMI bytes of every catalogue pair
    make_models: pa.Array  # "make|model" of every catalogue entry
    models: pa.Array  # every model name, once
    entry_of: np.ndarray | None  # (makes, models): first catalogue entry, -1; None: join
    model_body: np.ndarray  # body-style code of each entry
    model_years: np.ndarray  # (entries, 60) bool: sold in 1980 + i


@dataclass(frozen=True)
class LookupTables:
    zip_city_state: pa.Array
    zip_state: pa.Array
    zip_codes: pa.Array
    zip_cities: pa.Array
    zip_state_codes: np.ndarray  # CONTRACT_STATES position of each ZIP's state
    zips_by_parts: bool  # ZIPs listed once, no '|' in a city: compare parts, not strings
    licence_regex: str  # over "<state> <number>"
    catalogue: Catalogue


_CACHE: dict[str, LookupTables] = {}


def _catalogue(vocab: Vocabulary) -> Catalogue:
    cat = vocab.catalogue.makes
    makes = sorted(cat)
    entries = [(mk, m.model) for mk, ms in cat.items() for m in ms]
    models = sorted({model for _, model in entries})
    entry_of = np.full((len(makes), len(models)), -1, dtype=np.int64)
    for i, (mk, model) in enumerate(reversed(entries)):  # the first entry wins
        entry_of[makes.index(mk), models.index(model)] = len(entries) - 1 - i
    pairs = {(makes.index(mk), w) for mk, ms in cat.items() for m in ms for w in m.wmi}
    return Catalogue(
        makes=pa.array(makes, pa.string()),
        make_wmi=np.array(
            sorted(code << 24 | int.from_bytes(w.encode(), "big") for code, w in pairs),
            dtype=np.int64,
        ),
        make_models=pa.array([f"{mk}|{model}" for mk, model in entries], pa.string()),
        models=pa.array(models, pa.string()),
        entry_of=None if any("|" in name for name in [*makes, *models]) else entry_of,
        model_body=np.array([BODY_STYLES.index(m.body_style) for ms in cat.values() for m in ms]),
        model_years=np.array(
            [
                [any(lo <= 1980 + i <= hi for lo, hi in m.years) for i in range(60)]
                for ms in cat.values()
                for m in ms
            ]
        ),
    )


def lookup_tables(vocab: Vocabulary) -> LookupTables:
    """Lookup sets built once per vocabulary."""
    if vocab.digest not in _CACHE:
        states: list[str] = []
        for state in CONTRACT_STATES:
            _start, size = vocab.zip_state_offsets[state]
            states += [state] * size
        state_arr = pa.array(states, pa.string())
        formats = vocab.licence_formats.formats
        cities = vocab.zip_cities.to_pylist()
        positions: dict[str, int] = {state: i for i, state in enumerate(CONTRACT_STATES)}
        _CACHE[vocab.digest] = LookupTables(
            zip_city_state=join(vocab.zip_codes, vocab.zip_cities, state_arr, sep="|"),
            zip_state=join(vocab.zip_codes, state_arr, sep="|"),
            zip_codes=vocab.zip_codes,
            zip_cities=vocab.zip_cities,
            zip_state_codes=np.array([positions[s] for s in states], np.int64),
            zips_by_parts=len(set(vocab.zip_codes.to_pylist())) == len(vocab.zip_codes)
            and not any(city is None or "|" in city for city in cities),
            licence_regex="^(?:"
            + "|".join(f"{s} (?:{'|'.join(f.regex() for f in formats[s])})" for s in formats)
            + ")$",
            catalogue=_catalogue(vocab),
        )
    return _CACHE[vocab.digest]


def codes_of(values: pa.Array, allowed: pa.Array) -> np.ndarray:
    """Each value's position in ``allowed`` (-1: absent or null)."""
    found = pc.fill_null(pc.index_in(values, value_set=allowed), -1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def joined(*parts: pa.Array, sep: str) -> pa.Array:
    """``columns.join`` with the separator made an Arrow scalar once."""
    return pc.binary_join_element_wise(*parts, scalar(sep))


def zip_rows(
    checker: Checker, tables: LookupTables, entity: str, columns: tuple[str, ...]
) -> np.ndarray:
    """Rows whose (5-digit ZIP of the postal code, [city,] state) is not a vocabulary entry.

    ``columns`` is (postal, state) or (postal, city, state); a null anywhere is no entry.
    Computed once per block and set of columns.
    """

    def compute() -> np.ndarray:
        values = [checker.column(entity, c) for c in columns]
        return not_listed(tables, values, checker.codes(entity, columns[-1], CONTRACT_STATES))

    bad: np.ndarray = checker.shared(f"zip {entity} {columns}", compute)
    return bad


def not_listed(tables: LookupTables, values: list[pa.Array], state: np.ndarray) -> np.ndarray:
    """Rows whose (ZIP of the postal code, [city,] state) is not a vocabulary entry, given
    (postal, [city,] state) and the states' CONTRACT_STATES codes."""
    postal, *place = values
    zip5 = pc.utf8_slice_codeunits(postal, 0, 5)
    if not tables.zips_by_parts:
        allowed = tables.zip_city_state if len(place) == 2 else tables.zip_state
        return ~as_mask(pc.is_in(joined(zip5, *place, sep="|"), value_set=allowed))
    row = codes_of(zip5, tables.zip_codes)
    found = (row >= 0) & (state == tables.zip_state_codes[np.maximum(row, 0)])
    if len(place) == 2:
        found &= as_mask(pc.equal(place[0], gathered(tables.zip_cities, np.maximum(row, 0))))
    bad: np.ndarray = ~found
    return bad


def catalogue_entries(checker: Checker, tables: LookupTables) -> np.ndarray:
    """Each vehicle's catalogue entry: the first "make|model" equal to its own (-1: none)."""
    cat = tables.catalogue
    make_model = checker.column("vehicles", "make"), checker.column("vehicles", "model")
    if cat.entry_of is None:
        return codes_of(joined(*make_model, sep="|"), cat.make_models)
    make = checker.codes("vehicles", "make", tuple(cat.makes.to_pylist()))
    model = codes_of(make_model[1], cat.models)
    entry = cat.entry_of[np.maximum(make, 0), np.maximum(model, 0)]
    found: np.ndarray = np.where((make >= 0) & (model >= 0), entry, -1)
    return found


def failures(values: pa.Array, pattern: str) -> np.ndarray:
    """Rows whose non-null value does not match ``pattern`` (as RE2 decides)."""
    shape = compile_shape(pattern)
    if shape is not None:
        return mismatches(values, shape)
    return as_mask(pc.invert(pc.match_substring_regex(values, pattern)))


def pattern_failures(checker: Checker, entity: str, column: str, pattern: str) -> np.ndarray:
    """Rows whose non-null value does not match ``pattern`` (computed once per column; a
    column copying another under the same pattern shares the source's verdicts)."""
    if (entity, column) not in checker.pattern_failures:
        copy = COPIES.get((entity, column))
        if copy is not None and checker.patterns.get(copy[:2]) == pattern:
            source = checker.pattern_failures[copy[:2]]
            bad = checker.from_source(entity, column, source, lambda v: failures(v, pattern))
        else:
            bad = failures(checker.column(entity, column), pattern)
        checker.pattern_failures[(entity, column)] = bad
        checker.patterns[(entity, column)] = pattern
    return checker.pattern_failures[(entity, column)]


def differs(
    where: np.ndarray, values: pa.Array | pa.ChunkedArray, expected: pa.Array | pa.ChunkedArray
) -> np.ndarray:
    """Rows in ``where`` whose value is not the expected one (a null differs from nothing)."""
    rows: np.ndarray = where & as_mask(pc.not_equal(values, expected))
    return rows


def licence_key(checker: Checker) -> pa.Array:
    """Each person's licence as "<state> <number>" (what uniqueness and the format check use)."""
    return checker.shared(
        "licence_key",
        lambda: joined(
            checker.column("persons", "driver_license_state"),
            checker.column("persons", "driver_license_number"),
            sep=" ",
        ),
    )


def ages(dob: pa.Array | pa.ChunkedArray, as_of: dt.date) -> np.ndarray:
    """Age in whole years on ``as_of`` (-1 for a missing date of birth)."""
    year = pc.fill_null(pc.year(dob), as_of.year + 1).to_numpy(zero_copy_only=False)
    month = pc.fill_null(pc.month(dob), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    day = pc.fill_null(pc.day(dob), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    before = (month * 100 + day > as_of.month * 100 + as_of.day).astype(np.int64)
    return np.asarray(as_of.year - year - before, dtype=np.int64)


def person_ages(checker: Checker, as_of: dt.date) -> np.ndarray:
    """``ages`` of the block's persons, computed once."""
    dob = checker.column("persons", "date_of_birth")
    return checker.shared("ages", lambda: ages(dob, as_of))  # type: ignore[no-any-return]
