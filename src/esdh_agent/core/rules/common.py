"""Helpers several rule families share: vocabulary lookup tables and the keys into them
(ZIP, licence), whole columns, "differs from what it copies" masks, ages."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, as_mask
from esdh_agent.core.columns import join
from esdh_agent.core.contract import BODY_STYLES, CONTRACT_STATES
from esdh_agent.core.vocab import Vocabulary

__all__ = [
    "LookupTables",
    "ages",
    "differs",
    "flat_column",
    "licence_key",
    "lookup_tables",
    "not_in",
    "zip_key",
]


@dataclass(frozen=True)
class LookupTables:
    zip_city_state: pa.Array
    zip_state: pa.Array
    licence_regex: str
    make_wmi: pa.Array
    make_models: pa.Array  # "make|model" of every catalogue entry
    model_body: np.ndarray  # body-style code of each entry
    model_years: np.ndarray  # (entries, 60) bool: sold in 1980 + i
    makes: pa.Array


_CACHE: dict[str, LookupTables] = {}


def lookup_tables(vocab: Vocabulary) -> LookupTables:
    """Lookup sets built once per vocabulary."""
    if vocab.digest not in _CACHE:
        states: list[str] = []
        for state in CONTRACT_STATES:
            _start, size = vocab.zip_state_offsets[state]
            states += [state] * size
        state_arr = pa.array(states, pa.string())
        formats = vocab.licence_formats.formats
        cat = vocab.catalogue.makes
        _CACHE[vocab.digest] = LookupTables(
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


def zip_key(checker: Checker, entity: str, postal: str, *place: str) -> pa.Array:
    """The 5-digit ZIP of ``postal`` and the ``place`` columns, keyed as the lookup tables are."""
    return join(
        pc.utf8_slice_codeunits(flat_column(checker, entity, postal), 0, 5),
        *(flat_column(checker, entity, column) for column in place),
        sep="|",
    )


def not_in(values: pa.Array | pa.ChunkedArray, allowed: pa.Array) -> pa.Array:
    return pc.invert(pc.is_in(values, value_set=allowed))


def differs(
    where: np.ndarray, values: pa.Array | pa.ChunkedArray, expected: pa.Array | pa.ChunkedArray
) -> np.ndarray:
    """Rows in ``where`` whose value is not the expected one (a null differs from nothing)."""
    rows: np.ndarray = where & as_mask(pc.not_equal(values, expected))
    return rows


def flat_column(checker: Checker, entity: str, name: str) -> pa.Array:
    """One column of the block as a single array (chunks combined)."""
    column = checker.block[entity].column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def licence_key(checker: Checker, sep: str) -> pa.Array:
    """Each person's licence as its state and number, joined by ``sep``."""
    return join(
        flat_column(checker, "persons", "driver_license_state"),
        flat_column(checker, "persons", "driver_license_number"),
        sep=sep,
    )


def ages(dob: pa.Array | pa.ChunkedArray, as_of: dt.date) -> np.ndarray:
    """Age in whole years on ``as_of`` (-1 for a missing date of birth)."""
    year = pc.fill_null(pc.year(dob), as_of.year + 1).to_numpy(zero_copy_only=False)
    month_day = pc.add(pc.multiply(pc.month(dob), 100), pc.day(dob))
    md = pc.fill_null(month_day, 0).to_numpy(zero_copy_only=False)
    before = (md > as_of.month * 100 + as_of.day).astype(np.int64)
    return np.asarray(as_of.year - year - before, dtype=np.int64)
