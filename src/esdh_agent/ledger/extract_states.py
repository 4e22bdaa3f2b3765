"""Lower-case state codes: "ca 60% / nv 40%", "70% az / 30% ut", "nv only".

Lower-case two-letter words are mostly English ("or", "in", "me"), so a lower-case code is a
state only where a careful reader would take it for one: tight against a percentage with
another state in the sentence, or (for codes that are no English word) after a state context
("in az") or before "only". Codes in ``lowercase_codes_never`` are never read.
"""

from __future__ import annotations

import bisect
import re

from esdh_agent.ledger.extract_lex import Span, Text

__all__ = ["lower_codes"]

_PCT_AFTER = re.compile(r"\s*[:=]?\s*~?\d+(?:\.\d+)?\s*%")
_PCT_BEFORE = re.compile(r"\d\s*%\s*$")
_LIST_END = re.compile(r"\s*(?:[,;/.)!?&+]|and\b|$)", re.IGNORECASE)


def lower_codes(t: Text, sure: list[Span], taken: list[tuple[int, int]]) -> list[Span]:
    """ "ca 60% / nv 40%", "70% az / 30% ut", "nv only": lower-case codes, read only tight
    against a percentage beside another state, or (when the code is no English word) after a
    state context or before "only"."""
    prose, lex = t.prose, t.lex
    spans = sorted(taken)
    ends = [b for _, b in spans]
    found = []
    for m in lex.state_code_lower.finditer(prose):
        i = bisect.bisect_right(ends, m.start())  # the first taken span ending after it
        if i < len(spans) and spans[i][0] < m.end():
            continue
        found.append(Span("state", m.group().upper(), m.start(), m.end()))
    if not found:
        return []
    starts = sorted(x.start for x in sure + found)

    def by_percent(c: Span) -> bool:
        head = prose[max(0, c.start - 12) : c.start]
        if _PCT_AFTER.match(prose, c.end):
            return not re.search(r"%\s*$", head)
        return bool(_PCT_BEFORE.search(head) and _LIST_END.match(prose, c.end))

    out = []
    for c in found:
        s0, e0 = t.sentence_of(c.start)
        others = bisect.bisect_left(starts, e0) - bisect.bisect_left(starts, s0) > 1
        only = prose[c.end : c.end + 1] == " " and lex.suffix_all.match(prose, c.end + 1)
        placed = lex.state_context.search(prose[max(0, c.start - 20) : c.start])
        if (by_percent(c) and others) or (c.key not in lex.ambiguous and (only or placed)):
            out.append(c)
    return out
