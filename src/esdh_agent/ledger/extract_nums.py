"""Numeric requirements: person counts, vehicles per person, ages and model years.

A number is a person count only when a person noun follows it (modifiers between are allowed
unless the grammar lists them as blockers), a vehicle count is per person only when a person,
a possession verb or a per-person cue ties it to one, an age needs an age cue or a person noun
in its sentence, and a model year is a four-digit year in a vehicle context.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable

from esdh_agent.ledger.extract_lex import NUMERIC, VAGUE, Draft, Lexicon, Text, tight
from esdh_agent.ledger.grammar import Comparator
from esdh_agent.ledger.numbers import Quantity

__all__ = [
    "NEGATED",
    "ages",
    "compare",
    "counts",
    "cue_before",
    "model_years",
    "noun_after",
    "numbers_in",
    "range_pairs",
]

_TOKEN = re.compile(r"[^\s]+")
NEGATED = re.compile(
    r"(?:\bno\b|\bnothing\b|\bnone\b|\bnobody\b|\bno one\b|\bnot\b|\bnever\b|"
    r"\bdon[’']?t\b|\bdo not\b)[\w\s’']*$",
    re.IGNORECASE,
)

# "nobody should be over 90", "nobody under 18 or over 85": a negation a few words before an
# age comparator, never across "and" or "but" ("no younger than 30 and no more old than 60"
# has one negation per comparator, each inside its phrase)
_NEG_AGE = re.compile(
    r"(?:\bno\b|\bnobody\b|\bno one\b|\bnone\b|\bnot\b)"
    r"(?:\s+(?!(?:and|but)\b)[\w’']+){0,6}\s*$",
    re.IGNORECASE,
)


def _opener_gap(lex: Lexicon) -> re.Pattern[str]:
    """What may stand between a range opener and its first number ("between the ages of")."""
    return lex.g.memo(
        "opener_gap",
        lambda: re.compile(
            rf"\s+(?:the\s+)?(?:{lex.age_cues.pattern}|{lex.my_cues.pattern})(?:\s+of)?\s+",
            re.IGNORECASE,
        ),
    )


def numbers_in(t: Text, start: int, end: int) -> list[Quantity]:
    return [q for q in t.in_range(t.quantities, start, end) if q.kind == "number" and q.integral]


def noun_after(lex: Lexicon, prose: str, pos: int, noun: re.Pattern[str], limit: int = 3) -> int:
    """End of a noun that follows ``pos`` over at most ``limit`` modifier words, else -1."""
    i = pos
    for _ in range(limit + 1):
        gap = re.match(r"[\s\-]+", prose[i : i + 160])
        if not gap:
            return -1
        i += gap.end()
        m = noun.match(prose, i)
        if m:
            return m.end()
        word = re.match(r"[A-Za-z][\w'’]*(?:-[\w'’]+)*", prose[i : i + 160])
        if not word or word.group().lower() in lex.blockers:
            return -1
        if noun is lex.vehicle and lex.vehicle.fullmatch(word.group()):
            return -1
        if re.match(r"\d", word.group()):
            return -1
        i += word.end()
    return -1


def cue_before(
    t: Text, pos: int, classes: tuple[str, ...], reach: int = 1
) -> tuple[str, int] | None:
    for c in reversed(t.in_range(t.cues, max(0, pos - 80), pos)):
        gap = t.prose[c.end : pos]
        near = len(re.findall(r"[^\s.]+", gap)) < reach
        if c.end <= pos and c.kind in classes and near and (tight(gap) or reach > 1):
            return c.kind, c.start
        if c.end <= pos - 80:
            break
    return None


def compare(
    lex: Lexicon, prose: str, q: Quantity, name: str, floor: int
) -> tuple[Comparator, int, int] | None:
    before, after = lex.comparators[name]
    head = prose[max(floor, q.start - 40) : q.start]
    hits = [(m.start(), comp) for pattern, comp in before if (m := pattern.search(head))]
    if hits:
        first, comp = min(hits, key=lambda h: h[0])
        return comp, q.start - len(head) + first, q.end
    for pattern, comp in after:
        m = pattern.match(prose, q.end)
        if m:
            return comp, q.start, m.end()
    return None


def range_pairs(t: Text, nums: list[Quantity], start: int) -> list[tuple[Quantity, Quantity, int]]:
    """Adjacent numbers joined by a range connector: (low end, high end, quote start)."""
    prose, lex = t.prose, t.lex
    out = []
    for p, q in itertools.pairwise(nums):
        gap = prose[p.end : q.start]
        if not lex.connector.match(gap):
            continue
        opener = None
        for m in lex.opener.finditer(prose, max(start, p.start - 40), p.start):
            between = prose[m.end() : p.start]
            # "between 30 and 45", "between the ages of 30 and 45", "from model year 2015 to"
            if not between.strip() or _opener_gap(lex).fullmatch(between):
                opener = m
        word = gap.strip().lower()
        paren = prose[max(start, p.start - 1) : p.start] == "(" and prose[q.end : q.end + 1] == ")"
        cued = re.search(
            r"(?:ages?|aged|years?)\s*$", prose[max(start, p.start - 8) : p.start], re.IGNORECASE
        )
        if word == "and" and opener is None and not paren and not cued:
            continue
        out.append((p, q, opener.start() if opener else p.start))
    return out


def counts(t: Text, start: int, end: int) -> list[Draft]:
    """person_count: "200 persons", "about 120k drivers", "between 60 and 150 persons"."""
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    nums = [q for q in numbers_in(t, start, end) if q.value >= 1 and not q.single]
    pairs = {q.start: (p, s) for p, q, s in range_pairs(t, nums, start)}
    for q in nums:
        if re.search(
            r"(?:seed|version)\W{0,3}$", prose[max(0, q.start - 12) : q.start], re.IGNORECASE
        ):
            continue
        after_cmp = next(
            (m for pat, c in lex.comparators["count"][1] if (m := pat.match(prose, q.end))), None
        )
        noun_end = noun_after(lex, prose, after_cmp.end() if after_cmp else q.end, lex.person)
        label = _label_before(t, q, start)
        if noun_end < 0 and label is not None:
            # "Persons: 750", "rows = 750": a field label and its value, as in a table
            drafts.append(Draft("person_count", "eq", q.as_int, "exact", label, q.end))
            continue
        if noun_end < 0:
            them = re.match(r"\s+of\s+them\b", prose[q.end : q.end + 160])
            if not them or q.is_year() or q.value < 2 or drafts:
                continue  # "every one of them", "two of them" after a count: a subgroup
            if cue_before(t, q.start, VAGUE):
                continue
            noun_end = q.end + them.end()
        if q.start in pairs:
            p, s = pairs[q.start]
            drafts.append(
                Draft("person_count", "range", [p.as_int, q.as_int], "exact", s, noun_end)
            )
            continue
        comp = compare(lex, prose, q, "count", start)
        cue = cue_before(t, q.start, NUMERIC)
        if cue and cue[0] in ("at_least", "at_most"):
            op = "min" if cue[0] == "at_least" else "max"
            drafts.append(Draft("person_count", op, q.as_int, cue[0], cue[1], noun_end))
        elif comp:
            c, s, _ = comp
            tol = "at_least" if c.op == "min" else "at_most"
            drafts.append(Draft("person_count", c.op, q.as_int + c.offset, tol, s, noun_end))
        else:
            tol, s = cue if cue else ("exact", q.start)
            drafts.append(Draft("person_count", "eq", q.as_int, tol, s, noun_end))
            drafts += _alternative(t, noun_end, end)
    return drafts


def _label_before(t: Text, q: Quantity, start: int) -> int | None:
    """Start of a person noun written as a field label right before ``q`` ("Persons: 750"),
    when nothing but a clause break stands before the label and no other noun follows."""
    prose, lex = t.prose, t.lex
    head = prose[max(start, q.start - 40) : q.start]
    m = re.search(rf"(?:^|(?<=[\s,;(|]))({lex.person.pattern})\s*[:=]\s*$", head, re.I)
    if m is None or q.is_year() or not q.digits:
        return None
    at = q.start - len(head) + m.start(1)
    if prose[start:at].strip(" \t\n,;(|") or not re.match(r"\s*(?:[.,;)|]|$)", prose[q.end :]):
        return None
    return at


def _alternative(t: Text, pos: int, end: int) -> list[Draft]:
    """ "200 persons (or 2,000, whatever is easier)": a second count offered as an
    alternative right after the first, with no noun of its own."""
    prose = t.prose
    alt = re.match(r"\s*[(,]?\s*or\s+(?:maybe\s+|perhaps\s+)?", prose[pos : pos + 40], re.I)
    if not alt:
        return []
    at = pos + alt.end()
    q = next((x for x in numbers_in(t, at, end) if x.start == at), None)
    if q is None or q.is_year() or q.value < 1:
        return []
    after = prose[q.end : q.end + 20]
    if not re.match(r"\s*(?:[,;.)!?]|$|\s+(?:whatever|if|or|either)\b)", after, re.I):
        return []
    return [Draft("person_count", "eq", q.as_int, "exact", q.start, q.end)]


def ages(t: Text, start: int, end: int, taken: list[tuple[int, int]]) -> list[Draft]:
    """age: "aged 21-70", "half of them young (16 and 17)", "over 90", "under 25"."""
    prose, lex = t.prose, t.lex
    context = bool(lex.age_cues.search(prose, start, end)) or bool(
        lex.person.search(prose, start, end)
    )
    if not context and not re.search(r"\bof\s+them\b", prose[start:end], re.IGNORECASE):
        return []
    inside = _within(taken)
    nums = [
        q
        for q in numbers_in(t, start, end)
        if q.value <= 120 and not q.is_year() and not inside(q.start)
    ]
    drafts: list[Draft] = []
    used: set[int] = set()
    floor = start
    for p, q, s in range_pairs(t, nums, start):
        if noun_after(lex, prose, q.end, lex.vehicle, 1) >= 0 or re.match(
            r"\s*(?:%|percent)", prose[q.end : q.end + 160]
        ):
            continue
        if lex.tenure.search(prose, max(start, s - 40), s):
            continue  # "licensed 2-5 yrs": years of a licence, not an age
        connector = prose[p.end : q.start].strip().lower()
        tail = re.match(
            r"[\s)]*(?:" + lex.age_cues.pattern + ")", prose[q.end : q.end + 160], re.IGNORECASE
        )
        cued = re.search(rf"(?:{lex.age_cues.pattern})\s*$", prose[max(start, s - 16) : s], re.I)
        lo, hi = sorted((p.as_int, q.as_int))
        e = q.end + (1 if prose[q.end : q.end + 1] == ")" and "(" in prose[s : q.end] else 0)
        marks = [floor + m.end() for m in re.finditer(r"[,;:]", prose[floor:s])]
        seg_start = max([floor, *marks])
        share = next(
            (x for x in reversed(t.in_range(t.quantities, seg_start, s)) if x.kind != "number"),
            None,
        )
        # "Half of them should be 16 or 17": a share of persons said to be two ages
        said = share is not None and lex.is_filler(prose[share.end : s]) and _bare_end(t, e)
        if (connector == "or" and not (tail or cued or said)) or not (context or said):
            continue
        cue = next(
            (
                c
                for c in reversed(t.in_range(t.cues, seg_start, s))
                if c.kind in ("mostly", "some", "few")
            ),
            None,
        )
        if share is not None:
            drafts.append(
                Draft("age", "share", share.value, "exact", share.start, e, key=f"{lo}-{hi}")
            )
        elif cue is not None:
            drafts.append(Draft("age", "share", None, cue.kind, cue.start, e, key=f"{lo}-{hi}"))
        else:
            drafts.append(Draft("age", "range", [lo, hi], "all", s, e))
        used |= {p.start, q.start}
        floor = e
    for q in nums:
        if q.start in used:
            continue
        comp = compare(lex, prose, q, "age", start)
        if comp is None:
            continue
        c, s, e = comp
        if not _bare_end(t, e) or lex.tenure.search(prose, max(start, s - 40), s):
            continue  # "at least one prior claim", "licensed over 5 years": not an age
        head = prose[max(start, s - 30) : s]
        if any(x.kind != "number" for x in t.in_range(t.quantities, max(start, s - 30), s)):
            continue
        value, op = q.as_int + c.offset, c.op
        neg = _NEG_AGE.search(head)
        if neg:
            op = "max" if c.op == "min" else "min"
            value = q.as_int
            s = max(start, s - 30) + neg.start()
        drafts.append(Draft("age", op, value, "at_least" if op == "min" else "at_most", s, e))
    return drafts


def _within(spans: list[tuple[int, int]]) -> Callable[[int], bool]:
    """A test of whether a position lies inside any of ``spans`` (a bisection, not a scan)."""
    ordered = sorted(spans)
    starts = [a for a, _ in ordered]
    reach = list(itertools.accumulate((b for _, b in ordered), max))

    def inside(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and reach[i] > pos

    return inside


def _bare_end(t: Text, pos: int) -> bool:
    """True when what follows an age is nothing, punctuation, an age cue, a person noun, a
    filler, a tolerance cue or a joiner ("over 90, in Arizona"), not another noun."""
    lex = t.lex
    word = re.match(r"[\s)]*([A-Za-z][\w'’]*)", t.prose[pos : pos + 60])
    if word is None:
        return True
    w, at = word.group(1), pos + word.start(1)
    if lex.vehicle.match(t.prose, at):
        return False
    return bool(
        lex.is_filler(w)
        or lex.age_cues.match(t.prose, at)
        or lex.person.match(t.prose, at)
        or lex.cues.match(t.prose, at)
        or lex.joiner.match(w)
        or lex.connector.match(w)
    )


def model_years(
    t: Text, start: int, end: int, taken: list[tuple[int, int]] | None = None
) -> list[Draft]:
    """model_year: "model years 2015 to 2024", "2020 or newer", "nothing newer than 2018".

    Years inside ``taken`` spans (an as-of date) or said right after an as-of cue ("as of
    December 2025") are dates, not model years."""
    prose, lex = t.prose, t.lex
    cues = [m.end() for m in lex.as_of.finditer(prose, start, end)]
    date_words = rf"(?:the|of|end|start|date|\d{{1,2}}(?:st|nd|rd|th)?|{lex.month.pattern})"
    dated = re.compile(rf"(?:[\s,.\-/]*{date_words})*[\s,.\-/]*", re.IGNORECASE)
    years = [
        q
        for q in numbers_in(t, start, end)
        if q.is_year()
        and not any(a <= q.start < b for a, b in taken or [])
        and not any(c <= q.start and dated.fullmatch(prose, c, q.start) for c in cues)
    ]
    if not years:
        return []
    drafts: list[Draft] = []
    used: set[int] = set()
    for p, q, s in range_pairs(t, years, start):
        cue = None
        for m in lex.my_cues.finditer(prose, max(start, s - 20), s):
            if not prose[m.end() : s].strip():
                cue = m
        lo, hi = sorted((p.as_int, q.as_int))
        drafts.append(
            Draft("model_year", "range", [lo, hi], "all", cue.start() if cue else s, q.end)
        )
        used |= {p.start, q.start}
    nouns = {q.start: n.end() for q in years if (n := lex.year_noun.match(prose, q.end))}
    vehicle_context = bool(
        nouns
        or lex.my_cues.search(prose, start, end)
        or lex.vehicle.search(prose, start, end)
        or any(p.search(prose, start, end) for _, p in lex.body)
    )
    if not vehicle_context:
        return drafts
    for q in years:
        if q.start in used:
            continue
        at = max(start, q.start - 40)  # a cue right before the year, not the whole sentence
        cue = re.search(rf"(?:{lex.my_cues.pattern})\s*$", prose[at : q.start], re.IGNORECASE)
        shifted = Quantity(
            cue.start() + at if cue else q.start,
            nouns.get(q.start, q.end),  # "2018 models or newer": the bound follows the noun
            q.value,
            q.kind,
            q.digits,
            q.text,
        )
        comp = compare(lex, prose, shifted, "model_year", start)
        if comp is None:
            continue
        c, s, e = comp
        op, value = c.op, q.as_int + c.offset
        head = prose[max(start, s - 30) : s]
        neg = NEGATED.search(head)
        if neg and c.offset:  # "no vehicles older than 2015": none before 2015, so min 2015
            op, value = ("max" if c.op == "min" else "min"), q.as_int
            s = s - len(head) + neg.start()
        tol = "at_least" if op == "min" else "at_most"
        drafts.append(Draft("model_year", op, value, tol, s, max(e, q.end)))
    return drafts
