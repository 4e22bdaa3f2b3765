"""The command line as a new user meets it: the main job, reruns, and every bad input."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from esdh_agent.core.generator import GENERATOR_VERSION
from esdh_agent.core.layout import default_snapshot_name
from esdh_agent.core.plan import GenerationPlan
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def snapshot_dirs(ws: Workspace) -> list[str]:
    root = ws.data / "snapshots"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def test_baseline_generate_then_rerun_verify_reproduce(cli: Cli, workspace: Workspace) -> None:
    first = cli("generate")
    assert first.code == 0, first.err
    assert "Committed snapshot v0.1: 200 persons, 200 vehicles, 200 profiles" in first.out
    manifest = json.loads((workspace.data / "snapshots/v0.1/manifest.json").read_text())
    assert manifest["seed"] == 20251101 and manifest["dataset_version"] == "v0.1"
    assert manifest["marker"] == "enterprise-synthetic-data-hub v0.1"
    assert set(manifest["generator"]["libraries"]) == {"numpy", "pyarrow", "Faker", "zipcodes"}
    meta = json.loads((workspace.data / "snapshots/v0.1/metadata.json").read_text())
    assert meta["generated_at"] == "2025-11-01T00:00:00"
    assert meta["record_count_persons"] == 200

    mtimes = {p: p.stat().st_mtime_ns for p in (workspace.data / "snapshots/v0.1").iterdir()}
    again = cli("generate")
    assert again.code == 0 and "Unchanged snapshot v0.1" in again.out
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    assert cli("snapshots", "verify", "v0.1").code == 0
    reproduced = cli("snapshots", "reproduce", "v0.1")
    assert reproduced.code == 0 and manifest["content_hash"] in reproduced.out
    listed = cli("snapshots", "list", "--json")
    assert [s["name"] for s in json.loads(listed.out)] == ["v0.1"]
    assert cli("snapshots", "show", "v0.1").code == 0
    assert cli("validate", "v0.1").code == 0


def test_other_options_get_their_own_default_name(cli: Cli, workspace: Workspace) -> None:
    """A plain generate with other options never collides with the default snapshot."""
    assert cli("generate").code == 0
    first = cli("generate", "--persons", "1000", "--json")
    assert first.code == 0, first.err
    data = json.loads(first.out)
    plan = GenerationPlan(person_count=1000)
    assert data["status"] == "committed"
    assert data["name"] == f"v0.1-{plan.plan_hash()[:8]}" == default_snapshot_name(plan)
    again = cli("generate", "--persons", "1000")
    assert again.code == 0 and f"Unchanged snapshot {data['name']}" in again.out
    assert snapshot_dirs(workspace) == sorted(["v0.1", data["name"]])
    assert cli("generate", "--persons", "200", "--seed", "20251101").out.startswith(
        "Unchanged snapshot v0.1:"  # the default plan spelled out is still the default plan
    )
    assert cli("generate", "--version", "v0.2").code == 0
    assert "v0.2" in snapshot_dirs(workspace)
    named = json.loads(cli("generate", "--persons", "1000", "--name", "mine", "--json").out)
    assert named["name"] == "mine" and named["content_hash"] != data["content_hash"]
    persons = {
        n: (workspace.data / "snapshots" / n / "persons.csv").read_text().splitlines()[1:]
        for n in ("mine", data["name"])
    }
    ids = {n: {line.split(",")[0] for line in lines} for n, lines in persons.items()}
    assert not ids["mine"] & ids[data["name"]]  # loadable together
    rest = {n: [line.split(",", 1)[1] for line in lines] for n, lines in persons.items()}
    assert rest["mine"] == rest[data["name"]]  # only the ids differ


def test_reproduce_explains_a_snapshot_of_another_generator_version(
    cli: Cli, workspace: Workspace
) -> None:
    assert cli("generate", "--persons", "30", "--name", "snap").code == 0
    old = workspace.store().path("old")
    shutil.copytree(workspace.store().path("snap"), old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["name"] = "old"
    manifest["generator"]["generator_version"] = "1"
    (old / "manifest.json").write_text(json.dumps(manifest))
    result = cli("snapshots", "reproduce", "old")
    assert result.code == 1 and result.out == ""
    errors = [line for line in result.err.splitlines() if line.strip()]
    assert len(errors) == 1, result.err
    assert f"old was made by generator 1; this is generator {GENERATOR_VERSION}" in errors[0]
    assert "cannot be reproduced by this version; re-generate it" in errors[0]
    data = json.loads(cli("snapshots", "reproduce", "old", "--json").out)
    assert not data["ok"] and data["actual"] is None and data["generator_version"] == "1"
    assert data["other_generator"].startswith("old was made by generator 1")
    assert cli("snapshots", "reproduce", "snap").code == 0


def test_json_output_and_formats(cli: Cli, workspace: Workspace) -> None:
    result = cli(
        "generate", "--persons", "50", "--name", "small", "--format", "csv,parquet", "--json"
    )
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["status"] == "committed" and data["rows"]["persons"] == 50
    assert "persons.parquet" in data["files"]


def test_diff_reports_counts_and_plan_changes(cli: Cli) -> None:
    assert cli("generate", "--persons", "40", "--name", "a").code == 0
    assert cli("generate", "--persons", "60", "--seed", "7", "--name", "b").code == 0
    diff = json.loads(cli("snapshots", "diff", "a", "b", "--json").out)
    assert diff["counts"]["persons"] == [40, 60]
    assert diff["plan"]["seed"] == [20251101, 7]
    assert not diff["content_equal"]
    assert "persons" in cli("snapshots", "diff", "a", "b").out


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--plan", "{plan_unknown}"], 2, "plan.yaml:2: unknown field 'colour'"),
        (["--plan", "{plan_sum}"], 2, "lob_mix shares sum to 0.9; they must sum to 1"),
        (["--plan", "{plan_state}"], 2, "state_mix: key 'TX' is not allowed"),
        (["--plan", "{plan_yaml}"], 2, "invalid YAML"),
        (["--plan", "{missing}"], 2, "file not found"),
        (["--name", "../x"], 2, "invalid snapshot name '../x'"),
        (["--persons", "0"], 2, "person_count: Input should be greater than or equal to 1"),
        (["--persons", "5000000"], 1, "exceeds the policy cap of 2000000"),
        (["--format", "xml"], 2, "unknown format 'xml'"),
        (["--workers", "0"], 2, "--workers must be at least 1"),
        (["--persons", "abc"], 2, "Invalid value"),
        (["--plan", "{plan_kids}"], 5, "validation found"),
    ],
)
def test_bad_input_gives_one_clear_line_and_leaves_nothing(
    cli: Cli,
    workspace: Workspace,
    tmp_path: Path,
    staging_empty: Callable[[], bool],
    args: list[str],
    code: int,
    message: str,
) -> None:
    files = {
        "plan_unknown": write(tmp_path, "plan.yaml", "person_count: 10\ncolour: blue\n"),
        "plan_sum": write(tmp_path, "sum.yaml", "lob_mix:\n  Personal: 0.5\n  Commercial: 0.4\n"),
        "plan_state": write(tmp_path, "state.yaml", "state_mix: {TX: 1.0}\n"),
        "plan_yaml": write(tmp_path, "broken.yaml", "person_count: [1\n"),
        "plan_kids": write(
            tmp_path,
            "kids.yaml",
            "person_count: 10\nage_bands: [{min_age: 12, max_age: 14, share: 1}]\n",
        ),
        "missing": str(tmp_path / "nope.yaml"),
    }
    result = cli("generate", *[a.format(**files) for a in args])
    assert result.code == code, (result.out, result.err)
    assert message in result.err + result.out
    assert "Traceback" not in result.err
    if code != 5:
        errors = [line for line in result.err.splitlines() if line.lower().startswith("error")]
        assert len(errors) == 1, result.err
    assert snapshot_dirs(workspace) == []
    assert staging_empty()


def test_different_content_under_a_committed_name_is_refused(cli: Cli) -> None:
    assert cli("generate", "--persons", "20", "--name", "mine").code == 0
    result = cli("generate", "--persons", "21", "--name", "mine")
    assert result.code == 1
    assert "already exists with different content" in result.err


def test_unwritable_data_directory_is_a_clear_error(cli: Cli, workspace: Workspace) -> None:
    (workspace.data / "snapshots").rmdir()
    (workspace.data / "snapshots").write_text("not a directory")
    result = cli("generate", "--persons", "10")
    assert result.code == 1
    assert "cannot write the snapshot" in result.err and "Traceback" not in result.err


def test_corrupt_snapshot_is_reported_on_verify_and_validate(
    cli: Cli, workspace: Workspace
) -> None:
    assert cli("generate", "--persons", "30", "--name", "v0.1").code == 0
    path = workspace.data / "snapshots/v0.1/persons.csv"
    text = path.read_text(encoding="utf-8").replace('"Personal"', '"Persnal"', 1)
    path.write_text(text, encoding="utf-8")
    verify = cli("snapshots", "verify", "v0.1")
    assert verify.code == 1 and "persons.csv: " in verify.err and "manifest says" in verify.err
    validate = cli("validate", str(workspace.data / "snapshots/v0.1"))
    assert validate.code == 5 and "contract.enum" in validate.out
    (workspace.data / "snapshots/v0.1/manifest.json").write_text("{")
    broken = cli("snapshots", "verify", "v0.1")
    assert broken.code == 1 and "manifest is unreadable" in broken.err
    assert "unreadable manifest" in cli("snapshots", "list").out


def test_validate_a_directory_someone_else_produced(
    cli: Cli, workspace: Workspace, tmp_path: Path
) -> None:
    assert cli("generate", "--persons", "25", "--name", "v0.1").code == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("persons.csv", "vehicles.csv", "profiles.csv"):
        (foreign / name).write_bytes((workspace.data / "snapshots/v0.1" / name).read_bytes())
    assert cli("validate", str(foreign), "--as-of", "2025-11-01").code == 0
    (foreign / "vehicles.csv").write_text("vin\n1\n")
    result = cli("validate", str(foreign))
    assert result.code == 2 and "does not have the contract's columns" in result.err


def test_debug_shows_the_traceback(cli: Cli) -> None:
    with pytest.raises(Exception, match="invalid snapshot name"):
        cli("--debug", "generate", "--name", "../x")


def test_unknown_snapshot_and_usage_errors(cli: Cli) -> None:
    missing = cli("snapshots", "show", "nope")
    assert missing.code == 1 and "no snapshot named 'nope'" in missing.err
    assert cli("snapshots", "show", "../etc").code == 2
    assert cli("generate", "--no-such-option").code == 2
    assert cli("--version").out.startswith("esdh-agent ")


def test_workspace_discovery(
    cli: Cli, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = workspace.root / "prompts"
    assert cli("snapshots", "list", cwd=nested).code == 0
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    lost = cli("snapshots", "list", cwd=outside)
    assert lost.code == 1 and "no workspace found" in lost.err
    assert cli("snapshots", "list", "--workspace", str(workspace.root), cwd=outside).code == 0
    assert cli("--workspace", str(workspace.root), "snapshots", "list", cwd=outside).code == 0
    monkeypatch.setenv("ESDH_WORKSPACE", str(workspace.root))
    assert cli("snapshots", "list", cwd=outside).code == 0


def test_init_creates_a_workspace_and_refuses_a_non_empty_directory(
    cli: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "new"
    assert cli("init", str(target)).code == 0
    for entry in (
        "esdh-workspace.yaml",
        "governance/policy.yaml",
        "governance/vocabularies/zip_codes.csv",
        "governance/schemas/v0.1/persons.yaml",
        "mop",
        "prompts",
        "critics",
        "cassettes",
        "data/snapshots",
    ):
        assert (target / entry).exists(), entry
    again = cli("init", str(target))
    assert again.code == 2 and "not empty" in again.err
    assert not any(p.name.startswith(".new.init") for p in tmp_path.iterdir())


def test_contracts_and_vocab_checks_pass_on_a_fresh_workspace(cli: Cli) -> None:
    assert cli("contracts", "write", "--check").code == 0
    assert cli("vocab", "extract", "--check").code == 0


def test_plan_show_and_schema(cli: Cli) -> None:
    assert "person_count: 7" in cli("plan", "show", "--persons", "7").out
    schema = json.loads(cli("plan", "schema").out)
    assert "lob_mix" in schema["properties"] and schema["additionalProperties"] is False


def test_help_is_available_for_every_command(cli: Cli) -> None:
    for args in (
        ["--help"],
        ["generate", "--help"],
        ["snapshots", "--help"],
        ["validate", "--help"],
    ):
        assert cli(*args).code == 0
    assert os.environ.get("ESDH_WORKSPACE") is None
