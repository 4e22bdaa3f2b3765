"""Rules on profiles: a real (person, primary vehicle) pair whose fields they copy.

fk.profile_*, fk.person_without_vehicle and profile.* (primary vehicle, a profile for every
person, copied fields, the UUIDv5 profile id).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, as_mask
from esdh_agent.core.columns import join, uuid5_pairs
from esdh_agent.core.contract import PROFILE_NAMESPACE
from esdh_agent.core.rules.common import differs, flat_column

__all__ = ["profiles"]


def profiles(checker: Checker) -> None:
    """Profiles reference a real (person, primary vehicle) pair and copy their fields."""
    person, vehicle = checker.block["persons"], checker.block["vehicles"]
    pid = flat_column(checker, "profiles", "person_id")
    vid = flat_column(checker, "profiles", "vehicle_id")
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
        differs(both, owner, pid),
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
        differs(both, primary, vid),
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
            differs(both, flat_column(checker, "profiles", column), expected),
            f"{column} differs from {what}",
        )
    ok_ids = as_mask(pc.equal(pc.binary_length(pid), 36))
    ok_ids &= as_mask(pc.equal(pc.binary_length(vid), 36))
    rows = np.flatnonzero(ok_ids)
    derived = uuid5_pairs(PROFILE_NAMESPACE, pid.take(pa.array(rows)), vid.take(pa.array(rows)))
    bad = np.zeros(len(pid), dtype=bool)
    bad[rows] = as_mask(
        pc.not_equal(flat_column(checker, "profiles", "profile_id").take(pa.array(rows)), derived)
    )
    checker.flag(
        "profile.id_derivation",
        "profiles",
        "profile_id",
        bad,
        "profile_id is not UUIDv5 of 'person_id:vehicle_id'",
    )
