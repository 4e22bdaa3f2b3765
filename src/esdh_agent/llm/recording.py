"""Recorded model calls: replay (the default), record and live, with vcrpy cassettes.

Requests match on method, path and the JSON-normalized body — never the host — so a
cassette replays whatever URL it was recorded against. Credentials, organization/project
headers and cookies are filtered out before anything is written; compressed bodies are
decoded so cassettes are readable YAML.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml

from esdh_agent import __version__
from esdh_agent.errors import ReplayMiss

__all__ = [
    "FILTERED_HEADERS",
    "LLMMode",
    "cassette",
    "json_body_matcher",
    "normalized_body",
    "observe",
    "write_cassette_note",
]

LLMMode = Literal["replay", "record", "live"]
FILTERED_HEADERS = (
    "authorization",
    "api-key",
    "x-api-key",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)


def normalized_body(body: Any) -> Any:
    """A request body as parsed JSON (or raw text when it is not JSON)."""
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def json_body_matcher(r1: Any, r2: Any) -> None:
    """vcrpy matcher: bodies are equal as JSON (key order and spacing do not matter)."""
    if normalized_body(r1.body) != normalized_body(r2.body):
        raise AssertionError("request bodies differ")


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in FILTERED_HEADERS:
            del headers[name]
    return response


_OBSERVERS: list[list[Any]] = []


@contextlib.contextmanager
def observe() -> Iterator[list[Any]]:
    """Collect every vcrpy cassette opened inside (to see which interactions were played)."""
    seen: list[Any] = []
    _OBSERVERS.append(seen)
    try:
        yield seen
    finally:
        _OBSERVERS.remove(seen)


@contextlib.contextmanager
def cassette(mode: LLMMode, path: Path, *, fresh: bool, label: str) -> Iterator[None]:
    """Route model calls through the cassette at ``path`` (nothing for ``live``).

    ``fresh`` starts a new recording (a new run); a resumed run appends to the cassette.
    """
    if mode == "live":
        yield
        return
    import vcr

    if mode == "replay" and not path.exists():
        raise ReplayMiss(
            f"no cassette for {label} at {path}",
            hint=f"record it: esdh-agent run slice-generation --slice {label} --llm record "
            "(see scripts/record_cassettes.py)",
        )
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
    recorder = vcr.VCR(
        record_mode="none" if mode == "replay" else "new_episodes",
        match_on=["method", "path", "json_body"],
        filter_headers=list(FILTERED_HEADERS),
        filter_query_parameters=["api-key", "key"],
        decode_compressed_response=True,
        before_record_response=_scrub_response,
    )
    recorder.register_matcher("json_body", json_body_matcher)
    with recorder.use_cassette(str(path), allow_playback_repeats=False) as opened:
        for seen in _OBSERVERS:
            seen.append(opened)
        yield


def write_cassette_note(path: Path, *, base_url: str, models: list[str]) -> None:
    """Beside a cassette, note the endpoint and models it was recorded against."""
    note = {
        "cassette": path.name,
        "recorded_against": {"base_url": base_url, "models": sorted(set(models))},
        "recorded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "recorded_with": f"esdh-agent {__version__}",
        "note": "Recorded from a real model server; never edit responses by hand. Re-record "
        "with scripts/record_cassettes.py.",
    }
    path.with_suffix(".meta.yaml").write_text(
        yaml.safe_dump(note, sort_keys=False), encoding="utf-8"
    )
