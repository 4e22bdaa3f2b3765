"""Committed governed files are current: contracts, vocabularies, tables."""

from __future__ import annotations

import re

import yaml

from esdh_agent.cli.admin import contract_files
from esdh_agent.core.contract import ENTITIES, arrow_schema
from esdh_agent.core.vocab import Vocabulary
from esdh_agent.core.vocab_extract import extract_vocabularies

from tests.conftest import REPO

V01_COLUMNS = {
    "persons": [
        "person_id",
        "first_name",
        "last_name",
        "date_of_birth",
        "driver_license_number",
        "driver_license_state",
        "address_line_1",
        "address_line_2",
        "city",
        "state",
        "postal_code",
        "country",
        "lob_type",
        "synthetic_source",
    ],
    "vehicles": [
        "vehicle_id",
        "person_id",
        "vin",
        "make",
        "model",
        "model_year",
        "body_style",
        "risk_rating",
        "lob_type",
        "garaging_state",
        "garaging_postal_code",
        "synthetic_source",
    ],
    "profiles": [
        "profile_id",
        "person_id",
        "vehicle_id",
        "full_name",
        "lob_type",
        "residence_state",
        "city",
        "postal_code",
        "garaging_state",
        "primary_vehicle_vin",
        "vehicle_summary",
        "risk_rating",
        "synthetic_source",
    ],
}


def test_v01_column_names_and_order_are_kept() -> None:
    for entity in ENTITIES:
        assert arrow_schema(entity).names == V01_COLUMNS[entity]


def test_committed_yaml_contracts_are_current() -> None:
    """Fails when a model changed without `esdh-agent contracts write`."""
    for path, text in contract_files(REPO / "governance").items():
        assert path.is_file(), f"missing {path}"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale"
        doc = yaml.safe_load(text)
        if doc["entity"] != "DatasetMetadata":
            assert [f["name"] for f in doc["fields"]] == V01_COLUMNS[path.stem]


def test_committed_vocabularies_match_the_pinned_libraries() -> None:
    """Fails when someone edits a vocabulary by hand or the pinned libraries moved."""
    folder = REPO / "governance" / "vocabularies"
    for name, text in extract_vocabularies().items():
        assert (folder / name).read_text(encoding="utf-8") == text, f"{name} is stale"


def test_licence_formats_fit_the_contract_and_the_domain(vocab: Vocabulary) -> None:
    formats = vocab.licence_formats.formats
    assert [f.format for f in formats["CA"]] == ["@#######"]
    assert all(re.fullmatch(r"WDL\*{9}", f.format) for f in formats["WA"])
    for state_formats in formats.values():
        for fmt in state_formats:
            sample = fmt.format.replace("@", "A").replace("#", "1").replace("*", "Z")
            assert re.fullmatch(r"[A-Z0-9-]{5,16}", sample)
            assert re.fullmatch(fmt.regex(), sample)


def test_catalogue_gives_every_make_every_body_style(vocab: Vocabulary) -> None:
    for make, models in vocab.catalogue.makes.items():
        assert {m.body_style for m in models} == {"Sedan", "SUV", "Truck"}, make
