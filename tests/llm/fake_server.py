"""A loopback OpenAI-compatible server for tests: scripted answers and injected faults."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]


def completion(content: str, finish_reason: str = "stop", model: str = "fake-model") -> Behaviour:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        data = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body.get("model", model),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish_reason,
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        return 200, {"content-type": "application/json"}, json.dumps(data).encode()

    return answer


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return (
            code,
            {"content-type": "application/json", **(headers or {})},
            json.dumps({"error": {"message": f"injected {code}"}}).encode(),
        )

    return answer


def reject_json_schema(then: Behaviour) -> Behaviour:
    """llama.cpp's behaviour: HTTP 500 for response_format json_schema."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return status(500)(body)
        return then(body)

    return answer


def volatile(then: Behaviour) -> Behaviour:
    """What real servers add that differs on every call: request ids, timing headers, a
    completion id, ``created``, a fingerprint and a machine path in error messages."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        code, headers, payload = then(body)
        data = json.loads(payload)
        if "choices" in data:
            data.update(
                id=f"chatcmpl-{uuid.uuid4()}",
                created=int(time.time() * 1000) + random.randint(0, 10**6),
                system_fingerprint=f"fp_{uuid.uuid4().hex[:10]}",
            )
        elif "error" in data:
            data["error"]["message"] += (
                f' File "/home/u{random.randint(0, 10**6)}/venv/lib/python3.11/site-packages/'
                'llama_cpp/server/app.py", line 376'
            )
        extra = {
            "x-request-id": uuid.uuid4().hex,
            "openai-processing-ms": str(random.randint(1, 9999)),
            "x-ratelimit-remaining-requests": str(random.randint(1, 9999)),
        }
        return code, {**headers, **extra}, json.dumps(data).encode()

    return answer


def delayed(then: Behaviour, seconds: float | Callable[[], float]) -> Behaviour:
    """``then``, answered after ``seconds`` (a number, or a function giving one per call)."""

    def answer(body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        time.sleep(seconds() if callable(seconds) else seconds)
        return then(body)

    return answer


@dataclass
class FakeServer:
    url: str
    script: list[Behaviour]
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@contextmanager
def fake_openai(script: list[Behaviour], port: int = 0) -> Iterator[FakeServer]:
    """Serve ``script`` (one behaviour per request; the last repeats) on 127.0.0.1 (``port``:
    a free one)."""
    state = FakeServer(url="", script=list(script))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            index = min(len(state.requests) - 1, len(state.script) - 1)
            code, headers, payload = state.script[index](body)
            self.send_response(code)
            for key, value in {**headers, "content-length": str(len(payload))}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
