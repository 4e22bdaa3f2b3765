"""The deterministic extractor: slice prose in, grounded requirements out.

``extract`` reads every checkable ask the request grammar can read (docs/requests.md) and
returns the requirements, each quoting the exact words (``quote == prose[start:end]``), with
ids ``R1``, ``R2`` ... in order of their start, plus the sentences that carry checkable words
no requirement covers (``Unsupported``). It reads conservatively: a number is a person count
only next to a person noun, a two-letter code is a state only in a state context.

``readings`` is how a model's answer is checked: the requirements of one target the grammar
can derive from the model's quote alone, read loosely (a bare number as a person count unless
it is a seed, a year or a share; a bare state as ``state only``).
"""

from __future__ import annotations

import bisect
import re

from esdh_agent.ledger.extract_cats import categorical, mentions
from esdh_agent.ledger.extract_features import features
from esdh_agent.ledger.extract_lex import Draft, Span, Text, lexicon
from esdh_agent.ledger.extract_meta import directives, plan_facts
from esdh_agent.ledger.extract_nums import ages, counts, model_years
from esdh_agent.ledger.extract_spell import Respelt, respell
from esdh_agent.ledger.extract_vehicles import vehicles
from esdh_agent.ledger.grammar import Grammar
from esdh_agent.ledger.model import Requirement, Unsupported

__all__ = ["extract", "readings"]

UNSUPPORTED_REASON = "checkable words that no requirement the grammar reads covers"


def _drafts(t: Text) -> list[Draft]:
    found = mentions(t)
    drafts = plan_facts(t) + directives(t)
    fixed = [
        (d.start, d.end) for d in drafts if d.target in ("seed", "as_of_date", "dataset_version")
    ]
    for start, end in t.sentences:
        people = counts(t, start, end)
        drafts += people + vehicles(t, start, end)
        years = model_years(t, start, end, fixed)
        drafts += years
        taken = fixed + [(d.start, d.end) for d in people + years]
        drafts += ages(t, start, end, taken)
        drafts += categorical(t, found, start, end)
        drafts += features(t, start, end)
    return _merge(t, drafts)


def _signature(d: Draft) -> tuple[str, str | None, str, str]:
    return (d.target, d.key, d.op, repr(d.value))


def _merge(t: Text, drafts: list[Draft]) -> list[Draft]:
    """One requirement per reading: repeats in a sentence merge, later sentences are dropped."""
    kept: dict[tuple[str, str | None, str, str], Draft] = {}
    for d in sorted(drafts, key=lambda d: (d.start, d.end)):
        if d.start < 0 or d.end <= d.start:
            continue
        sig = _signature(d)
        first = kept.get(sig)
        if first is None or (
            d.target == "directive" and t.sentence_of(first.start) != t.sentence_of(d.start)
        ):
            kept[sig if first is None else (*sig[:3], str(d.start))] = d
        elif t.sentence_of(first.start) == t.sentence_of(d.start):
            first.end = max(first.end, d.end)
            first.covers += d.covers or [(d.start, d.end)]
    return sorted(kept.values(), key=lambda d: (d.start, d.end, d.target))


def _requirements(prose: str, drafts: list[Draft]) -> list[Requirement]:
    out = []
    for i, d in enumerate(drafts, start=1):
        s, e = d.start, d.end
        while e > s and prose[e - 1].isspace():
            e -= 1
        while s < e and prose[s].isspace():
            s += 1
        out.append(
            Requirement(
                id=f"R{i}",
                target=d.target,
                key=d.key,
                op=d.op,
                value=d.value,
                tolerance=d.tolerance,
                quote=prose[s:e],
                start=s,
                end=e,
                source="grammar",
            )
        )
    return out


def _unsupported(t: Text, drafts: list[Draft]) -> list[Unsupported]:
    """Clauses with checkable words (numbers, shares, states, categories) nobody covers."""
    spans = sorted((d.start, d.end) for d in drafts)
    checkable = [(q.start, q.end) for q in t.quantities]
    for items in mentions(t).values():
        checkable += [(m.start, m.end) for m in items if m.end > m.start]

    starts = [s for s, _ in spans]
    reach = [0] * len(spans)
    for i, (_, e) in enumerate(spans):
        reach[i] = max(e, reach[i - 1] if i else 0)

    def covered(a: int, b: int) -> bool:
        i = bisect.bisect_right(starts, a)
        return any(s <= a and b <= e for s, e in spans[max(0, i - 8) : i]) or (
            i > 0 and reach[i - 1] >= b and any(s <= a and b <= e for s, e in spans[:i])
        )

    def overlaps(a: int, b: int) -> bool:
        i = bisect.bisect_left(starts, b)
        return i > 0 and reach[i - 1] > a

    loose = sorted(a for a, b in checkable if not covered(a, b))
    out: list[Unsupported] = []
    for start, end in t.sentences:
        i = bisect.bisect_left(loose, start)
        if i >= len(loose) or loose[i] >= end:
            continue
        for cs, ce in t.clauses(start, end):
            j = bisect.bisect_left(loose, cs)
            if j >= len(loose) or loose[j] >= ce or overlaps(cs, ce):
                continue
            chunk = t.prose[cs:ce]
            s = cs + len(chunk) - len(chunk.lstrip())
            e = cs + len(chunk.rstrip())
            out.append(Unsupported(quote=t.prose[s:e], start=s, end=e, reason=UNSUPPORTED_REASON))
    return out


def extract(prose: str, grammar: Grammar) -> tuple[list[Requirement], list[Unsupported]]:
    """Every requirement the grammar reads in ``prose``, and what it could not read.

    Misspelt vocabulary is read as the word it means (``extract_spell``); quotes and offsets
    are always the prose's own.
    """
    fixed = respell(prose, grammar)
    t = Text(fixed.text, lexicon(grammar))
    drafts = _drafts(t)
    unsupported = _unsupported(t, drafts)
    if fixed.edits:
        drafts, unsupported = _back(fixed, drafts, unsupported)
    return _requirements(prose, drafts), unsupported


def _back(
    fixed: Respelt, drafts: list[Draft], unsupported: list[Unsupported]
) -> tuple[list[Draft], list[Unsupported]]:
    """Offsets of the respelt text mapped back to the prose."""
    for d in drafts:
        d.start, d.end = fixed.span(d.start, d.end)
        d.covers = [fixed.span(a, b) for a, b in d.covers]
    out = []
    for u in unsupported:
        s, e = fixed.span(u.start, u.end)
        out.append(Unsupported(quote=fixed.prose[s:e], start=s, end=e, reason=u.reason))
    return drafts, out


def readings(target: str, quote: str, grammar: Grammar) -> list[Requirement]:
    """The requirements of ``target`` the grammar derives from ``quote`` alone, read loosely.

    Offsets are relative to ``quote``. A model's answer whose value is not among these
    readings is discarded by the ledger.
    """
    found = [r for r in extract(quote, grammar)[0] if r.target == target]
    if found:
        return found
    t = Text(quote, lexicon(grammar))
    drafts: list[Draft] = []
    if target == "person_count":
        for q in t.quantities:
            if q.kind != "number" or not q.integral or q.value < 1 or q.is_year():
                continue
            if re.search(r"(?:seed|version|v)\W{0,3}$", quote[: q.start], re.IGNORECASE):
                continue
            if t.lex.vehicle.match(
                quote,
                q.end + len(quote[q.end : q.end + 160]) - len(quote[q.end : q.end + 160].lstrip()),
            ):
                continue
            drafts.append(Draft("person_count", "eq", q.as_int, "exact", q.start, q.end))
    elif target in ("state", "lob", "body_style", "risk"):
        spans = mentions(t)[target]
        if target == "state":
            spans += [s for s in _codes(t) if not any(o.start <= s.start < o.end for o in spans)]
        keys = sorted({s.key for s in spans})
        if keys:
            s, e = min(x.start for x in spans), max(x.end for x in spans)
            drafts.append(Draft(target, "only", keys, "all", s, e))
    return _requirements(quote, _merge(t, drafts))


def _codes(t: Text) -> list[Span]:
    return [
        Span("state", m.group(), m.start(), m.end()) for m in t.lex.state_code.finditer(t.prose)
    ]
