"""Run transcripts: one JSON object per line, appended as the run goes.

Every node start and end, every model request and response, re-asks, tool calls, verdicts,
decisions and approvals. Secrets never reach a transcript: requests are logged without
headers, and anything shaped like an API key is masked as a last line of defence.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

__all__ = ["Transcript", "read_transcript", "scrub"]

_SECRET = re.compile(r"(sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._-]{12,})")


def scrub(text: str) -> str:
    """Mask anything shaped like an API key or bearer token."""
    return _SECRET.sub("[redacted]", text)


class Transcript:
    """Appends events to ``path`` (JSONL); sequence numbers continue across resumes."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0

    def event(self, node: str, kind: str, /, **data: Any) -> None:
        with self._lock:
            self._seq += 1
            record = {
                "seq": self._seq,
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "run_id": self.run_id,
                "node": node,
                "type": kind,
                **data,
            }
            line = scrub(json.dumps(record, ensure_ascii=False, default=str, sort_keys=False))
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")


def read_transcript(path: Path) -> list[dict[str, Any]]:
    """All events of a transcript file, in order."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
