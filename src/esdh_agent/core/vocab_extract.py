"""Extract the governed vocabularies from Faker and the zipcodes package, once.

The generator never calls Faker: it draws from these workspace files, which are hashed into
every manifest, so upgrading Faker can never silently change a snapshot. Refresh them with
``esdh-agent vocab extract`` (a governed change); a test fails when the committed files differ
from what the pinned libraries produce.
"""

from __future__ import annotations

import csv
import importlib
import io
import re
from collections.abc import Iterable
from importlib.metadata import version

from esdh_agent.core.contract import CONTRACT_STATES

__all__ = ["VOCABULARY_FILES", "extract_vocabularies"]

VOCABULARY_FILES = (
    "first_names.txt",
    "last_names.txt",
    "apostrophe_last_names.txt",
    "non_ascii_first_names.txt",
    "non_ascii_last_names.txt",
    "street_names.txt",
    "street_suffixes.txt",
    "unit_designators.txt",
    "zip_codes.csv",
    "sources.yaml",
)

_NAME = re.compile(r"^[^\W\d_]+(?:[-'][^\W\d_]+)*$")
_NON_ASCII_LOCALES = ("es_MX", "de_DE", "fr_FR")
_APOSTROPHE_LOCALES = ("en_IE", "en_GB")


def _names(locale: str, attr: str) -> list[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    values = getattr(provider, attr)
    return [str(v) for v in (values.keys() if isinstance(values, dict) else values)]


def _lines(values: Iterable[str]) -> str:
    return "".join(f"{v}\n" for v in sorted(set(values)))


def _clean(values: Iterable[str], max_length: int = 20) -> list[str]:
    return [v for v in values if _NAME.match(v) and 2 <= len(v) <= max_length]


def extract_vocabularies() -> dict[str, str]:
    """File name → text of every vocabulary file, from the pinned libraries."""
    import zipcodes

    first = _clean(_names("en_US", "first_names"))
    last = _clean(_names("en_US", "last_names"))
    apostrophe = [
        n for loc in _APOSTROPHE_LOCALES for n in _clean(_names(loc, "last_names")) if "'" in n
    ]
    non_ascii_first = [
        n
        for loc in _NON_ASCII_LOCALES
        for n in _clean(_names(loc, "first_names"))
        if not n.isascii() and "'" not in n
    ]
    non_ascii_last = [
        n
        for loc in _NON_ASCII_LOCALES
        for n in _clean(_names(loc, "last_names"))
        if not n.isascii() and "'" not in n
    ]
    address = importlib.import_module("faker.providers.address.en_US").Provider
    suffixes = [str(s) for s in address.street_suffixes]
    designators = sorted({f.split(" ")[0].rstrip(".") for f in address.secondary_address_formats})
    streets = [n for n in _clean(_names("en_US", "last_names")) if "-" not in n]

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["zip_code", "city", "state"])
    for state in CONTRACT_STATES:
        rows = sorted(
            (z["zip_code"], z["city"])
            for z in zipcodes.filter_by(state=state)  # type: ignore[no-untyped-call]
            if z["zip_code_type"] == "STANDARD" and z["active"]
        )
        for zip_code, city in rows:
            writer.writerow([zip_code, city, state])

    sources = (
        "# Where the vocabularies came from. Regenerate with `esdh-agent vocab extract`.\n"
        f"faker: {version('Faker')}\n"
        f"zipcodes: {version('zipcodes')}\n"
        "first_names: faker en_US person first_names\n"
        "last_names: faker en_US person last_names\n"
        f"apostrophe_last_names: faker {', '.join(_APOSTROPHE_LOCALES)} last names with an "
        "apostrophe\n"
        f"non_ascii_names: faker {', '.join(_NON_ASCII_LOCALES)} names with non-ASCII letters\n"
        "street_names: faker en_US last_names (the en_US street_name pattern)\n"
        "street_suffixes: faker en_US address street_suffixes\n"
        "unit_designators: faker en_US address secondary_address_formats\n"
        "zip_codes: zipcodes, STANDARD and active ZIPs of the contract states\n"
    )
    return {
        "first_names.txt": _lines(first),
        "last_names.txt": _lines(last),
        "apostrophe_last_names.txt": _lines(apostrophe),
        "non_ascii_first_names.txt": _lines(non_ascii_first),
        "non_ascii_last_names.txt": _lines(non_ascii_last),
        "street_names.txt": _lines(streets),
        "street_suffixes.txt": _lines(suffixes),
        "unit_designators.txt": _lines(designators),
        "zip_codes.csv": buffer.getvalue(),
        "sources.yaml": sources,
    }
