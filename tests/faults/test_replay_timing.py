"""Replay follows the recording, not this process's thread timing.

Critics run in parallel. When they were recorded, all of them may have probed the
structured-output mode before any settled it; when replayed, one may settle it before the
others start. Either way every recorded interaction must be played (no "orphaned" recording
for `esdh-agent cassettes check` to flag) and the answers must be the recorded ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from esdh_agent.llm.client import Budget, Budgets, LLMClient, LLMSettings
from esdh_agent.llm.recording import LLMMode, cassette, observe
from esdh_agent.llm.transcript import Transcript, read_transcript

from tests.faults.server import Reply, Seen, completion, faulty_openai, status

CRITICS = ("plan-fidelity", "governance-privacy", "realism-coherence")


class Verdict(BaseModel):
    critic: str


def llama_like(seen: Seen) -> Reply:
    """json_schema is refused with a 500 (as llama.cpp does); anything else is answered."""
    if (seen.body.get("response_format") or {}).get("type") == "json_schema":
        return status(500)(seen)
    user = seen.body["messages"][-1]["content"]
    return completion({"critic": user})(seen)


def client(mode: LLMMode, url: str, tmp_path: Path, name: str) -> LLMClient:
    return LLMClient(
        LLMSettings(mode=mode, base_url=url),
        Budget(Budgets()),
        Transcript(tmp_path / f"{name}.jsonl", name),
        label="over-cap",
    )


def judge(llm: LLMClient, critic: str) -> str | None:
    result = llm.structured(
        node=f"critic:{critic}", model="m", system="s", user=critic, schema=Verdict, max_reasks=0
    )
    return result.value.critic if isinstance(result.value, Verdict) else None


def test_parallel_probes_replay_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "over-cap.yaml"
    # Recorded as if the three critics probed concurrently: each probe is in the cassette.
    with faulty_openai([llama_like]) as server, cassette("record", path, fresh=True, label="x"):
        for critic in CRITICS:
            assert judge(client("record", server.url, tmp_path, critic), critic) == critic
    # Replayed as if the first critic settled the mode before the others started.
    with observe() as opened, cassette("replay", path, fresh=False, label="x"):
        llm = client("replay", "http://127.0.0.1:9/v1", tmp_path, "replay")
        answers = [judge(llm, critic) for critic in CRITICS]
    assert answers == list(CRITICS)
    (played,) = opened
    assert sorted(i for i, n in played.play_counts.items() if n) == list(range(6))
    events = read_transcript(tmp_path / "replay.jsonl")
    kinds = [e["type"] for e in events]
    assert kinds.count("llm_request") == 6 and kinds.count("mode_rejected") == 3
    assert llm.budget.calls == 6


def test_a_replayed_call_that_did_not_probe_costs_nothing_extra(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    # Recorded sequentially: the first call settles the mode, the others never probe.
    with faulty_openai([llama_like]) as server, cassette("record", path, fresh=True, label="x"):
        llm = client("record", server.url, tmp_path, "record")
        for critic in CRITICS:
            judge(llm, critic)
    recorded = json.dumps(read_transcript(tmp_path / "record.jsonl"))
    with observe() as opened, cassette("replay", path, fresh=False, label="x"):
        llm = client("replay", "http://127.0.0.1:9/v1", tmp_path, "replay")
        assert [judge(llm, critic) for critic in CRITICS] == list(CRITICS)
    (played,) = opened
    assert all(played.play_counts[i] for i in range(4))
    replayed = read_transcript(tmp_path / "replay.jsonl")
    assert [e["type"] for e in replayed] == [e["type"] for e in json.loads(recorded)]
    assert llm.budget.calls == 4
