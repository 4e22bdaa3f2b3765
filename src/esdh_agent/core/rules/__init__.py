"""The validator's rules, vectorized. Rule ids are stable: reports and critics cite them.

contract.*    types, required values, patterns, lengths, enums, ranges (from the models)
fk.*          references between persons, vehicles and profiles
profile.*     profiles agree with the person and primary vehicle they copy
unique.*      ids, VINs, licence numbers (whole dataset)
domain.*      licence age and format, ZIP/city/state, VIN check digit/year/WMI, catalogue,
              line-of-business rules, garaging
governance.*  marker on every row; nothing shaped like an SSN, card, phone or e-mail
plan.*        exact counts and quotas of the plan (whole dataset)

One module per family of checks, each a function over a ``Checker`` (core/checker.py):

fields        ``contract``: every column against its contract field
person_rows   ``persons``: licence age and format, ZIP/city/state
vehicle_rows  ``vehicles``: owner, VIN, catalogue, line-of-business rules, garaging
profile_rows  ``profiles``: the (person, primary vehicle) pair and the fields they copy
governance    ``hygiene``: the marker and sensitive-looking values
dataset       ``keys_and_tallies`` per block, then ``uniqueness`` over every block's keys
quotas        ``conformance``: the plan's counts and quotas over every block's tallies
common        lookup tables from the vocabulary and the keys into them, columns, ages

The rules import the checker, never the validator that runs them (core/validate.py).
"""

from __future__ import annotations

from esdh_agent.core.rules.common import ages
from esdh_agent.core.rules.dataset import keys_and_tallies, uniqueness
from esdh_agent.core.rules.fields import contract
from esdh_agent.core.rules.governance import hygiene
from esdh_agent.core.rules.person_rows import persons
from esdh_agent.core.rules.profile_rows import profiles
from esdh_agent.core.rules.quotas import conformance
from esdh_agent.core.rules.vehicle_rows import DEFAULT_LOB_BODY, DEFAULT_LOB_RISK, vehicles

__all__ = [
    "DEFAULT_LOB_BODY",
    "DEFAULT_LOB_RISK",
    "ages",
    "conformance",
    "contract",
    "hygiene",
    "keys_and_tallies",
    "persons",
    "profiles",
    "uniqueness",
    "vehicles",
]
