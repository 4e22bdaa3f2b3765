"""Rules on profiles: a real (person, primary vehicle) pair whose fields they copy.

fk.profile_*, fk.person_without_vehicle and profile.* (primary vehicle, a profile for every
person, copied fields, the UUIDv5 profile id). What a profile copies is taken from its
person's and vehicle's rows; when profiles sit on their persons' rows (and vehicles too)
the columns are compared as they are, without copying them first.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, as_mask, scalar
from esdh_agent.core.columns import fixed_width_bytes, uuid_column
from esdh_agent.core.contract import PROFILE_NAMESPACE
from esdh_agent.core.lookup import gathered
from esdh_agent.core.rules.common import differs, joined

__all__ = ["derived_ids", "profiles"]

_COPIED = (
    ("full_name", "first_name + last_name"),
    ("lob_type", "the person's lob_type"),
    ("residence_state", "the person's state"),
    ("city", "the person's city"),
    ("postal_code", "the person's postal_code"),
    ("garaging_state", "the vehicle's"),
    ("primary_vehicle_vin", "the vehicle's VIN"),
    ("vehicle_summary", "'<model_year> <make> <model>'"),
    ("risk_rating", "the vehicle's risk"),
)
"""The columns a profile copies, in the order they are checked, and what from."""


def _uuid5(left: pa.Array, right: pa.Array) -> pa.Array:
    """``uuid5_pairs(PROFILE_NAMESPACE, left, right)``, hashing each row of the name matrix
    through a flat view of it (no copy of the names, and no array object per row, which costs
    more than the slice): this loop is most of what the rule costs."""
    names = np.empty((len(left), 89), dtype=np.uint8)
    names[:, 0:16] = np.frombuffer(PROFILE_NAMESPACE.bytes, dtype=np.uint8)
    names[:, 16:52] = fixed_width_bytes(left, 36)
    names[:, 52] = ord(":")
    names[:, 53:89] = fixed_width_bytes(right, 36)
    sha1, flat = hashlib.sha1, names.data.cast("B")
    raw = b"".join([sha1(flat[i : i + 89]).digest() for i in range(0, len(flat), 89)])
    digest = np.frombuffer(raw, dtype=np.uint8).reshape(len(left), 20)[:, :16].copy()
    digest[:, 6] = (digest[:, 6] & 0x0F) | 0x50
    digest[:, 8] = (digest[:, 8] & 0x3F) | 0x80
    return uuid_column(digest)


def derived_ids(checker: Checker) -> tuple[np.ndarray, np.ndarray]:
    """(bad, same): profiles whose id is not the UUIDv5 of their 36-character person and
    vehicle ids, and those whose id is exactly that (so it matches the UUIDv5 pattern, as
    every derived id does). Computed once: the contract's pattern check uses ``same``."""

    def derive() -> tuple[np.ndarray, np.ndarray]:
        pid = checker.column("profiles", "person_id")
        vid = checker.column("profiles", "vehicle_id")
        ok_ids = as_mask(pc.equal(pc.binary_length(pid), scalar(36)))
        ok_ids &= as_mask(pc.equal(pc.binary_length(vid), scalar(36)))
        rows = np.flatnonzero(ok_ids)
        every = len(rows) == len(pid)
        idx = pa.array(rows)
        derived = _uuid5(pid if every else pid.take(idx), vid if every else vid.take(idx))
        profile_id = checker.column("profiles", "profile_id")
        differ = pc.not_equal(profile_id if every else profile_id.take(idx), derived)
        bad, same = np.zeros(len(pid), dtype=bool), np.zeros(len(pid), dtype=bool)
        bad[rows] = as_mask(differ)
        same[rows] = as_mask(differ.is_valid()) & ~bad[rows]
        return bad, same

    return checker.shared("derived profile ids", derive)  # type: ignore[no-any-return]


def profiles(checker: Checker) -> None:
    """Profiles reference a real (person, primary vehicle) pair and copy their fields."""
    pid = checker.column("profiles", "person_id")
    vid = checker.column("profiles", "vehicle_id")
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
    pidx, vidx = np.maximum(pi, 0), np.maximum(vi, 0)

    def person(column: str) -> pa.Array:
        return gathered(checker.column("persons", column), pidx)

    def vehicle(column: str) -> pa.Array:
        return gathered(checker.column("vehicles", column), vidx)

    checker.flag(
        "fk.profile_pair",
        "profiles",
        "vehicle_id",
        differs(both, vehicle("person_id"), pid),
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
    primary = gathered(checker.column("vehicles", "vehicle_id"), np.maximum(first, 0)[pidx])
    checker.flag(
        "profile.primary_vehicle",
        "profiles",
        "vehicle_id",
        differs(both, primary, vid),
        "profile is not for the person's primary (first) vehicle",
    )
    has_profile = checker.index("persons", "person_id", "profiles", "person_id") >= 0
    checker.flag("profile.missing", "persons", "person_id", ~has_profile, "person has no profile")
    full = joined(person("first_name"), person("last_name"), sep=" ")
    summary = joined(
        pc.cast(vehicle("model_year"), pa.string()), vehicle("make"), vehicle("model"), sep=" "
    )
    built = {"full_name": full, "vehicle_summary": summary}
    for column, what in _COPIED:
        if column in built:
            differ = differs(both, checker.column("profiles", column), built[column])
        else:  # a copy of one column: compared once for this rule and the contract's
            differ = both & as_mask(checker.unequal("profiles", column))
        checker.flag(
            "profile.copied_field", "profiles", column, differ, f"{column} differs from {what}"
        )
    checker.flag(
        "profile.id_derivation",
        "profiles",
        "profile_id",
        derived_ids(checker)[0],
        "profile_id is not UUIDv5 of 'person_id:vehicle_id'",
    )
