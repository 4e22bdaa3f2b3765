"""Vehicles per person: "one vehicle each", "most customers have two or three vehicles".

A count of vehicles is per person only when a person noun, a possession verb or a per-person
cue ties it to one; a share or a vague cue before it makes it a share of persons with that
many vehicles, a comparator a bound ("don't give anyone more than two cars" is max 2), and
clauses that follow carry on the list (", some just one", "a quarter have two").
"""

from __future__ import annotations

import bisect
import itertools
import re

from esdh_agent.ledger.extract_lex import VAGUE, Draft, Text
from esdh_agent.ledger.extract_nums import NEGATED, compare, noun_after, numbers_in, range_pairs
from esdh_agent.ledger.numbers import Quantity

__all__ = ["vehicles"]


def vehicles(t: Text, start: int, end: int) -> list[Draft]:
    """vehicles_per_person: "one vehicle each", "most customers have two or three vehicles"."""
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    nums = [q for q in numbers_in(t, start, end) if 0 <= q.value <= 50 and not q.is_year()]
    pairs = {q.start: (p, s) for p, q, s in range_pairs(t, nums, start)}
    ors = {
        q.start: p
        for p, q in itertools.pairwise(nums)
        if prose[p.end : q.start].strip().lower() == "or"
    }
    seen_end = -1
    clause_starts = [cs for cs, _ in t.clauses(start, end)] if nums else []
    for q in nums:
        noun_end = noun_after(lex, prose, q.end, lex.vehicle, limit=1)
        if noun_end < 0:
            continue
        first = pairs[q.start][0] if q.start in pairs else ors.get(q.start, q)
        lead = pairs[q.start][1] if q.start in pairs else first.start
        per = re.match(
            rf"[\s,]*{lex.per_person.pattern}", prose[noun_end : noun_end + 160], re.IGNORECASE
        )
        i = bisect.bisect_right(clause_starts, lead) - 1
        clause = max(start, clause_starts[i]) if i >= 0 else start
        head = prose[clause:lead]
        tied = bool(
            re.search(
                rf"(?:{lex.possess.pattern}|{lex.person.pattern})\W*"
                rf"(?:(?:{lex.cues.pattern}|{lex.opener.pattern})\s*)?$",
                head,
                re.IGNORECASE,
            )
        )
        if tied and lex.speaker.search(head) and not lex.person.search(head):
            tied = False  # "we have 12 vehicles in the lot": the writer's, not per person
        bound = None if q.start in pairs else compare(lex, prose, first, "count", clause)
        if bound is not None and not (per or tied):
            tied = bool(
                re.search(
                    rf"(?:{lex.possess.pattern}|{lex.person.pattern})\W*$",
                    prose[clause : bound[1]],
                    re.IGNORECASE,
                )
            )
        if not (per or tied):
            continue
        if bound is not None and bound[1] < lead:
            # "more than two cars each", "don't give anyone more than two cars"
            c, bs, _ = bound
            op, value = c.op, q.as_int + c.offset
            neg = NEGATED.search(prose[clause:bs])
            if neg:
                op, value, bs = ("max" if c.op == "min" else "min"), q.as_int, clause + neg.start()
            e = noun_end + (per.end() if per else 0)
            tol = "at_least" if op == "min" else "at_most"
            drafts.append(Draft("vehicles_per_person", op, value, tol, bs, e))
            seen_end = e
            continue
        e = noun_end + (per.end() if per else 0)
        lo, hi = first.as_int, q.as_int
        band = str(lo) if lo == hi else f"{lo}-{hi}"
        share = next(
            (x for x in reversed(t.in_range(t.quantities, clause, lead)) if x.kind != "number"),
            None,
        )
        cue = next(
            (
                c
                for c in reversed(t.in_range(t.cues, clause, lead))
                if c.kind in (*VAGUE, "at_least", "at_most")
            ),
            None,
        )
        if share is not None:
            drafts.append(
                Draft(
                    "vehicles_per_person", "share", share.value, "exact", share.start, e, key=band
                )
            )
        elif cue and cue.kind in ("mostly", "some", "few"):
            drafts.append(
                Draft("vehicles_per_person", "share", None, cue.kind, cue.start, e, key=band)
            )
        elif cue and cue.kind in ("at_least", "at_most"):
            op = "min" if cue.kind == "at_least" else "max"
            drafts.append(
                Draft("vehicles_per_person", op, hi if op == "max" else lo, cue.kind, cue.start, e)
            )
        else:
            s = cue.start if cue else lead
            if q.start in pairs:
                drafts.append(Draft("vehicles_per_person", "range", [lo, hi], "all", s, e))
            else:
                keys = sorted({str(lo), str(hi)}, key=int)
                drafts.append(Draft("vehicles_per_person", "only", keys, "all", s, e))
        seen_end = e
    if seen_end >= 0:
        drafts += _continuations(t, seen_end, end, nums)
    return drafts


def _continuations(t: Text, after: int, end: int, nums: list[Quantity]) -> list[Draft]:
    """ ", some just one", ", others two or three" after a vehicles-per-person requirement."""
    prose, drafts = t.prose, []
    for cs, ce in t.clauses(after, end):
        here = [q for q in nums if cs <= q.start and q.end <= ce]
        cue = next(
            (c for c in t.in_range(t.cues, cs, ce) if c.kind in ("mostly", "some", "few")), None
        )
        # ", a quarter have two", "and a quarter with three": a share instead of a cue
        share = next((x for x in t.in_range(t.quantities, cs, ce) if x.kind != "number"), None)
        if not here or len(here) > 2:
            continue
        rest = prose[here[-1].end : ce].strip(" \t\n.!?;")
        if rest:
            continue
        lo, hi = here[0].as_int, here[-1].as_int
        band = str(lo) if lo == hi else f"{lo}-{hi}"
        if share is not None and share.end <= here[0].start:
            if prose[cs : share.start].strip() or not t.lex.is_filler(
                prose[share.end : here[0].start], limit=3
            ):
                continue
            drafts.append(
                Draft(
                    "vehicles_per_person",
                    "share",
                    share.value,
                    "exact",
                    share.start,
                    here[-1].end,
                    key=band,
                )
            )
            continue
        if cue is None or cue.end > here[0].start:
            continue
        if not re.fullmatch(r"[\s\w]*", prose[cue.end : here[0].start]):
            continue
        drafts.append(
            Draft("vehicles_per_person", "share", None, cue.kind, cue.start, here[-1].end, key=band)
        )
    return drafts
