"""The whole graph, live, against a model server that misbehaves: ``runner.run_slice(...,
mode="live")`` in a fresh workspace (see conftest: 0.2 s timeout, 3 retries, threshold 300).

What must hold whatever the server does:

* a model can never exceed policy: absurd proposals are overruled by the request's words,
  dropped or clamped by the gate;
* a server that keeps failing stops the run with status ``failed``, one clear error naming the
  node (the ``ground`` node's ``extract:<aspect>`` questions come before the planner), nothing
  committed (no snapshot, nothing under data/.staging) and a transcript with every attempt;
* unusable extraction answers are read as nothing: the grammar's reading still decides;
* a run that fails after generating keeps its staged bundle only under
  ``data/runs/<run-id>/bundle-rN/``: that is what lets ``esdh-agent resume`` continue from the
  last checkpoint once the server is back (shown below); nothing is ever staged elsewhere;
* the run's budget stops a runaway run cleanly.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from esdh_agent.core.plan import GenerationPlan
from esdh_agent.core.policy import policy_violations
from esdh_agent.graphs.slice_generation.runner import resume_run, run_slice
from esdh_agent.workspace import Workspace

from tests.conftest import MARKER
from tests.faults.conftest import (
    ALLOWED_STATES,
    DRILL_PERSONS,
    GOOD_PLAN,
    MAX_REASKS,
    MAX_RETRIES,
    PASSING,
    SECRET,
    THRESHOLD,
    RunFiles,
    extraction_nodes,
    update_index,
)
from tests.faults.server import (
    NOTHING_READ,
    Behaviour,
    completion,
    drop,
    faulty_openai,
    invalid_json,
    malformed,
    refusal,
    status,
    too_slow,
    truncated,
)

SLICE = "fault-drill"


def assert_nothing_committed(files: RunFiles) -> None:
    assert files.snapshots() == []
    assert files.staging_leftovers() == []
    for bundle in files.bundles():  # staged bundles live only in the run's own directory
        assert bundle.parent == files.run_dir, bundle


def assert_every_attempt_recorded(files: RunFiles, requests: int) -> None:
    events = files.events()
    sent = [e for e in events if e["type"] == "llm_request"]
    answered = [e for e in events if e["type"] in ("llm_response", "llm_error")]
    assert len(sent) == requests == len(answered)
    assert events[-1]["type"] == "run_end"  # nothing was still in flight when the run ended
    assert SECRET not in (files.run_dir / "transcript.jsonl").read_text("utf-8")
    assert SECRET not in (files.run_dir / "run.json").read_text("utf-8")


# -- a model can never exceed policy ---------------------------------------------------------

ABSURD_INVALID = {
    "person_count": -5,
    "lob_mix": {"Personal": 7, "Commercial": 0},
    "state_mix": {"TX": 1.0},
    "vehicles_per_person": {"0": 3.5},
    "age_bands": [{"min_age": 90, "max_age": 16, "share": 7}],
    "output_path": "../../etc",
    "synthetic_source": "",
}
ABSURD_VALID = {
    "person_count": 100_000_000,  # within the schema (1e8), far beyond policy
    "vehicles_per_person": {"10": 1.0},  # above the policy's 5 per person
    "state_mix": {"WA": 1.0},  # a contract state this policy does not allow
    "dataset_version": "v9.9",
    "seed": 99,
}
# The plan fields the drill's words decide ("about 120 persons in California and Arizona, one
# vehicle each", "personal-lines"): a planner's values for them are never used.
DRILL_DECIDES = ("lob_mix", "person_count", "state_mix", "vehicles_per_person")


def assert_generated_within_policy(fault_ws: Workspace, slice_id: str, files: RunFiles) -> Any:
    manifest = files.manifest(f"{slice_id}-v0.1")
    plan = manifest["plan"]
    assert plan["person_count"] <= THRESHOLD
    assert set(plan["state_mix"]) <= set(ALLOWED_STATES)
    assert max(int(k) for k in plan["vehicles_per_person"]) <= 5
    assert plan["dataset_version"] == "v0.1" and manifest["marker"] == MARKER
    assert manifest["validation"]["errors"] == 0
    assert policy_violations(fault_ws.policy(), GenerationPlan.model_validate(plan)) == []
    return plan


@pytest.mark.parametrize("absurd", [ABSURD_INVALID, ABSURD_VALID], ids=["invalid", "valid"])
@pytest.mark.parametrize("slice_id", ["fault-drill", "fault-vague"])
def test_an_absurd_planner_only_generates_what_the_gate_allows(
    fault_ws: Workspace, slice_id: str, absurd: dict[str, Any]
) -> None:
    """On the drill, the request's words decide what the planner got wrong; on a request whose
    words decide nothing, the gate clamps the proposal and still generates nothing (no plan
    grounded in the request is made under the slice's name)."""
    with faulty_openai(planner=[completion(absurd)], critic=[completion(PASSING)]) as server:
        result = run_slice(fault_ws, slice_id, mode="live", base_url=server.url)
    files = RunFiles(fault_ws, result.run_id)
    notes = " ".join(files.record()["gate"]["notes"])
    proposal = files.of("proposal")[0]
    if absurd is ABSURD_INVALID:
        # re-asked max_reasks times, then every invalid field dropped
        assert not proposal["valid"] and proposal["attempts"] == MAX_REASKS + 1
        assert {"output_path", "person_count", "state_mix"} <= set(proposal["dropped"])
        assert len(files.of("reask", "planner")) == MAX_REASKS
    else:
        assert proposal["valid"]
    assert_every_attempt_recorded(files, server.count())
    if slice_id == "fault-vague":
        assert result.status == "refused", result.summary
        assert "the request states no checkable requirement" in files.record()["reason"]
        assert_nothing_committed(files)
        assert files.bundles() == [] and server.count("critic") == 0
        if absurd is ABSURD_VALID:  # what the gate would have made of it stays within policy
            assert f"clamped person_count 100000000 to {THRESHOLD}" in notes
            assert "dropped states outside the policy" in notes and "fleets above 5" in notes
        return
    assert result.status == "committed", result.summary
    plan = assert_generated_within_policy(fault_ws, slice_id, files)
    # The request's words decide these fields, whatever the planner proposed.
    assert plan["person_count"] == DRILL_PERSONS
    assert set(plan["state_mix"]) == {"CA", "AZ"}
    assert plan["vehicles_per_person"] == {"1": 1.0}
    assert plan["lob_mix"] == {"Personal": 1.0}
    if absurd is ABSURD_VALID:
        overruled = sorted(k for k in absurd if k in DRILL_DECIDES)
        assert f"the request's own words decide {', '.join(overruled)}" in notes
        assert "clamped" not in notes  # nothing of the planner's was left to clamp
        assert plan["seed"] == absurd["seed"]  # what the words leave open is the planner's


# -- a server that keeps failing --------------------------------------------------------------

ALWAYS_FAILING: dict[str, tuple[Behaviour, str]] = {
    "HTTP 500": (status(500), "HTTP 500"),
    "HTTP 503 with Retry-After": (status(503, {"retry-after": "1"}), "HTTP 503"),
    "HTTP 429": (status(429), "HTTP 429"),
    "timeouts": (too_slow(1.0), "no answer within the timeout"),
    "dropped connections": (drop(), "connection failed or dropped"),
    "not a chat completion": (malformed(b'{"choices": []}'), "not a chat completion"),
}


@pytest.mark.parametrize("failing", ["every call", "the planner only"])
@pytest.mark.parametrize("fault", list(ALWAYS_FAILING))
def test_a_server_that_keeps_failing_stops_the_run_cleanly(
    fault_ws: Workspace, fault: str, failing: str, sleeps: list[float]
) -> None:
    """The first call that keeps failing stops the run, naming its node: an ``extract:``
    question of the ``ground`` node when every call fails (the extraction is asked first),
    the planner when only the planner's calls fail."""
    behaviour, described = ALWAYS_FAILING[fault]
    asked = extraction_nodes(fault_ws, SLICE)
    if failing == "every call":
        scripts: dict[str, Any] = {"default": [behaviour]}
        node = asked[0]
    else:
        scripts = {"planner": [behaviour], "critic": [completion(PASSING)]}
        node = "planner"
    with faulty_openai(**scripts) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed" and result.exit_code == 1
    assert result.error is not None
    message = result.error.one_line()
    assert "model call failed after" in message and f"{SLICE}/{node}:" in message
    assert described in message and "\n" not in message
    files = RunFiles(fault_ws, result.run_id)
    assert files.record()["status"] == "failed" and files.record()["error"] == message
    assert_nothing_committed(files)
    assert files.bundles() == []  # it failed before the gate: nothing was generated
    assert_every_attempt_recorded(files, server.count())
    gave_up = files.of("llm_gave_up")
    assert len(gave_up) == 1 and gave_up[0]["attempts"] == MAX_RETRIES + 1
    assert gave_up[0]["node"] == node
    assert files.of("run_error")[0]["error"] == message
    # Nothing was asked after the failing call; the extraction before it was answered.
    assert server.count("critic") == 0
    if failing == "every call":
        assert server.count("planner") == 0 and server.count("extract") > 0
    else:
        assert server.count("extract") == len(asked)
    if fault == "HTTP 503 with Retry-After":
        assert sleeps == [1.0] * MAX_RETRIES  # the server's Retry-After, not the backoff


def test_critics_failing_after_generation_keep_the_bundle_only_for_resume(
    fault_ws: Workspace,
) -> None:
    with faulty_openai(planner=[completion(GOOD_PLAN)], critic=[drop()]) as server:
        failed = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert failed.status == "failed" and "critic:" in failed.error.one_line()  # type: ignore[union-attr]
    files = RunFiles(fault_ws, failed.run_id)
    assert_nothing_committed(files)
    assert [b.name for b in files.bundles()] == ["bundle-r0"]  # under data/runs/<id>/ only
    assert_every_attempt_recorded(files, server.count())
    assert server.count("critic") >= MAX_RETRIES + 1

    # The server is back: the run continues from its last checkpoint and commits.
    with faulty_openai(planner=[completion(GOOD_PLAN)], critic=[completion(PASSING)]) as good:
        resumed = resume_run(fault_ws, failed.run_id, approve=None, base_url=good.url)
    assert resumed.status == "committed", resumed.summary
    assert good.count("planner") == good.count("extract") == 0  # nor was the request read again
    assert files.snapshots() == [f"{SLICE}-v0.1"] and files.bundles() == []
    assert files.staging_leftovers() == []


def test_transient_faults_of_every_kind_are_survived_and_recorded(
    fault_ws: Workspace, sleeps: list[float]
) -> None:
    asked = extraction_nodes(fault_ws, SLICE)
    # The run's first call (an extraction question) probes the json_schema mode: rejected
    # (llama.cpp's answer), json_object next, and that mode is kept for every later call.
    extract = [status(500), completion(NOTHING_READ)]
    planner = [
        too_slow(1.0),  # attempt 1: timeout
        drop(),  # attempt 2: connection dropped
        status(429, {"retry-after": "0"}),  # attempt 3: rate limited, retry at once
        truncated(GOOD_PLAN),  # answered, cut off: re-asked
        invalid_json(),  # re-asked again
        completion(GOOD_PLAN),
    ]
    critic = [refusal("I won't review this."), status(502), completion(PASSING)]
    with faulty_openai(planner=planner, critic=critic, extract=extract) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "committed", result.summary
    files = RunFiles(fault_ws, result.run_id)
    assert server.count("extract") == len(asked) + 1  # each question once, and the probe
    (rejected,) = files.of("mode_rejected")
    assert rejected["node"] == asked[0] and rejected["mode"] == "json_schema"
    assert server.count("planner") == len(planner)
    assert [e["attempt"] for e in files.of("llm_request", "planner")] == [1, 2, 3, 4, 1, 1]
    assert [e["mode"] for e in files.of("llm_request", "planner")] == ["json_object"] * 6
    assert len(files.of("llm_error", "planner")) == 3
    assert len(files.of("reask", "planner")) == MAX_REASKS
    assert sleeps[:2] == [0.5, 1.0]
    verdicts = {v["critic"]: v for v in files.record()["verdicts"]}
    abstained = [name for name, v in verdicts.items() if v["abstained"]]
    assert len(abstained) == 1  # the refusing critic abstains; it cannot block or crash
    assert len(files.of("refused", "critic:")) == 1
    assert files.manifest(f"{SLICE}-v0.1")["plan"]["person_count"] == GOOD_PLAN["person_count"]
    assert_every_attempt_recorded(files, server.count())


def test_a_refusing_planner_stops_the_run_with_one_clear_error(fault_ws: Workspace) -> None:
    asked = extraction_nodes(fault_ws, SLICE)
    with faulty_openai([refusal("I can't help with that.")]) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.one_line().startswith(
        "the planner model refused to plan slice 'fault-drill': I can't help with that."
    )
    files = RunFiles(fault_ws, result.run_id)
    # A refusal is not re-asked: one request per extraction question (each read as nothing),
    # then one to the planner, whose refusal stops the run.
    assert server.count("extract") == len(asked) and server.count("planner") == 1
    assert [e["node"] for e in files.of("refused")] == [*asked, "planner"]
    assert_nothing_committed(files)
    assert files.bundles() == []


@pytest.mark.parametrize("babble", [refusal("No."), invalid_json(), completion(GOOD_PLAN)])
def test_an_extraction_model_that_babbles_reads_nothing_and_the_run_goes_on(
    fault_ws: Workspace, babble: Behaviour
) -> None:
    """Unusable extraction answers (a refusal, invalid JSON, a plan instead of quotes) are
    noted, never raised: the grammar's reading of the words still decides the plan."""
    with faulty_openai(
        planner=[completion({"person_count": 250})], critic=[completion(PASSING)], extract=[babble]
    ) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "committed", result.summary
    files = RunFiles(fault_ws, result.run_id)
    assert files.manifest(f"{SLICE}-v0.1")["plan"]["person_count"] == DRILL_PERSONS
    (ledger,) = files.of("ledger", "ground")
    assert all(r["source"] != "model" for r in ledger["ledger"]["requirements"])
    assert server.count("extract") >= len(extraction_nodes(fault_ws, SLICE))
    assert_every_attempt_recorded(files, server.count())


# -- budgets ------------------------------------------------------------------------------------

EXTRACT_TOKENS = 10
PLANNER_TOKENS = 30


@pytest.mark.parametrize("where", ["max_calls in extraction", "max_calls", "max_tokens"])
def test_budget_exhaustion_stops_cleanly(fault_ws: Workspace, where: str) -> None:
    """Each limit is set from the calls the run makes (its extraction questions, then the
    planner's 1 + max_reasks attempts) so that it runs out where the case says: in the
    ground node's extraction, or once the critics start."""
    asked = len(extraction_nodes(fault_ws, SLICE))
    planner_calls = 1 + MAX_REASKS  # the planner's answers never validate: re-asked, salvaged
    if where == "max_calls in extraction":
        limit = asked - 1
        budgets, expected = {"max_calls": limit}, f"{limit} model calls made (max_calls {limit})"
    elif where == "max_calls":
        limit = asked + planner_calls + 1  # one critic call, then the budget is spent
        budgets, expected = {"max_calls": limit}, f"{limit} model calls made (max_calls {limit})"
    else:
        spent = asked * EXTRACT_TOKENS + planner_calls * PLANNER_TOKENS
        limit = spent - 10
        budgets, expected = {"max_tokens": limit}, f"{spent} tokens used (max_tokens {limit})"
    update_index(fault_ws, budgets=budgets)
    with faulty_openai(
        planner=[completion("not a plan", tokens=PLANNER_TOKENS)],
        critic=[completion(PASSING, tokens=30)],
        extract=[completion(NOTHING_READ, tokens=EXTRACT_TOKENS)],
    ) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed" and result.error is not None
    assert "run budget exhausted" in result.error.one_line()
    assert expected in result.error.one_line()
    files = RunFiles(fault_ws, result.run_id)
    assert_nothing_committed(files)
    assert_every_attempt_recorded(files, server.count())
    if where == "max_calls in extraction":
        assert server.count() == server.count("extract") == limit  # the planner was never asked
    else:
        assert server.count("extract") == asked and server.count("planner") == planner_calls
        # max_calls lets exactly one critic call through; the tokens run out before any.
        assert server.count("critic") == (1 if where == "max_calls" else 0)
    record = files.record()
    assert record["llm"]["calls"] == server.count()
    assert json.dumps(record).count("run budget exhausted") == 1
