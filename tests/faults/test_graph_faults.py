"""The whole graph, live, against a model server that misbehaves: ``runner.run_slice(...,
mode="live")`` in a fresh workspace (see conftest: 0.2 s timeout, 3 retries, threshold 300).

What must hold whatever the server does:

* a model can never exceed policy: absurd proposals are dropped or clamped by the gate;
* a server that keeps failing stops the run with status ``failed``, one clear error, nothing
  committed (no snapshot, nothing under data/.staging) and a transcript with every attempt;
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
    GOOD_PLAN,
    MAX_RETRIES,
    PASSING,
    SECRET,
    THRESHOLD,
    RunFiles,
)
from tests.faults.server import (
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


@pytest.mark.parametrize("absurd", [ABSURD_INVALID, ABSURD_VALID], ids=["invalid", "valid"])
def test_an_absurd_planner_only_generates_what_the_gate_allows(
    fault_ws: Workspace, absurd: dict[str, Any]
) -> None:
    with faulty_openai(planner=[completion(absurd)], critic=[completion(PASSING)]) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "committed", result.summary
    files = RunFiles(fault_ws, result.run_id)
    manifest = files.manifest(f"{SLICE}-v0.1")
    plan = manifest["plan"]
    assert plan["person_count"] <= THRESHOLD
    assert set(plan["state_mix"]) <= set(ALLOWED_STATES)
    assert max(int(k) for k in plan["vehicles_per_person"]) <= 5
    assert plan["dataset_version"] == "v0.1" and manifest["marker"] == MARKER
    assert manifest["validation"]["errors"] == 0
    assert policy_violations(fault_ws.policy(), GenerationPlan.model_validate(plan)) == []
    proposal = files.of("proposal")[0]
    if absurd is ABSURD_INVALID:
        # re-asked max_reasks times, then every invalid field dropped: defaults remain
        assert not proposal["valid"] and proposal["attempts"] == 3
        assert {"output_path", "person_count", "state_mix"} <= set(proposal["dropped"])
        assert len(files.of("reask", "planner")) == 2
        assert plan["person_count"] == 200
    else:
        notes = " ".join(files.record()["gate"]["notes"])
        assert f"clamped person_count 100000000 to {THRESHOLD}" in notes
        assert "dropped states outside the policy" in notes and "fleets above 5" in notes
        assert plan["person_count"] == THRESHOLD and plan["vehicles_per_person"] == {"1": 1.0}
        assert "WA" not in plan["state_mix"]
    assert_every_attempt_recorded(files, server.count())


# -- a server that keeps failing --------------------------------------------------------------

ALWAYS_FAILING: dict[str, tuple[Behaviour, str]] = {
    "HTTP 500": (status(500), "HTTP 500"),
    "HTTP 503 with Retry-After": (status(503, {"retry-after": "1"}), "HTTP 503"),
    "HTTP 429": (status(429), "HTTP 429"),
    "timeouts": (too_slow(1.0), "no answer within the timeout"),
    "dropped connections": (drop(), "connection failed or dropped"),
    "not a chat completion": (malformed(b'{"choices": []}'), "not a chat completion"),
}


@pytest.mark.parametrize("fault", list(ALWAYS_FAILING))
def test_a_server_that_keeps_failing_stops_the_run_cleanly(
    fault_ws: Workspace, fault: str, sleeps: list[float]
) -> None:
    behaviour, described = ALWAYS_FAILING[fault]
    with faulty_openai([behaviour]) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed" and result.exit_code == 1
    assert result.error is not None
    message = result.error.one_line()
    assert "model call failed after" in message and "fault-drill/planner" in message
    assert described in message and "\n" not in message
    files = RunFiles(fault_ws, result.run_id)
    assert files.record()["status"] == "failed" and files.record()["error"] == message
    assert_nothing_committed(files)
    assert files.bundles() == []  # it failed before the gate: nothing was generated
    assert_every_attempt_recorded(files, server.count())
    gave_up = files.of("llm_gave_up")
    assert len(gave_up) == 1 and gave_up[0]["attempts"] == MAX_RETRIES + 1
    assert files.of("run_error")[0]["error"] == message
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
    assert good.count("planner") == 0  # the plan was not asked again
    assert files.snapshots() == [f"{SLICE}-v0.1"] and files.bundles() == []
    assert files.staging_leftovers() == []


def test_transient_faults_of_every_kind_are_survived_and_recorded(
    fault_ws: Workspace, sleeps: list[float]
) -> None:
    planner = [
        status(500),  # the json_schema probe: rejected (llama.cpp's answer), json_object next
        too_slow(1.0),  # attempt 1: timeout
        drop(),  # attempt 2: connection dropped
        status(429, {"retry-after": "0"}),  # attempt 3: rate limited, retry at once
        truncated(GOOD_PLAN),  # answered, cut off: re-asked
        invalid_json(),  # re-asked again
        completion(GOOD_PLAN),
    ]
    critic = [refusal("I won't review this."), status(502), completion(PASSING)]
    with faulty_openai(planner=planner, critic=critic) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "committed", result.summary
    files = RunFiles(fault_ws, result.run_id)
    assert server.count("planner") == 7
    assert [e["attempt"] for e in files.of("llm_request", "planner")] == [1, 1, 2, 3, 4, 1, 1]
    assert len(files.of("mode_rejected", "planner")) == 1
    assert len(files.of("llm_error", "planner")) == 4
    assert len(files.of("reask", "planner")) == 2
    assert sleeps[:2] == [0.5, 1.0]
    verdicts = {v["critic"]: v for v in files.record()["verdicts"]}
    abstained = [name for name, v in verdicts.items() if v["abstained"]]
    assert len(abstained) == 1  # the refusing critic abstains; it cannot block or crash
    assert len(files.of("refused", "critic:")) == 1
    assert files.manifest(f"{SLICE}-v0.1")["plan"]["person_count"] == GOOD_PLAN["person_count"]
    assert_every_attempt_recorded(files, server.count())


def test_a_refusing_planner_stops_the_run_with_one_clear_error(fault_ws: Workspace) -> None:
    with faulty_openai([refusal("I can't help with that.")]) as server:
        result = run_slice(fault_ws, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed"
    assert result.error is not None
    assert result.error.one_line().startswith(
        "the planner model refused to plan slice 'fault-drill': I can't help with that."
    )
    files = RunFiles(fault_ws, result.run_id)
    assert server.count() == 1  # a refusal is not re-asked
    assert_nothing_committed(files)
    assert files.bundles() == []


# -- budgets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budgets", "expected"),
    [
        ({"max_calls": 4}, "4 model calls made (max_calls 4)"),
        ({"max_tokens": 80}, "90 tokens used (max_tokens 80)"),
    ],
)
def test_budget_exhaustion_stops_cleanly(
    workspace: Workspace, tune: Any, budgets: dict[str, int], expected: str
) -> None:
    tune(workspace, budgets=budgets)
    # The planner's answers never validate (re-asked, then salvaged); critics then run out.
    with faulty_openai(
        planner=[completion("not a plan", tokens=30)], critic=[completion(PASSING, tokens=30)]
    ) as server:
        result = run_slice(workspace, SLICE, mode="live", base_url=server.url)
    assert result.status == "failed" and result.error is not None
    assert "run budget exhausted" in result.error.one_line()
    assert expected in result.error.one_line()
    files = RunFiles(workspace, result.run_id)
    assert_nothing_committed(files)
    assert_every_attempt_recorded(files, server.count())
    record = files.record()
    assert record["llm"]["calls"] == server.count()
    assert json.dumps(record).count("run budget exhausted") == 1
