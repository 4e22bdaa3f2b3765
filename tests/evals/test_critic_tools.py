"""Prompt authors' tools: critic eval, critic run, cassettes check and record."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.agents.extraction_aspects import answer_schema
from esdh_agent.agents.gate import pinned_refusals
from esdh_agent.agents.grounding import ground, slice_grammar, unread_aspects
from esdh_agent.agents.registry import critic_ids
from esdh_agent.ledger.extract import extract
from esdh_agent.workspace import Workspace

from tests.conftest import CliResult
from tests.llm.fake_server import completion, fake_openai

Cli = Callable[..., CliResult]
UNROUTABLE = "http://203.0.113.7:9/v1"


@pytest.fixture(autouse=True)
def _replay_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESDH_LLM_BASE_URL", UNROUTABLE)
    monkeypatch.delenv("ESDH_LLM_MODE", raising=False)


def test_eval_scores_every_critic_on_its_cases(cli: Cli, workspace: Workspace) -> None:
    result = cli("critic", "eval", "--json")
    assert result.code == 0, result.err
    rows = {r["now"]["critic"]: r["now"] for r in json.loads(result.out)}
    assert set(rows) == {
        "rules",
        "request",
        "plan-fidelity",
        "governance-privacy",
        "realism-coherence",
    }
    assert rows["rules"]["accuracy"] == 1.0 and rows["rules"]["recall"] == 1.0
    assert rows["request"]["accuracy"] == 1.0 and rows["request"]["recall"] == 1.0
    for critic, row in rows.items():
        assert row["cases"] == len(row["outcomes"]) >= 4, critic
        assert 0.0 <= row["accuracy"] <= 1.0
    table = cli("critic", "eval").out
    assert "accuracy" in table and "precision" in table and "recall" in table
    # The built-in request critic runs in every run and is labelled like the others.
    assert "request" in critic_ids(load_agent_workspace(workspace))


def test_min_accuracy_is_a_ci_gate(cli: Cli) -> None:
    passing = cli("critic", "eval", "rules", "--min-accuracy", "0.99")
    assert passing.code == 0
    failing = cli("critic", "eval", "--min-accuracy", "0.99")
    assert failing.code == 2 and "accuracy below 0.99" in failing.err


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _commit(root: Path, message: str = "start") -> None:
    who = ["-c", "user.email=t@example.com", "-c", "user.name=t"]
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, *who, "add", "-A", ".")
    git(root, *who, "commit", "-qm", message)


def _reword(workspace: Workspace, critic: str = "plan-fidelity") -> None:
    """One changed word in a critic template: none of its recorded calls replays now."""
    template = workspace.root / "critics" / f"{critic}.md"
    text = template.read_text()
    assert "for a QA lead" in text
    template.write_text(text.replace("for a QA lead", "for the QA lead", 1))


def test_against_a_revision_side_by_side(cli: Cli, workspace: Workspace) -> None:
    _commit(workspace.root)
    template = workspace.root / "critics" / "plan-fidelity.md"
    text = template.read_text()
    committed = yaml.safe_load(text.split("---")[1])["version"]
    bumped = text.replace("pass_threshold: 0.5", "pass_threshold: 0.99").replace(
        f"version: {committed}", "version: 9.9.9"
    )
    assert bumped.count("9.9.9") == 1 and "pass_threshold: 0.99" in bumped
    template.write_text(bumped)
    result = cli("critic", "eval", "plan-fidelity", "--against", "HEAD", "--json")
    assert result.code == 0, result.err
    row = json.loads(result.out)[0]
    assert row["now"]["template_version"] == "9.9.9"
    assert row["against"]["template_version"] == committed
    assert row["against"]["revision"] == "HEAD" and isinstance(row["changed"], list)
    missing = cli("critic", "eval", "plan-fidelity", "--against", "no-such-rev")
    assert missing.code == 2 and "git revision 'no-such-rev' does not exist" in missing.err
    assert "fatal" not in missing.err and missing.err.count("\n") == 1


def test_eval_scores_what_it_can_and_lists_what_needs_recording(
    cli: Cli, workspace: Workspace
) -> None:
    _reword(workspace)
    result = cli("critic", "eval", "--json")
    assert result.code == 6, result.err  # documented: some cases need recording
    rows = {r["now"]["critic"]: r["now"] for r in json.loads(result.out)}
    unrecorded = rows["plan-fidelity"]
    assert unrecorded["scored"] == 0 and unrecorded["accuracy"] is None
    assert len(unrecorded["needs_recording"]) == unrecorded["cases"] >= 4
    assert unrecorded["record_with"] == (
        "esdh-agent cassettes record --eval plan-fidelity --base-url URL"
    )
    for critic in ("rules", "governance-privacy", "realism-coherence"):
        assert rows[critic]["scored"] == rows[critic]["cases"] > 0, critic
        assert rows[critic]["needs_recording"] == [] and rows[critic]["accuracy"] is not None
    table = cli("critic", "eval")
    assert table.code == 6
    assert "needs recording plan-fidelity" in table.out and "0 of " in table.out
    assert "esdh-agent cassettes record --eval plan-fidelity" in table.out
    assert "realism-coherence" in table.out and "needs recording: plan-fidelity" in table.err
    allowed = cli("critic", "eval", "--allow-unrecorded", "--min-accuracy", "0.1")
    assert allowed.code == 0, allowed.err
    assert "--allow-unrecorded" in cli("critic", "eval", "--help").out


def test_against_always_shows_both_sides(cli: Cli, workspace: Workspace) -> None:
    _commit(workspace.root)
    _reword(workspace)
    result = cli("critic", "eval", "--against", "HEAD", "--json")
    assert result.code == 6
    rows = {r["now"]["critic"]: r for r in json.loads(result.out)}
    now, then = rows["plan-fidelity"]["now"], rows["plan-fidelity"]["against"]
    assert now["scored"] == 0 and then["scored"] == then["cases"] == now["cases"]
    assert then["accuracy"] is not None and then["revision"] == "HEAD"
    assert rows["rules"]["against"]["note"].startswith("built into the framework")
    table = cli("critic", "eval", "plan-fidelity", "--against", "HEAD").out
    assert "@HEAD" in table and "0.57" in table
    # A critic whose template did not exist at the revision: one line, no git `fatal:`.
    git(workspace.root, "rm", "-q", "--cached", "critics/plan-fidelity.md")
    git(workspace.root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "x")
    gone = cli("critic", "eval", "plan-fidelity", "--against", "HEAD", "--allow-unrecorded")
    assert gone.code == 0, gone.err
    assert "plan-fidelity @HEAD: critics/plan-fidelity.md did not exist at HEAD" in gone.out
    assert "fatal" not in gone.out + gone.err
    as_json = json.loads(cli("critic", "eval", "plan-fidelity", "--against", "HEAD", "--json").out)[
        0
    ]
    assert as_json["against"] == {
        "revision": "HEAD",
        "note": "critics/plan-fidelity.md did not exist at HEAD: nothing to compare",
    }


def test_against_outside_git_is_one_line(cli: Cli) -> None:
    result = cli("critic", "eval", "rules", "--against", "HEAD")
    assert result.code == 2 and "needs the workspace in a git repository" in result.err
    assert "fatal" not in result.err


def test_cases_are_current_and_built_from_the_generator(cli: Cli, workspace: Workspace) -> None:
    assert cli("critic", "cases", "build", "--check").code == 0
    case = yaml.safe_load((workspace.root / "critics/cases/licensed-12-year-olds.yaml").read_text())
    rules = {f["rule"] for f in case["validation"]["findings"]}
    assert "domain.licence_age" in rules and case["expected"]["rules"] == "block"
    assert case["profile"]["counts"]["persons"] == 120


def test_critic_run_regrades_a_snapshot_from_the_slice_recording(cli: Cli) -> None:
    """An unchanged workspace: every LLM critic's call on a committed slice snapshot is in the
    slice's cassette (the snapshot is re-validated and profiled exactly as the run did)."""
    assert cli("run", "slice-generation", "--slice", "commercial-fleet").code == 0
    for critic in ("plan-fidelity", "governance-privacy", "realism-coherence"):
        regraded = cli("critic", "run", critic, "--snapshot", "commercial-fleet-v0.1", "--json")
        assert regraded.code == 0, regraded.err
        events = json.loads(regraded.out)["transcript"]
        assert any(e["type"] == "llm_response" for e in events), critic


def test_critic_run_regrades_saved_output(cli: Cli) -> None:
    run = json.loads(cli("run", "slice-generation", "--json").out)[0]
    regraded = cli("critic", "run", "plan-fidelity", "--run", str(run["run_id"]), "--json")
    assert regraded.code == 0, regraded.err
    data = json.loads(regraded.out)
    assert data["verdict"]["critic"] == "plan-fidelity"
    assert any(e["type"] == "llm_response" for e in data["transcript"])
    assert cli("generate", "--persons", "30", "--name", "plain-30").code == 0
    rules = json.loads(cli("critic", "run", "rules", "--snapshot", "plain-30", "--json").out)
    assert rules["verdict"]["passed"]
    no_recording = cli("critic", "run", "plan-fidelity", "--snapshot", "plain-30")
    assert no_recording.code == 2 and "made without the agent" in no_recording.err
    assert cli("critic", "run", "rules").code == 2


def _refused_before_any_model_call(workspace: Workspace) -> set[str]:
    """Slices a run refuses before asking a model anything: their pinned requirements alone
    are impossible, or the grammar's reading of their words is refused by policy (then the
    ground node asks no question and the planner never runs)."""
    aw = load_agent_workspace(workspace)
    return {
        slice_id
        for slice_id in aw.index.slices
        if pinned_refusals(aw, aw.slice(slice_id)) or ground(aw, None, aw.slice(slice_id)).refused
    }


def test_cassettes_check_is_clean_on_a_fresh_workspace(cli: Cli, workspace: Workspace) -> None:
    # `init` does not ship the request corpus, so its readings are not checked here.
    assert not (workspace.root / "corpus").exists()
    result = cli("cassettes", "check", "--json")
    assert result.code == 0, result.out + result.err
    reports = json.loads(result.out)
    assert {r["kind"] for r in reports} == {"slice", "eval"}
    assert all(r["ok"] for r in reports)
    # Only a slice refused before any model call has an empty recording.
    empty = {r["name"] for r in reports if r["interactions"] == 0}
    refused = _refused_before_any_model_call(workspace)
    assert "impossible-14" in refused and "baseline" not in refused
    assert empty == refused, empty


def test_check_reports_stale_orphaned_and_secret_bearing(cli: Cli, workspace: Workspace) -> None:
    prompt = workspace.root / "prompts" / "messy-names.md"
    prompt.write_text(prompt.read_text().replace("keeps rejecting", "keeps on rejecting"))
    messy = load_agent_workspace(workspace).slice("messy-names").prose
    assert "keeps on rejecting" in messy
    path = workspace.root / "cassettes" / "slices" / "baseline.yaml"
    data = yaml.safe_load(path.read_text())
    extra = json.loads(json.dumps(data["interactions"][-1]))
    extra["request"]["body"] = '{"model": "nobody-asks-this"}'
    data["interactions"].append(extra)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with path.open("a") as handle:
        handle.write("# Authorization: " + "Bearer " + "abcdefghijklmnopqrstu\n")  # a planted token
    result = cli("cassettes", "check", "--json")
    assert result.code == 1
    reports = {r["name"]: r for r in json.loads(result.out)}
    # The first call the changed words make is the ground node's first question, about the
    # first aspect (``ASPECTS`` order) the grammar read nothing of: messy-names names no state.
    found, _ = extract(messy, slice_grammar(load_agent_workspace(workspace)))
    asked = [a.name for a in unread_aspects(found) if answer_schema(a, messy) is not None]
    assert asked[0] == "states"
    stale = reports["messy-names"]["stale"]
    assert stale and f"node 'extract:{asked[0]}'" in stale[0]
    assert reports["baseline"]["orphaned"] == [len(data["interactions"]) - 1]
    assert reports["baseline"]["secrets"] and "bearer token" in reports["baseline"]["secrets"][0]
    assert "need attention" in cli("cassettes", "check").err


def _fake_model(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    system = body["messages"][0]["content"]
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return 500, {}, b"{}"  # behave like llama.cpp: json_schema is rejected
    answer = (
        "{}"
        if "Plan fields" in system
        else json.dumps({"score": 0.8, "summary": "fine", "findings": []})
    )
    return completion(answer)(body)


def test_record_rewrites_cassettes_from_a_server_and_check_passes(
    cli: Cli, workspace: Workspace
) -> None:
    with fake_openai([_fake_model]) as server:
        result = cli("cassettes", "record", "--slice", "baseline", "--base-url", server.url)
    assert result.code == 0, result.err
    note = yaml.safe_load((workspace.root / "cassettes/slices/baseline.meta.yaml").read_text())
    assert note["recorded_against"]["base_url"] == server.url
    text = (workspace.root / "cassettes/slices/baseline.yaml").read_text()
    assert "fine" in text and "203.0.113" not in text
    replayed = json.loads(cli("run", "slice-generation", "--json").out)[0]
    assert replayed["status"] == "committed"
