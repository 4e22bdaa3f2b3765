"""How reviewers read a transcript's model events: attempts, expected fallbacks, exchanges.

The transport logs every request and error as it happens; these helpers give the views the
reading a person needs, derived from the order of the events alone (so old transcripts read
the same way):

* **Attempts.** A structured call re-asks the model after an invalid answer; the transport's
  own ``attempt`` counts only HTTP retries, so every re-ask used to read "attempt 1". Here a
  node's call starts at attempt 1, each ``reask`` moves it to the next one, and the call's end
  (a proposal, a verdict, ``structured_failed``, a refusal) starts the count again.
* **Expected fallbacks.** A server that does not support ``json_schema`` answers the first
  request with an error, and the client falls back to the next mode (a ``mode_*`` event with
  ``next_mode``). That error, immediately followed (for the same node) by the mode change, is
  the designed fallback: *info*, not a model error.
* **Exchanges.** The prompt and answers a critic's verdict came from, so a view can show the
  input, the output and the verdict's explanation side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EventNote",
    "critic_exchanges",
    "event_notes",
    "fallback_text",
    "is_mode_change",
    "latency_label",
]

_CALL_EVENTS = {"llm_request", "llm_response", "llm_error", "retry", "reask", "refused"}
_CALL_ENDS = {"proposal", "verdict", "structured_failed", "refused", "llm_gave_up"}


@dataclass(frozen=True)
class EventNote:
    """What a view adds to one event: its attempt number and, for an expected fallback, the
    info line that replaces the error."""

    attempt: int | None = None
    fallback: str | None = None


def is_mode_change(event: dict[str, Any]) -> bool:
    """A ``mode_rejected`` / ``mode_fallback`` / ``mode_not_recorded`` event (has ``next_mode``)."""
    return str(event.get("type", "")).startswith("mode_") and bool(event.get("next_mode"))


def fallback_text(event: dict[str, Any]) -> str:
    """The info line of a mode change."""
    mode, following = event.get("mode"), event.get("next_mode")
    if event.get("type") == "mode_not_recorded":
        return f"no {mode} answer recorded; using {following}"
    return f"server does not support {mode}; using {following}"


def _next_of_node(events: list[dict[str, Any]], index: int) -> dict[str, Any] | None:
    node = events[index].get("node")
    return next((e for e in events[index + 1 :] if e.get("node") == node), None)


def event_notes(events: list[dict[str, Any]]) -> list[EventNote]:
    """One note per event, in order (see the module's docstring)."""
    notes: list[EventNote] = []
    attempt: dict[str, int] = {}
    for index, e in enumerate(events):
        node, kind = str(e.get("node")), str(e.get("type"))
        current = attempt.setdefault(node, 1)
        fallback = None
        if kind == "llm_error":
            following = _next_of_node(events, index)
            if (
                following is not None
                and is_mode_change(following)
                and following.get("mode") == e.get("mode")
            ):
                fallback = fallback_text(following)
        elif is_mode_change(e):
            fallback = fallback_text(e)
        notes.append(EventNote(current if kind in _CALL_EVENTS else None, fallback))
        if kind == "reask":
            attempt[node] = int(e.get("attempt") or current) + 1
        elif kind in _CALL_ENDS:
            attempt[node] = 1
    return notes


def critic_exchanges(events: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """For each verdict event (by index), the model events of its critic's call before it."""
    pending: dict[str, list[dict[str, Any]]] = {}
    out: dict[int, list[dict[str, Any]]] = {}
    for index, e in enumerate(events):
        node, kind = str(e.get("node")), e.get("type")
        if kind == "verdict":
            out[index] = pending.pop(node, [])
        elif kind in _CALL_EVENTS or is_mode_change(e):
            pending.setdefault(node, []).append(e)
    return out


def latency_label(event: dict[str, Any]) -> str:
    """A model call's latency and where it comes from: ``41,851 ms recorded`` (the recording's,
    when replayed), ``12 ms replay`` (an older cassette without recorded latencies) or
    ``830 ms`` (measured live)."""
    source = event.get("latency_source")
    suffix = f" {source}" if source in ("recorded", "replay") else ""
    return f"{int(event.get('latency_ms') or 0):,} ms{suffix}"
