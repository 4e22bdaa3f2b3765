"""Row features: apartment lines, ZIP+4 codes, name variants and boundary ages.

Each is a share of persons, read clause by clause: a percentage or fraction next to the
feature ("15% hyphenated surnames"), a vague cue before it ("plenty of accents", "no
apartment numbers") or after it ("ZIP+4 on every address"); a bare mention is ``some``.
Examples in brackets after a feature with a share ("10% accents (José, Zoë)") are not a new
ask.
"""

from __future__ import annotations

import re

from esdh_agent.ledger.extract_lex import VAGUE, Draft, Span, Text, shares

__all__ = ["features"]

_CUE_AFTER = re.compile(r"\s*(?:on|for|in|at|across|to|with)?\s*(?:the\s+)?", re.IGNORECASE)


def _feature_hits(t: Text) -> list[Span]:
    hits = [
        Span(target, key, m.start(), m.end())
        for (target, key), pattern in t.lex.features.items()
        for m in pattern.finditer(t.prose)
    ]
    return sorted(hits, key=lambda h: h.start)


def features(t: Text, start: int, end: int) -> list[Draft]:
    """address_line_2, zip_plus4, name_variant and boundary_age shares, clause by clause."""
    _lex, _prose = t.lex, t.prose
    drafts: list[Draft] = []
    every = t.memo("features", lambda: _feature_hits(t))
    if not t.in_range(every, start, end):
        return drafts
    done: set[tuple[str, str]] = set()
    for cs, ce in t.clauses(start, end):
        hits: dict[tuple[str, str], list[tuple[int, int]]] = {}
        for h in t.in_range(every, cs, ce):
            hits.setdefault((h.kind, h.key), []).append((h.start, h.end))
        if not hits:
            continue
        here = shares(t, cs, ce)
        cues = [c for c in t.in_range(t.cues, cs, ce) if c.kind in VAGUE]
        for (target, key), spans in hits.items():
            s, e = min(a for a, _ in spans), max(b for _, b in spans)
            num = next((q for q in reversed(here) if q.end <= s), None) or next(
                (q for q in here if q.start >= e), None
            )
            cue = next((c for c in reversed(cues) if c.end <= s), None)
            value: float | None = None
            tol = "some"
            if num is not None:
                value, tol = num.value, num.tol
                s, e = min(s, num.start), max(e, num.end)
            elif cue is not None:
                tol = cue.kind
                value = {"none": 0.0, "all": 1.0}.get(cue.kind)
                s = cue.start
            elif late := next(
                (c for c in cues if c.start >= e and _CUE_AFTER.fullmatch(_prose[e : c.start])),
                None,
            ):  # "ZIP+4 on every address", "accents for everyone"
                tol, e = late.kind, late.end
                value = {"none": 0.0, "all": 1.0}.get(late.kind)
            elif (target, key) in done:
                continue  # "10% names with accents (José, Zoë)": the examples, not a new ask
            done.add((target, key))
            drafts.append(Draft(target, "share", value, tol, s, e, key=key or None, covers=spans))
    return drafts
