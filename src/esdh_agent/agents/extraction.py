"""Model extraction: focused questions about a request, every answer checked against its words.

The model is asked one aspect at a time (:data:`.extraction_aspects.ASPECTS`: how many
persons, which states, which body styles, ...). Each answer is a short list of ``{quote,
value}`` items. Nothing the model says is taken on trust:

* the quote must occur in the prose (exactly, or ignoring case and runs of whitespace; the
  exact prose span and its offsets are used from then on), else the item is discarded;
* the grammar's normalizers read that span as the aspect's target (``readings_fn``), and the
  item is kept only as a reading whose value is the one the model gave. A value the span does
  not say, or a span the grammar reads nothing of that kind in, is discarded with its reason.

So what survives is always a reading the grammar itself derives from words the model pointed
at; the model contributes *where* to look, never *what* the words mean. Its tolerance,
op and offsets are the grammar's (offsets moved from the quote to the prose). Garbage answers
(echoes, invalid JSON, wrong types) are expected from small models: they are discarded or
noted, never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from esdh_agent.agents.extraction_aspects import (
    ASPECTS,
    Aspect,
    agrees,
    answer_schema,
    item_targets,
)
from esdh_agent.ledger.model import Discarded, Requirement
from esdh_agent.llm.protocol import StructuredModel
from esdh_agent.llm.structured import extract_json

__all__ = [
    "ModelExtraction",
    "ReadingsFn",
    "extract_with_model",
    "locate",
    "validate_readings",
]

ReadingsFn = Callable[[str, str, Any], list[Requirement]]
"""``readings(target, quote, grammar)``: the requirements of ``target`` the grammar derives
from ``quote`` alone, offsets relative to the quote (``esdh_agent.ledger.extract.readings``)."""


@dataclass
class ModelExtraction:
    """What model extraction kept, what it threw away and why, and what it cost."""

    requirements: list[Requirement] = field(default_factory=list)
    discarded: list[Discarded] = field(default_factory=list)
    calls: int = 0
    """Structured calls made (one per aspect asked)."""
    attempts: int = 0
    """Model requests those calls took, re-asks included."""
    errors: list[str] = field(default_factory=list)
    """Aspects whose answer was no usable JSON, with why."""
    unrecorded: str | None = None
    """Replay only: why this request could not be replayed (its cassette is missing/stale)."""


def _normalised(text: str) -> tuple[str, list[int]]:
    """``text`` lower-cased with whitespace runs as one space, and each character's index in
    ``text`` (so a match in the normalised text maps back to an exact span)."""
    chars: list[str] = []
    index: list[int] = []
    for i, char in enumerate(text):
        if char.isspace():
            if chars and chars[-1] == " ":
                continue
            char = " "
        else:
            lower = char.lower()
            char = lower if len(lower) == 1 else char
        chars.append(char)
        index.append(i)
    return "".join(chars), index


def _occurrences(haystack: str, needle: str) -> list[int]:
    found: list[int] = []
    start = haystack.find(needle)
    while start >= 0:
        found.append(start)
        start = haystack.find(needle, start + 1)
    return found


def locate(prose: str, quote: str, taken: Sequence[tuple[int, int]] = ()) -> tuple[int, int] | None:
    """The span of ``quote`` in ``prose`` (exactly, else ignoring case and whitespace runs),
    preferring an occurrence that overlaps no span in ``taken``; None when the prose does
    not hold it."""
    needle = quote.strip()
    if not needle:
        return None
    spans = [(s, s + len(needle)) for s in _occurrences(prose, needle)]
    if not spans:
        text, index = _normalised(prose)
        small, _ = _normalised(needle)
        small = small.strip()
        spans = [(index[s], index[s + len(small) - 1] + 1) for s in _occurrences(text, small)]
    if not spans:
        return None
    free = [(s, e) for s, e in spans if not any(s < te and ts < e for ts, te in taken)]
    return (free or spans)[0]


def _shown(value: Any) -> Any:
    """The model's value as a ``Discarded.value`` can hold it."""
    if value is None or (isinstance(value, (int, float, str)) and not isinstance(value, bool)):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return str(value)[:80]


def _moved(reading: Requirement, prose: str, start: int, end: int) -> Requirement:
    """A reading of ``prose[start:end]`` with its offsets moved into the prose."""
    if 0 <= reading.start <= reading.end <= end - start:
        r_start, r_end = start + reading.start, start + reading.end
    else:
        r_start, r_end = start, end
    return reading.model_copy(
        update={
            "id": "",
            "source": "model",
            "start": r_start,
            "end": r_end,
            "quote": prose[r_start:r_end],
            "status": "pending",
        }
    )


def _item_parts(aspect: Aspect, item: Any) -> tuple[str | None, Any]:
    """(quote, value) of one answer item; quote None when the item is not one."""
    if not isinstance(item, dict):
        return None, item
    value = item.get(aspect.field, item.get("value"))
    quote = item.get("quote")
    return (quote if isinstance(quote, str) else None), value


def validate_readings(
    prose: str,
    aspect: Aspect,
    items: Sequence[Any],
    *,
    readings_fn: ReadingsFn,
    grammar: Any,
) -> tuple[list[Requirement], list[Discarded]]:
    """Check one aspect's answer items against the prose and the grammar's readings.

    Returns the readings kept (``source="model"``, prose offsets, no ids yet) and the items
    discarded with their reasons.
    """
    kept: list[Requirement] = []
    discarded: list[Discarded] = []
    taken: dict[str, list[tuple[int, int]]] = {}
    for item in items:
        quote, value = _item_parts(aspect, item)
        targets = item_targets(aspect, value)
        label = targets[0] if len(targets) == 1 else aspect.name
        if quote is None or value is None:
            discarded.append(
                Discarded(
                    target=label,
                    quote=quote or "",
                    value=_shown(value if quote is not None else item),
                    reason=f"not an answer item (needs a quote and a {aspect.field})",
                )
            )
            continue
        if not targets:
            reason = f"{value!r} is not one of {', '.join(aspect.choices)}"
            discarded.append(
                Discarded(target=label, quote=quote, value=_shown(value), reason=reason)
            )
            continue
        target = targets[0]
        span = locate(prose, quote, taken.get(target, []))
        if span is None:
            reason = "the quote is not in the request"
            discarded.append(
                Discarded(target=target, quote=quote, value=_shown(value), reason=reason)
            )
            continue
        start, end = span
        exact = prose[start:end]
        readings = [r for r in readings_fn(target, exact, grammar) if r.target == target]
        agreeing = [r for r in readings if agrees(aspect, value, target, r)]
        if not agreeing:
            if readings:
                says = "; ".join(r.label() for r in readings)
                reason = f"value {_shown(value)} is not what the quote says (reads {says})"
            else:
                reason = f"the quote says nothing the grammar reads as {target}"
            discarded.append(
                Discarded(target=target, quote=exact, value=_shown(value), reason=reason)
            )
            continue
        taken.setdefault(target, []).append(span)
        kept.extend(_moved(r, prose, start, end) for r in agreeing)
    return kept, discarded


def _items(result_value: Any, raw: str) -> tuple[list[Any] | None, str]:
    """The answer's items (from the validated value, else leniently from the raw text)."""
    if result_value is not None:
        return list(result_value.model_dump(mode="json").get("items", [])), ""
    try:
        data = extract_json(raw)
    except ValueError as exc:
        return None, str(exc)
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None, "the answer has no list of items"
    return items, ""


def _numbered(requirements: list[Requirement]) -> list[Requirement]:
    """Duplicates dropped, the rest in prose order as M1, M2, ..."""
    unique: dict[tuple[Any, ...], Requirement] = {}
    for r in requirements:
        unique.setdefault((r.signature(), r.start, r.end), r)
    ordered = sorted(unique.values(), key=lambda r: (r.start, r.end, r.target, r.key or ""))
    return [r.model_copy(update={"id": f"M{i}"}) for i, r in enumerate(ordered, start=1)]


def extract_with_model(
    llm: StructuredModel,
    model: str,
    prose: str,
    *,
    readings_fn: ReadingsFn,
    grammar: Any,
    max_reasks: int = 1,
    aspects: Sequence[Aspect] = ASPECTS,
) -> ModelExtraction:
    """Ask ``model`` about each aspect of ``prose`` and keep only what its words bear out.

    Server faults (``LLMError``), an exhausted budget and replay misses propagate: they are
    not answers. Anything the model answers is handled here.
    """
    out = ModelExtraction()
    found: list[Requirement] = []
    for aspect in aspects:
        schema = answer_schema(aspect, prose)
        if schema is None:
            continue
        result = llm.structured(
            node=f"extract:{aspect.name}",
            model=model,
            system=aspect.system(),
            user=f"Request: {prose.strip()}",
            schema=schema,
            max_reasks=max_reasks,
        )
        out.calls += 1
        out.attempts += result.attempts
        items, problem = _items(result.value, result.raw)
        if items is None:
            out.errors.append(f"{aspect.name}: {problem or '; '.join(result.errors)}"[:300])
            continue
        kept, discarded = validate_readings(
            prose, aspect, items, readings_fn=readings_fn, grammar=grammar
        )
        found.extend(kept)
        out.discarded.extend(discarded)
    out.requirements = _numbered(found)
    return out
