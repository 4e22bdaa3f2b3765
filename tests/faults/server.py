"""A loopback OpenAI-compatible server that misbehaves on purpose.

It extends ``tests/llm/fake_server.py`` with the faults a real model server shows on a bad
day: answers that come too late (client timeouts), 429 with ``Retry-After``, 5xx, sockets
closed without a response, bodies that are not a chat completion, truncated output
(``finish_reason=length``), refusals (``message.refusal`` set, no content), invalid JSON,
JSON that breaks the plan's schema and values no policy allows.

Requests are routed by *who* asks: the critics' system prompt is ``CRITIC_SYSTEM``, the model
extraction's (the ``ground`` node's ``extract:<aspect>`` questions) is one of the aspects'
prompts, anything else is the planner. Each role has its own script (one behaviour per
request, the last one repeats), so a test can let the planner succeed and make the critics
or the extraction fail, or the reverse. A role without a script takes the ``default`` one;
the extraction, without either, answers that the request says nothing (``NOTHING_READ``),
as a scripted fake with no answer for those nodes does.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from esdh_agent.agents.extraction_aspects import ASPECTS
from esdh_agent.agents.render import CRITIC_SYSTEM

__all__ = [
    "NOTHING_READ",
    "ROLES",
    "Behaviour",
    "FaultyServer",
    "Reply",
    "Seen",
    "completion",
    "drop",
    "faulty_openai",
    "invalid_json",
    "malformed",
    "refusal",
    "role_of",
    "status",
    "too_slow",
    "truncated",
]


@dataclass(frozen=True)
class Reply:
    """What the server does with one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (longer than the client timeout)
    drop: bool = False  # close the socket without sending anything


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    role: str  # "planner", "critic" or "extract"
    body: dict[str, Any]
    headers: dict[str, str]


Behaviour = Callable[[Seen], Reply]
"""What the server does with a request it has seen."""


ROLES = ("planner", "critic", "extract")
NOTHING_READ: dict[str, Any] = {"items": []}
"""An extraction answer that reads nothing (every aspect's schema accepts it)."""
_EXTRACT_SYSTEMS = tuple(aspect.system() for aspect in ASPECTS)


def role_of(body: dict[str, Any]) -> str:
    """``critic`` for the critics' system prompt, ``extract`` for an extraction question's
    (in prompt mode the schema is appended to it), else ``planner``."""
    messages = body.get("messages") or [{}]
    system = str(messages[0].get("content", ""))
    if system.startswith(CRITIC_SYSTEM):
        return "critic"
    return "extract" if system.startswith(_EXTRACT_SYSTEMS) else "planner"


def _chat(message: dict[str, Any], finish_reason: str, tokens: int, model: str) -> Reply:
    data = {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
        "usage": {"prompt_tokens": tokens - 5, "completion_tokens": 5, "total_tokens": tokens},
    }
    return Reply(200, {"content-type": "application/json"}, json.dumps(data).encode())


def completion(
    content: str | dict[str, Any], finish_reason: str = "stop", *, tokens: int = 15
) -> Behaviour:
    """A normal answer (a dict is sent as its JSON)."""
    text = content if isinstance(content, str) else json.dumps(content)

    def answer(seen: Seen) -> Reply:
        message = {"role": "assistant", "content": text}
        return _chat(message, finish_reason, tokens, str(seen.body.get("model", "fake-model")))

    return answer


def truncated(content: str | dict[str, Any]) -> Behaviour:
    """The answer cut in half, with ``finish_reason=length`` (max_tokens reached)."""
    text = content if isinstance(content, str) else json.dumps(content)
    return completion(text[: max(1, len(text) // 2)], "length")


def refusal(reason: str = "I can't help with that request.") -> Behaviour:
    """A refusal: ``message.refusal`` set and no content (what OpenAI models send)."""

    def answer(seen: Seen) -> Reply:
        message = {"role": "assistant", "content": None, "refusal": reason}
        return _chat(message, "stop", 12, str(seen.body.get("model", "fake-model")))

    return answer


def invalid_json() -> Behaviour:
    """Something that looks like JSON and is not."""
    return completion("{'person_count': 250, \"state_mix\": {CA: 1.0},")


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    """An HTTP error status with an OpenAI-style error body."""
    payload = json.dumps({"error": {"message": f"injected {code}"}}).encode()

    def answer(seen: Seen) -> Reply:
        return Reply(code, {"content-type": "application/json", **(headers or {})}, payload)

    return answer


def too_slow(seconds: float) -> Behaviour:
    """Answer nothing for ``seconds`` (make it longer than the client's timeout)."""

    def answer(seen: Seen) -> Reply:
        return Reply(delay=seconds, drop=True)

    return answer


def drop() -> Behaviour:
    """Close the connection without a response."""

    def answer(seen: Seen) -> Reply:
        return Reply(drop=True)

    return answer


def malformed(body: bytes, content_type: str = "application/json") -> Behaviour:
    """HTTP 200 whose body is not a chat completion (``{}``, ``{"choices": []}``, HTML...)."""

    def answer(seen: Seen) -> Reply:
        return Reply(200, {"content-type": content_type}, body)

    return answer


@dataclass
class FaultyServer:
    """The running server: its URL and every request it saw, in order."""

    url: str
    scripts: dict[str, list[Behaviour]]
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        role = role_of(body)
        with self._lock:
            count = sum(1 for s in self.seen if s.role == role)
            seen = Seen(role, body, headers)
            self.seen.append(seen)
        script = self.scripts[role]
        return script[min(count, len(script) - 1)](seen)

    def count(self, role: str | None = None) -> int:
        return sum(1 for s in self.seen if role is None or s.role == role)


@contextmanager
def faulty_openai(
    default: Sequence[Behaviour] = (),
    *,
    planner: Sequence[Behaviour] = (),
    critic: Sequence[Behaviour] = (),
    extract: Sequence[Behaviour] = (),
) -> Iterator[FaultyServer]:
    """Serve the scripts on 127.0.0.1 (``default`` answers a role without its own script;
    the extraction, without either, reads nothing)."""
    if not default and not (planner and critic):
        raise ValueError("give a default script, or both a planner and a critic script")
    scripts = {
        "planner": list(planner or default),
        "critic": list(critic or default),
        "extract": list(extract or default) or [completion(NOTHING_READ)],
    }
    stopping = threading.Event()
    state = FaultyServer(url="", scripts=scripts)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            raw = self.rfile.read(length) or b"{}"
            body = json.loads(raw)
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = state.next_reply(body, headers)
            if reply.delay:
                stopping.wait(reply.delay)
            if reply.drop or stopping.is_set():
                self.close_connection = True
                return  # nothing written: the client sees the connection closed
            self.send_response(reply.status)
            for key, value in {**reply.headers, "content-length": str(len(reply.body))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args: object) -> None:
            pass

        def handle(self) -> None:
            # The client may give up first (a timeout): a broken pipe is expected here.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
