"""The validator's shortcuts give the verdicts of the slow, obvious way.

Pattern checks on bytes against RE2, 128-bit keys that depend on a value alone, value codes
against ``index_in``, foreign-key lookups on any row order against a plain search, the
sensitive-value prefilter against the regular expression it guards, and columns that copy
another column checked for themselves where they differ from it.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from esdh_agent.core.contract import ENTITIES, column_rules
from esdh_agent.core.keyhash import keys128
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.report import ValidationReport
from esdh_agent.core.rules.governance import _SENSITIVE, _maybe_sensitive
from esdh_agent.core.shapes import char_lengths, compile_shape, mismatches, value_codes
from esdh_agent.core.validate import Checker, ValidationContext, Validator, check_block
from esdh_agent.core.vocab import Vocabulary

from tests.conftest import MARKER
from tests.core.test_generator import build

PATTERNS = sorted({r.pattern for e in ENTITIES for r in column_rules(e) if r.pattern})
ALPHABET = "0123456789abcdefABCDEFXYZ-:. @()éü😀\n\x1f"


def _strings(seed: int, count: int, lengths: range) -> list[str | None]:
    rng = random.Random(seed)
    out: list[str | None] = [None, "", "\n"]
    while len(out) < count:
        out.append("".join(rng.choice(ALPHABET) for _ in range(rng.choice(lengths))))
    return out


def _near(pattern: str, seed: int, count: int) -> list[str | None]:
    """Values that match ``pattern`` except, often, in one character or in length."""
    rng = random.Random(seed)
    samples = {
        r"^[0-9]{5}(-[0-9]{4})?$": ["94103", "94103-1234"],
        r"^[A-HJ-NPR-Z0-9]{17}$": ["1HGCM82633A004352"],
        r"^[A-Z]{2}$": ["CA"],
        r"^[A-Z0-9-]{5,16}$": ["A1234567", "WDL12345678X", "12-34-56"],
    }
    base = samples.get(pattern, ["0e9b3a5c-1d2e-4f00-8a00-000000000000"])
    out: list[str | None] = []
    for _ in range(count):
        value = list(rng.choice(base))
        move = rng.randrange(5)
        spot = rng.randrange(len(value))
        if move == 0:
            value[spot] = rng.choice(ALPHABET)
        elif move == 1:
            del value[spot]
        elif move == 2:
            value.insert(spot, rng.choice(ALPHABET))
        out.append("".join(value))
    return out


@pytest.mark.parametrize("pattern", PATTERNS)
def test_byte_shapes_match_exactly_what_re2_matches(pattern: str) -> None:
    shape = compile_shape(pattern)
    assert shape is not None, pattern
    values = pa.array(_strings(1, 3000, range(0, 40)) + _near(pattern, 2, 3000), pa.string())
    for sliced in (values, values.slice(7, 4000)):
        regex = pc.fill_null(pc.invert(pc.match_substring_regex(sliced, pattern)), False)
        assert mismatches(sliced, shape).tolist() == regex.to_pylist()


def test_patterns_outside_the_small_language_are_left_to_re2() -> None:
    for pattern in (r"^[a-z]+$", r"^a|b$", r"^(ab){2}$", r"^\d{3}$", r"[0-9]{3}", r"^[^a]$"):
        assert compile_shape(pattern) is None, pattern


def test_character_lengths_count_characters_not_bytes() -> None:
    values = pa.array(["abc", "é" * 50, None, "", "😀x"], pa.string())
    lengths, valid = char_lengths(values)
    assert lengths[valid].tolist() == [3, 50, 0, 2]
    assert valid.tolist() == [True, True, False, True, True]


def test_keys_depend_on_the_value_alone() -> None:
    values = _strings(3, 2000, range(0, 30))
    whole = keys128(pa.array(values, pa.string()))
    for i, value in enumerate(values):
        alone = keys128(pa.array([value], pa.string()))
        assert (alone[0][0], alone[1][0]) == (whole[0][i], whole[1][i]), value
    ascii_only = [v for v in values if v is None or v.isascii()]
    mixed = keys128(pa.array([*ascii_only, "é"], pa.string()))  # not all ASCII: other path
    plain = keys128(pa.array(ascii_only, pa.string()))
    assert mixed[0][:-1].tolist() == plain[0].tolist()
    assert mixed[1][:-1].tolist() == plain[1].tolist()
    null, empty = keys128(pa.array([None, ""], pa.string()))
    assert null[0] == null[1] and empty[0] == empty[1]  # a null hashes like ''
    ids = pa.array([f"{i:036d}" for i in range(50_000)], pa.string())
    assert len(np.unique(keys128(ids)[0])) == 50_000


def test_value_codes_are_index_in() -> None:
    rng = random.Random(4)
    pools = {("CA", "AZ", "NV", "CA"): ["CA", "AZ", "NV", "OR", "ca", "C"], ("Low", "High"): []}
    for allowed, extra in pools.items():
        choices = [*allowed, *extra, "Medium"]
        for values in (
            [rng.choice(choices) for _ in range(500)],
            [rng.choice(allowed) for _ in range(500)],
            [rng.choice([*allowed, None]) for _ in range(500)],
        ):
            array = pa.array(values, pa.string())
            expected = pc.fill_null(pc.index_in(array, value_set=pa.array(allowed)), -1)
            assert value_codes(array, allowed).tolist() == expected.to_pylist()


def test_the_prefilter_keeps_every_sensitive_value() -> None:
    rng = random.Random(5)
    pieces = ["123-45-6789", "4111 1111 1111 1111", "1234567890123", "415.555.0123", "a@b.c"]
    values: list[str | None] = []
    for value in _strings(6, 4000, range(0, 25)):
        if value is not None and rng.random() < 0.3:
            spot = rng.randrange(len(value) + 1)
            value = value[:spot] + rng.choice(pieces) + value[spot:]
        values.append(value)
    array = pa.array(values, pa.string())
    matched = set(np.flatnonzero(pc.fill_null(pc.match_substring_regex(array, _SENSITIVE), False)))
    assert matched and matched <= set(_maybe_sensitive(array).tolist())
    assert all(re.search(_SENSITIVE, values[i] or "") for i in matched)


@pytest.fixture(scope="module")
def block(vocab: Vocabulary) -> tuple[GenerationPlan, dict[str, pa.Table]]:
    plan = GenerationPlan(person_count=300, vehicles_per_person={1: 0.5, 2: 0.3, 3: 0.2})
    return plan, build(plan, vocab, block_size=300)


def _first_match(needles: list[str | None], hay: list[str | None]) -> list[int]:
    first: dict[str, int] = {}
    for row, value in enumerate(hay):
        first.setdefault("" if value is None else value, row)
    return [-1 if v is None else first.get(v, -1) for v in needles]


LOOKUPS = [
    ("vehicles", "person_id", "persons", "person_id"),
    ("profiles", "person_id", "persons", "person_id"),
    ("profiles", "vehicle_id", "vehicles", "vehicle_id"),
    ("persons", "person_id", "vehicles", "person_id"),
    ("persons", "person_id", "profiles", "person_id"),
]


@pytest.mark.parametrize("order", ["as generated", "shuffled", "duplicated"])
def test_lookups_find_the_first_match_whatever_the_row_order(
    block: tuple[GenerationPlan, dict[str, pa.Table]], order: str
) -> None:
    _, tables = block
    rng = np.random.default_rng(7)
    if order != "as generated":
        tables = {e: t.take(pa.array(rng.permutation(t.num_rows))) for e, t in tables.items()}
    if order == "duplicated":  # repeated ids and a null: the first row must still win
        persons = tables["persons"]
        ids = persons.column("person_id").to_pylist()
        ids[5], ids[9], ids[11] = ids[40], ids[2], None
        tables["persons"] = persons.set_column(0, "person_id", pa.array(ids, pa.string()))
    checker = Checker(tables, {})
    for entity, column, target, target_column in LOOKUPS:
        found = checker.index(entity, column, target, target_column)
        needles = tables[entity].column(column).to_pylist()
        hay = tables[target].column(target_column).to_pylist()
        assert found.tolist() == _first_match(needles, hay), (entity, column, target)


def _report(
    vocab: Vocabulary, plan: GenerationPlan | None, blocks: list[dict[str, pa.Table]]
) -> ValidationReport:
    as_of = GenerationPlan().as_of_date
    ctx = ValidationContext(vocab=vocab, as_of=as_of, marker=MARKER, plan=plan)
    validator = Validator(ctx)
    offsets = dict.fromkeys(ENTITIES, 0)
    for part in blocks:
        validator.add(check_block(ctx, part, dict(offsets)))
        offsets = {e: offsets[e] + part[e].num_rows for e in ENTITIES}
    return validator.finish()


def _set(table: pa.Table, column: str, row: int, value: object) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.column_names.index(column)
    return table.set_column(index, table.field(column), pa.array(values, table.field(column).type))


def test_a_repeat_across_blocks_is_found_whatever_else_the_blocks_hold(
    vocab: Vocabulary, block: tuple[GenerationPlan, dict[str, pa.Table]]
) -> None:
    """Keys must not depend on the other values of a block: a long licence in one block
    once changed how every licence of that block was hashed, hiding repeats across blocks."""
    _, tables = block
    half = {e: t.slice(0, t.num_rows // 2) for e, t in tables.items()}
    rest = {e: t.slice(t.num_rows // 2) for e, t in tables.items()}
    persons = rest["persons"]
    for column in ("driver_license_state", "driver_license_number"):
        persons = _set(persons, column, 3, half["persons"].column(column)[0].as_py())
    persons = _set(persons, "driver_license_number", 7, "Z" * 30)
    report = _report(vocab, None, [half, {**rest, "persons": persons}])
    repeat = [f for f in report.findings if f.rule == "unique.licence"]
    assert [(f.count, f.samples[0]) for f in repeat] == [(2, "row 1")]


def test_one_overlong_reference_fails_alone(
    vocab: Vocabulary, block: tuple[GenerationPlan, dict[str, pa.Table]]
) -> None:
    _, tables = block
    vehicles = _set(tables["vehicles"], "person_id", 4, "x" * 60)
    report = _report(vocab, None, [{**tables, "vehicles": vehicles}])
    fk = [f for f in report.findings if f.rule == "fk.vehicle_person"]
    assert [(f.count, f.samples[0].split(" (")[0]) for f in fk] == [(1, "row 5")]


def test_copying_columns_are_checked_where_they_differ_from_the_source(
    vocab: Vocabulary, block: tuple[GenerationPlan, dict[str, pa.Table]]
) -> None:
    _, tables = block
    profiles = _set(tables["profiles"], "postal_code", 8, "9410")
    profiles = _set(profiles, "lob_type", 9, "Retail")
    vehicles = _set(tables["vehicles"], "garaging_state", 2, "ca")
    report = _report(vocab, None, [{**tables, "profiles": profiles, "vehicles": vehicles}])
    found = {(f.rule, f.entity, f.field): f.count for f in report.findings}
    assert found[("contract.pattern", "profiles", "postal_code")] == 1
    assert found[("contract.enum", "profiles", "lob_type")] == 1
    assert found[("contract.pattern", "vehicles", "garaging_state")] == 1
    assert found[("profile.copied_field", "profiles", "postal_code")] == 1
    assert found[("domain.garaging_state", "vehicles", "garaging_state")] == 1
