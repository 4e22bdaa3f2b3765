"""The benchmark's stand-in for the original system writes well-formed files, deterministically.

``benchmarks/original_system.py`` is only a yardstick, but a broken one would make every
end-to-end ratio meaningless: this runs it at 200 persons in-process and reads back what it wrote.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmarks.original_system import PERSON_FIELDS, VEHICLE_FIELDS, VIN_ALPHABET, main

PERSONS = 200


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_original_system_writes_well_formed_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["--persons", str(PERSONS), "--out", str(out), "--seed", "42"]) == 0

    header, persons = read_csv(out / "persons_v0_1.csv")
    assert header == list(PERSON_FIELDS) and len(persons) == PERSONS
    header, vehicles = read_csv(out / "vehicles_v0_1.csv")
    assert header == list(VEHICLE_FIELDS) and len(vehicles) == PERSONS
    person_ids = {p["person_id"] for p in persons}
    assert len(person_ids) == PERSONS and {v["person_id"] for v in vehicles} == person_ids
    assert all(len(v["vin"]) == 17 and set(v["vin"]) <= set(VIN_ALPHABET) for v in vehicles)
    assert [bool(p["address_line_2"]) for p in persons] == [i % 3 == 0 for i in range(PERSONS)]

    dataset = json.loads((out / "dataset_v0_1.json").read_text(encoding="utf-8"))
    assert list(dataset) == ["metadata", "persons", "vehicles", "profiles"]
    assert all(len(dataset[k]) == PERSONS for k in ("persons", "vehicles", "profiles"))
    metadata = json.loads((out / "metadata_v0_1.json").read_text(encoding="utf-8"))
    assert metadata == dataset["metadata"] and metadata["record_count_profiles"] == PERSONS
    assert {p["person_id"] for p in dataset["profiles"]} == person_ids

    manifest = json.loads((out / "snapshot_manifest_v0_1.json").read_text(encoding="utf-8"))
    assert list(manifest) == ["dataset_version", "generated_at", "record_counts", "files", "notes"]
    assert manifest["record_counts"] == {
        "persons": PERSONS,
        "vehicles": PERSONS,
        "profiles": PERSONS,
    }
    assert all((out / name).is_file() for name in manifest["files"].values())


def test_original_system_is_the_original_draw_for_draw(tmp_path: Path) -> None:
    """Same seed, same bytes; and seed 42 starts where the original's own published demo run
    (30 persons, seed 42) starts, so the stand-in consumes its Random as the original does."""
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        main(["--persons", "30", "--out", str(out), "--seed", "42"])
    for name in ("persons_v0_1.csv", "vehicles_v0_1.csv", "dataset_v0_1.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    _, persons = read_csv(a / "persons_v0_1.csv")
    first = persons[0]
    assert first["person_id"] == "bd9c66b3-ad3c-2d6d-1a3d-1fa7bc8960a9"
    assert (first["first_name"], first["last_name"], first["postal_code"]) == (
        "Morgan",
        "Rivera",
        "94721",
    )
    _, vehicles = read_csv(a / "vehicles_v0_1.csv")
    assert (vehicles[0]["vin"], vehicles[0]["make"], vehicles[0]["model"]) == (
        "BN3R5UAL4YUKPYGF1",
        "Toyota",
        "Camry",
    )
    dataset = json.loads((a / "dataset_v0_1.json").read_text(encoding="utf-8"))
    assert dataset["profiles"][0]["profile_id"] == "dd43a343-4641-51d1-a1d9-465fa052e5e9"


def test_each_source_tree_starts_through_its_own_console_script(tmp_path: Path) -> None:
    """``--baseline-src`` columns run the entry point their own pyproject.toml declares (an
    older tree's may not exist in this one), through a launcher written as pip writes one."""
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    try:
        from benchmarks.bench_e2e import cli_command
    finally:
        sys.path.pop(0)
    tree = tmp_path / "older"
    (tree / "src").mkdir(parents=True)
    (tree / "pyproject.toml").write_text(
        '[project]\nname = "esdh-agent"\n\n[project.scripts]\n'
        'esdh-agent = "esdh_agent.cli.app:main"\n',
        encoding="utf-8",
    )
    command = cli_command(tree / "src")
    assert command[0] == sys.executable
    assert "from esdh_agent.cli.app import main" in Path(command[1]).read_text(encoding="utf-8")
    done = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("esdh-agent ")
