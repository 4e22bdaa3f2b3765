"""Recorded model calls: replay (the default), record and live, with vcrpy cassettes.

Requests match on method, path and the JSON-normalized body — never the host — so a
cassette replays whatever URL it was recorded against. Credentials, organization/project
headers and cookies are filtered out before anything is written; compressed bodies are
decoded so cassettes are readable YAML.

Re-recording unchanged answers changes no byte of a cassette. At record time, in code (never
by hand), what varies from one recording to the next is scrubbed:

* request headers are dropped but ``content-type`` (host, user agent, SDK and OS versions and
  timeouts say nothing about the request, and replay never matches on them);
* response headers are dropped but ``content-type`` and ``retry-after`` (date, request ids,
  server timing, rate-limit counters, content length);
* a JSON response's completion ``id`` and ``created`` become fixed values, and
  ``system_fingerprint`` and llama.cpp's ``timings`` are dropped; file paths of the server's
  Python environment in an error message lose their machine-specific prefix;
* questions asked concurrently (critics judge in parallel) are put in a fixed order. Replay
  is unaffected: it plays, for each request, the first unplayed interaction matching it, and
  interactions with the same request keep their order.

The recorded latency of each interaction goes to the cassette's ``.meta.yaml``
(``recorded_latency_ms``, keyed by a digest of the request body), so a replayed call's
transcript can show how long the model took when it was recorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict, deque
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
    "drop_interactions",
    "json_body_matcher",
    "normalized_body",
    "note_exchange",
    "observe",
    "recorded_latency",
    "request_key",
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
_KEPT_REQUEST_HEADERS = frozenset({"content-type"})
_KEPT_RESPONSE_HEADERS = frozenset({"content-type", "retry-after", "retry-after-ms"})
_FIXED_FIELDS = {"id": "chatcmpl-recorded", "created": 0}
_DROPPED_FIELDS = ("system_fingerprint", "timings")
_ENV_PATH = re.compile(r"/(?:[^\s\"'/]+/)*?(site-packages|dist-packages)/")
_LATENCY_KEY = "recorded_latency_ms"


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


def request_key(body: Any) -> str:
    """A short digest of a request body as JSON: equal exactly when ``json_body_matcher``
    says two bodies are equal. ``body`` is the recorded text or the request's parameters."""
    if isinstance(body, (str, bytes)) or body is None:
        value = normalized_body(body)
    else:
        value = json.loads(json.dumps(body))
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _scrub_request(request: Any) -> Any:
    """Keep only the request headers that say what the body is (vcrpy passes a copy)."""
    headers = request.headers.items()
    request.headers = {k: v for k, v in headers if k.lower() in _KEPT_REQUEST_HEADERS}
    return request


def _scrub_body(text: str, status: int) -> str:
    if status >= 400:
        text = _ENV_PATH.sub(r"…/\1/", text)
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict) or not data.keys() & {*_FIXED_FIELDS, *_DROPPED_FIELDS}:
        return text
    data.update({name: value for name, value in _FIXED_FIELDS.items() if name in data})
    for name in _DROPPED_FIELDS:
        data.pop(name, None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Drop volatile headers and fields from a response about to be recorded (a copy)."""
    headers = response.get("headers") or {}
    response["headers"] = {
        name: value for name, value in headers.items() if name.lower() in _KEPT_RESPONSE_HEADERS
    }
    body = response.get("body") or {}
    raw = body.get("string")
    if raw:
        status = int((response.get("status") or {}).get("code") or 0)
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        scrubbed = _scrub_body(text, status)
        if scrubbed != text:
            body["string"] = scrubbed.encode("utf-8") if isinstance(raw, bytes) else scrubbed
    return response


Notes = list[tuple[str, str, float, float, bool]]
"""A recording's requests: key, question, when sent and when answered or failed
(``time.monotonic()``), and whether the server answered (an answer is recorded)."""
_OBSERVERS: list[list[Any]] = []
_RECORDINGS: list[Notes] = []
_REPLAYS: list[dict[str, deque[int | None]]] = []


def note_exchange(params: Any, started: float, ended: float, *, answered: bool = True) -> None:
    """Tell the cassette being recorded that the request ``params`` was sent at ``started``
    and answered (or failed unanswered) at ``ended``; nothing when none is recording."""
    if _RECORDINGS:
        note = (request_key(params), _conversation(params), started, ended, answered)
        _RECORDINGS[-1].append(note)


def recorded_latency(params: Any) -> int | None:
    """The latency recorded for the interaction the cassette being replayed just played for
    the request ``params`` (None: nothing is replayed, or the recording has no latencies)."""
    try:
        return _REPLAYS[-1][request_key(params)].popleft() if _REPLAYS else None
    except (KeyError, IndexError):
        return None


def _timings(notes: Notes, keys: list[str]) -> list[tuple[float, float] | None]:
    """The timing of each recorded interaction, given their request keys in the order vcrpy
    appended them (as each answer arrived)."""
    by_key: dict[str, deque[tuple[float, float]]] = defaultdict(deque)
    for key, _, started, ended, answered in sorted(notes, key=lambda n: n[3]):
        if answered:
            by_key[key].append((started, ended))
    return [by_key[key].popleft() if by_key[key] else None for key in keys]


def _replay_table(path: Path) -> dict[str, deque[int | None]]:
    table: dict[str, deque[int | None]] = defaultdict(deque)
    for entry in _latency_entries(path):
        ms = entry.get("ms")
        table[str(entry.get("request"))].append(ms if type(ms) is int else None)
    return table


@contextlib.contextmanager
def observe() -> Iterator[list[Any]]:
    """Collect every vcrpy cassette opened inside (to see which interactions were played)."""
    seen: list[Any] = []
    _OBSERVERS.append(seen)
    try:
        yield seen
    finally:
        _OBSERVERS.remove(seen)


def _record_hint(path: Path, label: str) -> str:
    if path.parent.name == "evals":
        return f"record it: esdh-agent cassettes record --eval {path.stem} --base-url URL"
    return (
        f"record it: esdh-agent cassettes record --slice {label} --base-url URL (or esdh-agent "
        f"run slice-generation --slice {label} --llm record; see scripts/record_cassettes.py)"
    )


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
        raise ReplayMiss(f"no cassette for {label} at {path}", hint=_record_hint(path, label))
    kept = 0
    previous: list[dict[str, Any]] = []
    if mode == "record":
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh and path.exists():
            path.unlink()
        kept = len(_load(path).get("interactions") or []) if path.exists() else 0
        previous = _latency_entries(path)[:kept]
    recorder = vcr.VCR(
        record_mode="none" if mode == "replay" else "new_episodes",
        match_on=["method", "path", "json_body"],
        filter_headers=list(FILTERED_HEADERS),
        filter_query_parameters=["api-key", "key"],
        decode_compressed_response=True,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
    )
    recorder.register_matcher("json_body", json_body_matcher)
    recording: Notes | None = [] if mode == "record" else None
    replay = _replay_table(path) if mode == "replay" else None
    if recording is not None:
        _RECORDINGS.append(recording)
    if replay is not None:
        _REPLAYS.append(replay)
    try:
        with recorder.use_cassette(str(path), allow_playback_repeats=False) as opened:
            for seen in _OBSERVERS:
                seen.append(opened)
            yield
    finally:
        if recording is not None:
            _RECORDINGS[:] = [r for r in _RECORDINGS if r is not recording]
            _finish_recording(path, recording, kept, previous)
        if replay is not None:
            _REPLAYS[:] = [r for r in _REPLAYS if r is not replay]


def _load(path: Path) -> dict[str, Any]:
    from vcr.serializers import yamlserializer

    data = yamlserializer.deserialize(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.with_suffix(".meta.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    path.with_suffix(".meta.yaml").write_text(
        yaml.safe_dump(meta, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def _latency_entries(path: Path) -> list[dict[str, Any]]:
    """The note's recorded latencies, one per interaction in cassette order (none for
    cassettes recorded before latencies were kept)."""
    entries = _read_meta(path).get(_LATENCY_KEY)
    if not isinstance(entries, list):
        return []
    return [e if isinstance(e, dict) else {} for e in entries]


def _conversation(body: Any) -> str:
    """What groups the calls of one logical question (its mode probes, retries and re-asks):
    the model and the first user message."""
    data = normalized_body(body)
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not messages:
        return request_key(body)
    first = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
    return request_key({"model": data.get("model"), "user": first or messages[0]})


def _canonical_order(
    bodies: list[Any], timings: list[tuple[float, float] | None], notes: Notes
) -> list[int]:
    """Interactions in a fixed order. Questions (conversations) asked concurrently — their
    calls overlap in time, as critics judging in parallel do — form a wave; waves keep their
    time order, a wave's questions are sorted by digest, a question's calls keep their order.
    A question spans all its attempts, those that failed unanswered (unrecorded) too."""
    spans = [t for t in timings if t is not None]
    if len(spans) != len(bodies):
        return list(range(len(bodies)))
    convs = [_conversation(b) for b in bodies]
    extent: dict[str, tuple[float, float]] = {}
    points = [(c, s, e) for c, (s, e) in zip(convs, spans, strict=True)]
    points += [(c, s, e) for _, c, s, e, _ in notes if c in set(convs)]
    for conv, started, ended in points:
        low, high = extent.get(conv, (started, ended))
        extent[conv] = (min(low, started), max(high, ended))
    waves: list[list[str]] = []
    wave_end = float("-inf")
    for conv in sorted(extent, key=lambda c: (extent[c][0], c)):
        if not waves or extent[conv][0] >= wave_end:
            waves.append([])
        waves[-1].append(conv)
        wave_end = max(wave_end, extent[conv][1])
    members = sorted(range(len(bodies)), key=lambda i: (spans[i][0], i))
    return [i for wave in waves for conv in sorted(wave) for i in members if convs[i] == conv]


def _finish_recording(
    path: Path, recording: Notes, kept: int, previous: list[dict[str, Any]]
) -> None:
    """After vcrpy saved the cassette: put what was recorded now in a fixed order and write
    every interaction's latency to the note."""
    from vcr.serializers import yamlserializer

    if not path.exists() and not recording:
        # A run that asked the model nothing (e.g. refused at the gate) still gets its
        # cassette, empty, so replaying it finds a recording and makes no call either.
        path.write_text(yamlserializer.serialize({"interactions": [], "version": 1}))
    try:
        data = _load(path)
    except (OSError, ValueError, yaml.YAMLError):
        return  # nothing saved (or unreadable): nothing to order or time
    interactions = list(data.get("interactions") or [])
    bodies = [(x.get("request") or {}).get("body") for x in interactions]
    every = [request_key(body) for body in bodies]
    keys = every[kept:]
    timings = _timings(recording, keys)
    order = _canonical_order(bodies[kept:], timings, recording)
    if order != list(range(len(keys))):
        new = interactions[kept:]
        data["interactions"] = interactions[:kept] + [new[i] for i in order]
        path.write_text(yamlserializer.serialize(data), encoding="utf-8")
    entries = [
        previous[i] if i < len(previous) else {"request": every[i], "ms": None} for i in range(kept)
    ]
    for i in order:
        span = timings[i]
        ms = round((span[1] - span[0]) * 1000) if span is not None else None
        entries.append({"request": keys[i], "ms": ms})
    meta = _read_meta(path)
    meta[_LATENCY_KEY] = entries
    _write_meta(path, meta)


def drop_interactions(path: Path, indices: list[int]) -> int:
    """Remove recorded interactions (and their latencies in the note); responses are never
    edited. Returns how many were dropped."""
    if not indices:
        return 0
    from vcr.serializers import yamlserializer

    drop = set(indices)
    data = _load(path)
    data["interactions"] = [
        x for i, x in enumerate(data.get("interactions") or []) if i not in drop
    ]
    path.write_text(yamlserializer.serialize(data), encoding="utf-8")
    entries = _latency_entries(path)
    if entries:
        meta = _read_meta(path)
        meta[_LATENCY_KEY] = [e for i, e in enumerate(entries) if i not in drop]
        _write_meta(path, meta)
    return len(drop)


def write_cassette_note(path: Path, *, base_url: str, models: list[str]) -> None:
    """Beside a cassette, note the endpoint and models it was recorded against (the recorded
    latencies already in the note are kept)."""
    note: dict[str, Any] = {
        "cassette": path.name,
        "recorded_against": {"base_url": base_url, "models": sorted(set(models))},
        "recorded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "recorded_with": f"esdh-agent {__version__}",
        "note": "Recorded from a real model server; never edit responses by hand. Re-record "
        "with scripts/record_cassettes.py. Volatile headers and fields are scrubbed in code "
        "at record time; recorded_latency_ms holds each interaction's latency (request "
        "digest, milliseconds) in cassette order.",
    }
    entries = _read_meta(path).get(_LATENCY_KEY)
    if isinstance(entries, list):
        note[_LATENCY_KEY] = entries
    _write_meta(path, note)
