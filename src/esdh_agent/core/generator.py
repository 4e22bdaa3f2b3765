"""Generate one block of Person / Vehicle / Profile rows as Arrow tables, vectorized.

Each field draws from its own stream ``(seed, entity, field, block)``, so a block is the
same bytes whichever worker generates it, and a new field never shifts existing ones. Id
fields are keyed on the snapshot's name too (``Layout.name``): other names, other ids.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.columns import (
    char_matrix,
    fixed_width,
    join,
    mixed_radix,
    uuid4_column,
    uuid5_pairs,
)
from esdh_agent.core.contract import CONTRACT_STATES, PROFILE_NAMESPACE, arrow_schema
from esdh_agent.core.layout import (
    BODY_STYLES,
    LOBS,
    NAME_VARIANTS,
    RISKS,
    VIN_SERIAL_DOMAIN,
    BlockSpec,
    Layout,
)
from esdh_agent.core.rng import BlockStreams, block_labels, permute
from esdh_agent.core.vin import VIN_ALPHABET, check_digits, year_code

__all__ = ["GENERATOR_VERSION", "Block", "generate_block"]

GENERATOR_VERSION = "2"
"""Bumped whenever the same plan and vocabulary would give different bytes (2: ids by name)."""


Block = dict[str, pa.Table]

_DIGITS = b"0123456789"
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = _LETTERS + _DIGITS


def _nested(parent: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Child labels: within each parent category, exactly ``counts[p]`` labels, shuffled."""
    out = np.zeros(len(parent), dtype=np.int32)
    for p in range(counts.shape[0]):
        rows = np.flatnonzero(parent == p)
        if len(rows):
            out[rows] = block_labels(counts[p], rng)
    return out


def _pick(pool: pa.Array, rng: np.random.Generator, n: int) -> pa.Array:
    return pool.take(pa.array(rng.integers(0, len(pool), size=n)))


def _labels(values: tuple[str, ...], labels: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(labels))


def _scatter(n: int, groups: list[tuple[np.ndarray, pa.Array | pa.ChunkedArray]]) -> pa.Array:
    """Assemble an array of ``n`` rows from (row indices, values) groups covering all rows."""
    order = np.concatenate([rows for rows, _ in groups])
    values = pa.concat_arrays(
        [v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v for _, v in groups]
    )
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    return values.take(pa.array(inverse))


def _exact_length(values: pa.Array, length: int) -> pa.Array:
    """Cut long strings to exactly ``length`` characters, never ending on a separator."""
    cut = pc.utf8_slice_codeunits(values, 0, length)
    short = pc.utf8_slice_codeunits(cut, 0, length - 1)
    bad_end = pc.or_(pc.ends_with(cut, " "), pc.ends_with(cut, "-"))
    return pc.if_else(bad_end, join(short, "n"), cut)


def _digits(rng: np.random.Generator, n: int, width: int, low: int = 0) -> pa.Array:
    """Zero-padded decimal strings of ``width`` digits, values in [low, 10**width)."""
    values = rng.integers(low, 10**width, size=n, dtype=np.int64)
    return fixed_width(char_matrix(_DIGITS, mixed_radix(values, [10] * width)))


def _names(layout: Layout, rs: BlockStreams, variant: np.ndarray) -> tuple[pa.Array, pa.Array]:
    vocab, n = layout.vocab, len(variant)
    first = _pick(vocab.first_names, rs("first_name"), n)
    last = _pick(vocab.last_names, rs("last_name"), n)
    firsts: list[tuple[np.ndarray, pa.Array]] = []
    lasts: list[tuple[np.ndarray, pa.Array]] = []
    for v, name in enumerate(NAME_VARIANTS):
        rows = np.flatnonzero(variant == v)
        k = len(rows)
        idx = pa.array(rows)
        f, la = first.take(idx), last.take(idx)
        if k == 0:
            pass
        elif name == "hyphenated":
            la = join(la, _pick(vocab.last_names, rs("last_name_2"), k), sep="-")
        elif name == "apostrophe":
            la = _pick(vocab.apostrophe_last_names, rs("apostrophe_name"), k)
        elif name == "non_ascii":
            f = _pick(vocab.non_ascii_first_names, rs("non_ascii_first"), k)
            la = _pick(vocab.non_ascii_last_names, rs("non_ascii_last"), k)
        elif name == "long":
            r = rs("long_name")
            joined = join(*[_pick(vocab.last_names, r, k) for _ in range(6)], sep="-")
            la = pc.utf8_rtrim(_cut_each(joined, r.integers(32, 51, size=k)), characters="-")
        elif name == "max_length":
            r = rs("max_length_name")
            f = _exact_length(
                join(*[_pick(vocab.first_names, r, k) for _ in range(20)], sep="-"), 50
            )
            la = _exact_length(
                join(*[_pick(vocab.last_names, r, k) for _ in range(20)], sep="-"), 50
            )
        firsts.append((rows, f))
        lasts.append((rows, la))
    return _scatter(n, firsts), _scatter(n, lasts)


def _cut_each(values: pa.Array, lengths: np.ndarray) -> pa.Array:
    """Cut each string to its own length (one vectorized slice per distinct length)."""
    groups = []
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        groups.append((rows, pc.utf8_slice_codeunits(values.take(pa.array(rows)), 0, int(length))))
    return _scatter(len(values), groups)


def _ages(layout: Layout, rs: BlockStreams, band: np.ndarray, boundary: np.ndarray) -> pa.Array:
    """Dates of birth: a uniform age in the band, a uniform birthday for that age; boundary
    persons turn the band's min age on the as-of date or its max age + 1 the day after."""
    bands = layout.plan.age_bands
    lo = np.array([b.min_age for b in bands], dtype=np.int64)[band]
    hi = np.array([b.max_age for b in bands], dtype=np.int64)[band]
    r = rs("date_of_birth")
    age = lo + np.floor(r.random(len(band)) * (hi - lo + 1)).astype(np.int64)
    start, end = layout.dob_start[age], layout.dob_end[age]
    days = start + np.floor(r.random(len(band)) * (end - start + 1)).astype(np.int64)
    days = np.where(boundary == 1, layout.dob_end[lo], days)
    days = np.where(boundary == 2, layout.dob_start[hi], days)
    return pa.array(days.astype(np.int32), pa.date32())


def _licences(layout: Layout, spec: BlockSpec, rs: BlockStreams, state: np.ndarray) -> pa.Array:
    """Licence numbers in each state's formats, unique per state by construction."""
    fmt = _nested(state, spec.counts["licence_format"], rs("licence_format"))
    groups = []
    for s, code in enumerate(CONTRACT_STATES):
        for f, entry in enumerate(layout.vocab.licence_formats.formats[code]):
            rows = np.flatnonzero((state == s) & (fmt == f))
            if not len(rows):
                continue
            counter = spec.licence_start[s, f] + np.arange(len(rows), dtype=np.int64)
            values = permute(
                counter.astype(np.uint64),
                entry.capacity(),
                key=layout.plan.seed ^ (s << 56) ^ (f << 48),
            )
            radices = [{"@": 26, "#": 10, "*": 36}.get(ch, 1) for ch in entry.format]
            digits = mixed_radix(values, radices)
            chars = np.empty(digits.shape, dtype=np.uint8)
            for pos, ch in enumerate(entry.format):
                alphabet = {"@": _LETTERS, "#": _DIGITS, "*": _ALNUM}.get(ch, ch.encode())
                chars[:, pos] = char_matrix(alphabet, digits[:, pos])
            groups.append((rows, fixed_width(chars)))
    return _scatter(len(state), groups)


def _persons(layout: Layout, spec: BlockSpec) -> tuple[pa.Table, dict[str, np.ndarray]]:
    plan, vocab, n = layout.plan, layout.vocab, spec.persons
    rs = BlockStreams(plan.seed, "persons", spec.index, layout.name)
    c = spec.counts
    lob = block_labels(c["lob"], rs("lob_type"))
    state = block_labels(c["state"], rs("state"))
    band = block_labels(c["age_band"], rs("age_band"))
    variant = block_labels(c["name_variant"], rs("name_variant"))
    has_line2 = block_labels(c["address_line_2"], rs("address_line_2_flag")) == 1
    plus4 = block_labels(c["zip_plus4"], rs("zip_plus4_flag")) == 1
    boundary = block_labels(c["boundary_age"], rs("boundary_age"))
    vpp_label = _nested(lob, c["vpp"], rs("vehicle_count"))
    max_len = variant == NAME_VARIANTS.index("max_length")

    first, last = _names(layout, rs, variant)

    r = rs("address_line_1")
    width = r.integers(3, 6, size=n)
    number = r.integers(10 ** (width - 1), 10**width)
    line1 = join(
        pc.cast(pa.array(number), pa.string()),
        _pick(vocab.street_names, r, n),
        _pick(vocab.street_suffixes, r, n),
        sep=" ",
    )
    if max_len.any():
        rows = np.flatnonzero(max_len)
        filler = join(*[_pick(vocab.street_names, r, len(rows)) for _ in range(34)], sep=" ")
        long_line = _exact_length(join(line1.take(pa.array(rows)), filler, sep=" "), 100)
        keep = np.flatnonzero(~max_len)
        line1 = _scatter(n, [(keep, line1.take(pa.array(keep))), (rows, long_line)])

    r = rs("address_line_2")
    line2 = join(
        _pick(vocab.unit_designators, r, n),
        pc.cast(pa.array(r.integers(1, 1000, n)), pa.string()),
        sep=" ",
    )
    if max_len.any():
        padded = join(line2, *[_pick(vocab.street_names, r, n) for _ in range(16)], sep=" ")
        line2 = pc.if_else(pa.array(max_len), _exact_length(padded, 50), line2)
    line2 = pc.if_else(pa.array(has_line2), line2, pa.scalar(None, pa.string()))

    offsets = np.array([vocab.zip_state_offsets[s][0] for s in CONTRACT_STATES])[state]
    sizes = np.array([vocab.zip_state_offsets[s][1] for s in CONTRACT_STATES])[state]
    zip_index = offsets + np.floor(rs("postal_code").random(n) * sizes).astype(np.int64)
    zip5 = vocab.zip_codes.take(pa.array(zip_index))
    postal = pc.if_else(
        pa.array(plus4), join(zip5, _digits(rs("zip_plus4"), n, 4, low=1), sep="-"), zip5
    )

    states = _labels(CONTRACT_STATES, state)
    table = pa.Table.from_arrays(
        [
            uuid4_column(rs.ids("person_id"), n),
            first,
            last,
            _ages(layout, rs, band, boundary),
            _licences(layout, spec, rs, state),
            states,
            line1,
            line2,
            vocab.zip_cities.take(pa.array(zip_index)),
            states,
            postal,
            pa.repeat("US", n).cast(pa.string()),
            _labels(LOBS, lob),
            pa.repeat(layout.marker, n).cast(pa.string()),
        ],
        schema=arrow_schema("persons"),
    )
    vehicles = np.array(layout.vpp_values, dtype=np.int64)[vpp_label]
    return table, {"lob": lob, "state": state, "zip_index": zip_index, "vehicles": vehicles}


def _vins(
    layout: Layout, spec: BlockSpec, rs: BlockStreams, model: np.ndarray, year: np.ndarray
) -> pa.Array:
    m = len(model)
    chars = np.empty((m, 17), dtype=np.uint8)
    r = rs("vin")
    for i, entry in enumerate(layout.models):
        rows = np.flatnonzero(model == i)
        if len(rows):
            wmi = np.frombuffer("".join(entry.wmi).encode(), dtype=np.uint8).reshape(-1, 3)
            chars[rows, 0:3] = wmi[r.integers(0, len(wmi), size=len(rows))]
    alphabet = np.frombuffer(VIN_ALPHABET, dtype=np.uint8)
    chars[:, 3:6] = alphabet[r.integers(0, len(alphabet), size=(m, 3))]
    chars[:, 10] = alphabet[r.integers(0, len(alphabet), size=m)]
    serial = permute(
        (spec.vehicle_start + np.arange(m, dtype=np.int64)).astype(np.uint64),
        VIN_SERIAL_DOMAIN,
        key=layout.plan.seed ^ 0x56494E,
    )
    digits = mixed_radix(serial, [33, 33] + [10] * 6)
    chars[:, 6:8] = alphabet[digits[:, 0:2]]
    chars[:, 11:17] = np.frombuffer(_DIGITS, dtype=np.uint8)[digits[:, 2:8]]
    codes = np.frombuffer("".join(year_code(y) for y in range(1980, 2040)).encode(), dtype=np.uint8)
    chars[:, 9] = codes[year - 1980]
    chars[:, 8] = check_digits(chars)
    return fixed_width(chars)


def _vehicles(
    layout: Layout, spec: BlockSpec, persons: pa.Table, p: dict[str, np.ndarray]
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    plan, vocab, m = layout.plan, layout.vocab, spec.vehicles
    rs = BlockStreams(plan.seed, "vehicles", spec.index, layout.name)
    owner = np.repeat(np.arange(spec.persons, dtype=np.int64), p["vehicles"])
    lob = p["lob"][owner]
    body = _nested(lob, spec.counts["body_style"], rs("body_style"))
    risk = _nested(lob, spec.counts["risk"], rs("risk_rating"))
    make = block_labels(spec.counts["make"], rs("make"))
    elsewhere = block_labels(spec.counts["garaging_elsewhere"], rs("garaging_elsewhere")) == 1

    model = np.zeros(m, dtype=np.int64)
    r = rs("model")
    for (mk, bd), cands in layout.candidates.items():
        rows = np.flatnonzero((make == mk) & (body == bd))
        if len(rows):
            model[rows] = cands[r.integers(0, len(cands), size=len(rows))]
    year = np.zeros(m, dtype=np.int64)
    r = rs("model_year")
    for i, entry in enumerate(layout.models):
        rows = np.flatnonzero(model == i)
        if len(rows):
            year[rows] = np.array(entry.years)[r.integers(0, len(entry.years), size=len(rows))]

    zip_index = p["zip_index"][owner]
    garaging_postal = persons.column("postal_code").take(pa.array(owner))
    if elsewhere.any():
        rows = np.flatnonzero(elsewhere)
        state = p["state"][owner[rows]]
        offsets = np.array([vocab.zip_state_offsets[s][0] for s in CONTRACT_STATES])[state]
        sizes = np.array([vocab.zip_state_offsets[s][1] for s in CONTRACT_STATES])[state]
        shift = 1 + np.floor(rs("garaging_postal_code").random(len(rows)) * (sizes - 1))
        other = offsets + (zip_index[rows] - offsets + shift.astype(np.int64)) % sizes
        keep = np.flatnonzero(~elsewhere)
        garaging_postal = _scatter(
            m,
            [
                (keep, garaging_postal.take(pa.array(keep))),
                (rows, vocab.zip_codes.take(pa.array(other))),
            ],
        )

    make_names = pa.array(layout.makes, pa.string()).take(pa.array(make))
    model_names = pa.array([e.name for e in layout.models], pa.string()).take(pa.array(model))
    table = pa.Table.from_arrays(
        [
            uuid4_column(rs.ids("vehicle_id"), m),
            persons.column("person_id").take(pa.array(owner)),
            _vins(layout, spec, rs, model, year),
            make_names,
            model_names,
            pa.array(year.astype(np.int32), pa.int32()),
            _labels(BODY_STYLES, body),
            _labels(RISKS, risk),
            _labels(LOBS, lob),
            persons.column("state").take(pa.array(owner)),
            garaging_postal,
            pa.repeat(layout.marker, m).cast(pa.string()),
        ],
        schema=arrow_schema("vehicles"),
    )
    return table, owner, year


def _profiles(
    layout: Layout,
    persons: pa.Table,
    vehicles: pa.Table,
    p: dict[str, np.ndarray],
    year: np.ndarray,
) -> pa.Table:
    n = persons.num_rows
    primary_rows = np.cumsum(p["vehicles"]) - p["vehicles"]
    primary = pa.array(primary_rows)

    def vcol(name: str) -> pa.Array:
        return vehicles.column(name).combine_chunks().take(primary)

    def pcol(name: str) -> pa.Array:
        return persons.column(name).combine_chunks()

    person_ids, vehicle_ids = pcol("person_id"), vcol("vehicle_id")
    make, model = vcol("make"), vcol("model")
    summary = join(pc.cast(pa.array(year[primary_rows]), pa.string()), make, model, sep=" ")
    return pa.Table.from_arrays(
        [
            uuid5_pairs(PROFILE_NAMESPACE, person_ids, vehicle_ids),
            person_ids,
            vehicle_ids,
            join(pcol("first_name"), pcol("last_name"), sep=" "),
            pcol("lob_type"),
            pcol("state"),
            pcol("city"),
            pcol("postal_code"),
            vcol("garaging_state"),
            vcol("vin"),
            summary,
            vcol("risk_rating"),
            pa.repeat(layout.marker, n).cast(pa.string()),
        ],
        schema=arrow_schema("profiles"),
    )


def generate_block(layout: Layout, spec: BlockSpec) -> Block:
    """Persons, vehicles and profiles of one block, in contract column order."""
    persons, p = _persons(layout, spec)
    vehicles, _owner, year = _vehicles(layout, spec, persons, p)
    profiles = _profiles(layout, persons, vehicles, p, year)
    return {"persons": persons, "vehicles": vehicles, "profiles": profiles}
