"""Cassettes: record filters secrets and scrubs what varies (re-recording changes no byte),
keeps each call's latency in the note, replay needs no server, a miss is one clear error."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from esdh_agent.errors import ReplayMiss
from esdh_agent.llm.client import Budget, Budgets, LLMClient, LLMSettings
from esdh_agent.llm.recording import cassette, drop_interactions, write_cassette_note
from esdh_agent.llm.transcript import Transcript, read_transcript

from tests.llm.fake_server import (
    Behaviour,
    completion,
    delayed,
    fake_openai,
    reject_json_schema,
    volatile,
)

SECRET = "sk-" + "live-abcdefghijklmnopqrstuvwxyz0123"  # fake; built so scanners do not flag it


class Answer(BaseModel):
    value: int


def make(url: str, mode: str, tmp: Path, path: Path) -> LLMClient:
    settings = LLMSettings(mode=mode, base_url=url, api_key=SECRET)  # type: ignore[arg-type]
    return LLMClient(
        settings,
        Budget(Budgets()),
        Transcript(tmp / f"{mode}.jsonl", "r"),
        label="baseline",
        cassette_path=str(path),
    )


def call(llm: LLMClient, user: str = "hello"):
    return llm.structured(
        node="planner", model="m", system="s", user=user, schema=Answer, max_reasks=0
    )


def test_record_then_replay_without_server_and_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "baseline.yaml"
    with (
        fake_openai([reject_json_schema(completion('{"value": 7}'))]) as server,
        cassette("record", path, fresh=True, label="baseline"),
    ):
        recorded = call(make(server.url, "record", tmp_path, path))
    text = path.read_text()
    assert SECRET not in text and "authorization" not in text.lower()
    interactions = yaml.safe_load(text)["interactions"]
    assert [i["response"]["status"]["code"] for i in interactions] == [500, 200]
    assert "chat.completion" in text  # decoded, readable bodies
    # The recorded URL does not matter for replay, and nothing listens there.
    with cassette("replay", path, fresh=False, label="baseline"):
        replayed = call(make("http://127.0.0.1:9/v1", "replay", tmp_path, path))
    assert replayed.value == recorded.value == Answer(value=7)


def test_a_request_the_cassette_lacks_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    with (
        fake_openai([completion('{"value": 1}')]) as server,
        cassette("record", path, fresh=True, label="baseline"),
    ):
        call(make(server.url, "record", tmp_path, path))
    with cassette("replay", path, fresh=False, label="baseline"):
        llm = make("http://127.0.0.1:9/v1", "replay", tmp_path, path)
        with pytest.raises(ReplayMiss) as info:
            call(llm, user="a changed prompt")
    message = info.value.one_line()
    assert "slice 'baseline', node 'planner'" in message
    assert str(path) in message
    assert "esdh-agent run slice-generation --slice baseline --llm record" in message


def test_replay_without_a_cassette_names_the_record_command(tmp_path: Path) -> None:
    with (
        pytest.raises(ReplayMiss, match="no cassette for baseline"),
        cassette("replay", tmp_path / "missing.yaml", fresh=False, label="baseline"),
    ):
        pass


def _record(path: Path, tmp: Path, behaviour: Behaviour, port: int = 0) -> int:
    """Record one structured call (a json_schema probe, then the answer); the server's port."""
    with (
        fake_openai([behaviour], port=port) as server,
        cassette("record", path, fresh=True, label="baseline"),
    ):
        call(make(server.url, "record", tmp, path))
    return int(server.url.split(":")[2].split("/")[0])


def test_re_recording_the_same_answers_changes_no_byte(tmp_path: Path) -> None:
    server = volatile(reject_json_schema(completion('{"value": 7}')))
    first, second = tmp_path / "first" / "baseline.yaml", tmp_path / "second" / "baseline.yaml"
    port = _record(first, tmp_path, server)
    _record(second, tmp_path, server, port=port)
    text = first.read_text()
    assert first.read_bytes() == second.read_bytes()
    for volatile_part in (
        "x-request-id",
        "openai-processing-ms",
        "x-ratelimit",
        "date:",
        "server:",
        "content-length",
        "user-agent",
        "x-stainless",
        "system_fingerprint",
        "/home/u",
    ):
        assert volatile_part not in text, volatile_part
    interactions = yaml.safe_load(text)["interactions"]
    answer = json.loads(interactions[1]["response"]["body"]["string"])
    assert answer["id"] == "chatcmpl-recorded" and answer["created"] == 0
    assert (
        "…/site-packages/llama_cpp/server/app.py" in interactions[0]["response"]["body"]["string"]
    )
    # What replay needs is kept: the answer replays without a server.
    with cassette("replay", first, fresh=False, label="baseline"):
        assert call(make("http://127.0.0.1:9/v1", "replay", tmp_path, first)).value == Answer(
            value=7
        )


def test_the_recorded_latency_is_in_the_note_and_replayed_calls_show_it(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    _record(path, tmp_path, reject_json_schema(delayed(completion('{"value": 7}'), 0.3)))
    write_cassette_note(path, base_url="http://x/v1", models=["m"])
    note = yaml.safe_load(path.with_suffix(".meta.yaml").read_text())
    assert note["recorded_against"]["base_url"] == "http://x/v1"
    probe, answer = note["recorded_latency_ms"]
    assert probe["ms"] < 300 <= answer["ms"] and probe["request"] != answer["request"]

    def replayed(name: str) -> list[tuple[str, int, str]]:
        with cassette("replay", path, fresh=False, label="baseline"):
            call(make("http://127.0.0.1:9/v1", "replay", tmp_path / name, path))
        events = read_transcript(tmp_path / name / "replay.jsonl")
        return [
            (e["type"], e["latency_ms"], e["latency_source"]) for e in events if "latency_ms" in e
        ]

    (tmp_path / "new").mkdir()
    assert replayed("new") == [
        ("llm_error", probe["ms"], "recorded"),
        ("llm_response", answer["ms"], "recorded"),
    ]
    # A cassette recorded before latencies were kept: the replay time, marked as such.
    del note["recorded_latency_ms"]
    path.with_suffix(".meta.yaml").write_text(yaml.safe_dump(note))
    (tmp_path / "old").mkdir()
    shown = replayed("old")
    assert [kind for kind, _, source in shown if source == "replay"] == [
        "llm_error",
        "llm_response",
    ]
    assert all(ms < 300 for _, ms, _ in shown)


def test_parallel_questions_are_recorded_in_a_fixed_order(tmp_path: Path) -> None:
    """Critics judge in parallel, so their calls reach the server in any order; the cassette
    holds them in one order whatever the timing, and still replays."""
    critics = ("plan-fidelity", "governance-privacy", "realism-coherence")
    together = threading.Barrier(len(critics), timeout=10)

    def server(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        together.wait()  # every critic's call is in flight before any is answered
        time.sleep(random.uniform(0, 0.05))
        user = body["messages"][-1]["content"]
        return volatile(completion(json.dumps({"value": len(user)})))(body)

    def judge_all(mode: str, url: str, path: Path) -> list[Answer]:
        results: dict[str, Answer] = {}

        def judge(critic: str) -> None:
            results[critic] = call(make(url, mode, tmp_path / critic, path), user=critic).value

        threads = [threading.Thread(target=judge, args=(c,)) for c in critics]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return [results[c] for c in critics]

    recorded = []
    port = 0
    for attempt in range(3):
        path = tmp_path / f"take-{attempt}.yaml"
        for critic in critics:
            (tmp_path / critic).mkdir(exist_ok=True)
        with (
            fake_openai([reject_json_schema(server)], port=port) as fake,
            cassette("record", path, fresh=True, label="baseline"),
        ):
            port = int(fake.url.split(":")[2].split("/")[0])
            answers = judge_all("record", fake.url, path)
        recorded.append(path.read_bytes())
    assert recorded[0] == recorded[1] == recorded[2]
    assert answers == [Answer(value=len(c)) for c in critics]
    with cassette("replay", path, fresh=False, label="baseline"):
        assert judge_all("replay", "http://127.0.0.1:9/v1", path) == answers


def test_dropped_interactions_take_their_latencies_with_them(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    _record(path, tmp_path, reject_json_schema(completion('{"value": 7}')))
    note = yaml.safe_load(path.with_suffix(".meta.yaml").read_text())["recorded_latency_ms"]
    assert drop_interactions(path, [0]) == 1
    (left,) = yaml.safe_load(path.read_text())["interactions"]
    assert left["response"]["status"]["code"] == 200
    after = yaml.safe_load(path.with_suffix(".meta.yaml").read_text())["recorded_latency_ms"]
    assert after == note[1:]


def test_the_fixed_order_keeps_time_order_between_waves_and_questions_together() -> None:
    from esdh_agent.llm.recording import _canonical_order, _conversation, request_key

    def body(user: str, mode: str) -> str:
        return json.dumps(
            {"model": "m", "messages": [{"role": "user", "content": user}], "m": mode}
        )

    planner = [body("plan", "probe"), body("plan", "answer")]
    critics = {c: body(c, "answer") for c in ("c1", "c2", "c3")}
    # The planner first (sequential), then three critics at once; c3's first attempt was
    # dropped unanswered (nothing recorded) before the others started, its retry came last.
    bodies = [*planner, critics["c2"], critics["c1"], critics["c3"]]
    timings: list[tuple[float, float] | None] = [(0, 1), (1, 5), (6, 9), (6.1, 8), (12, 13)]
    dropped = (request_key(critics["c3"]), _conversation(critics["c3"]), 5.5, 6.5, False)
    order = _canonical_order(bodies, timings, [dropped])
    assert order[:2] == [0, 1]  # the planner's calls, in time order
    by_question = sorted(["c1", "c2", "c3"], key=lambda c: _conversation(critics[c]))
    assert [bodies[i] for i in order[2:]] == [critics[c] for c in by_question]
    # Without timings for every interaction the order is left as recorded.
    assert _canonical_order(bodies, [*timings[:4], None], []) == [0, 1, 2, 3, 4]


def test_a_run_that_asks_nothing_records_an_empty_cassette_that_replays(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "quiet.yaml"
    with cassette("record", path, fresh=True, label="quiet"):
        pass  # e.g. a slice the gate refuses before any model call
    assert yaml.safe_load(path.read_text(encoding="utf-8")) == {"interactions": [], "version": 1}
    with cassette("replay", path, fresh=False, label="quiet"):
        pass  # found, and nothing to replay
    path.unlink()
    with (
        pytest.raises(ReplayMiss, match="no cassette for quiet"),
        cassette("replay", path, fresh=False, label="quiet"),
    ):
        pass
