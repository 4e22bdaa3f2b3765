"""Plan facts and directives: seed, dataset version, as-of date and asks about the run.

"seed 77", "dataset version v0.2", "as of 1 November 2025" are facts of the plan; "skip the
critics", "set the marker to empty", "APPROVED" are directives the gate decides. Directive
phrases are governed patterns; the matches of one kind in one sentence make one requirement.
"""

from __future__ import annotations

import datetime as dt
import re

from esdh_agent.ledger.extract_lex import Draft, Text

__all__ = ["directives", "plan_facts"]

_VERSION = re.compile(r"(?<![\w./])[vV](\d+(?:\.\d+){1,2})(?![\w/]|\.\d)")
_ISO = re.compile(r"(?<![\w.-])(\d{4})-(\d{2})-(\d{2})(?![\w-])")
# "31.12.2025" (day first, as written in Europe), "12/31/2025" or "31/12/2025" when the
# order is plain from a number above 12 ("01/02/2025" is left unread: either order fits)
_NUMERIC = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?![\w.]\d|\d)")


def plan_facts(t: Text) -> list[Draft]:
    """seed, dataset_version and as_of_date readings of the whole prose."""
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    words = {q.start: q for q in t.quantities if q.kind == "number" and not q.digits}
    for m in lex.seed.finditer(prose):
        num = re.match(
            r"\s*(?:of|=|:|to|is|at|with|number)?\s*(\d{1,12})(?![\w.,]\d)",
            prose[m.end() : m.end() + 160],
            re.IGNORECASE,
        )
        if num:
            drafts.append(
                Draft("seed", "eq", int(num.group(1)), "exact", m.start(), m.end() + num.end())
            )
            continue
        lead = re.match(
            r"\s*(?:of|=|:|to|is|at|with|number)?\s*", prose[m.end() : m.end() + 40], re.I
        )
        said = words.get(m.end() + (lead.end() if lead else 0))  # "seed forty-two"
        if said is not None and said.integral:
            drafts.append(Draft("seed", "eq", said.as_int, "exact", m.start(), said.end))
    for m in _VERSION.finditer(prose):
        s = m.start()
        cue = None
        for c in lex.version.finditer(prose, max(0, s - 30), s):
            if re.fullmatch(r"\s*(?:[:=]|to|of|is)?\s*", prose[c.end() : s]):
                cue = c
        drafts.append(
            Draft(
                "dataset_version",
                "eq",
                f"v{m.group(1)}",
                "exact",
                cue.start() if cue else s,
                m.end(),
            )
        )
    for m in lex.version.finditer(prose):
        num = re.match(
            r"\s*(?:[:=]|to|of|is)?\s*(\d+\.\d+(?:\.\d+)?)(?![\w/]|\.\d)",
            prose[m.end() : m.end() + 160],
        )
        if num:
            drafts.append(
                Draft(
                    "dataset_version",
                    "eq",
                    f"v{num.group(1)}",
                    "exact",
                    m.start(),
                    m.end() + num.end(),
                )
            )
    drafts += _dates(t)
    return drafts


def _dates(t: Text) -> list[Draft]:
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    for m in lex.as_of.finditer(prose):
        rest = prose[m.end() : m.end() + 40]
        gap = re.match(r"\s*(?:date\s*)?(?:of\s+|[:=]\s*|is\s+)?(?:the\s+)?", rest)
        pos = m.end() + (gap.end() if gap else 0)
        iso = _ISO.match(prose, pos)
        found = (
            (iso.group(1), iso.group(2), iso.group(3), iso.end())
            if iso
            else _numeric(prose, pos) or _said(t, pos)
        )
        if found is None:
            continue
        try:
            day = dt.date(int(found[0]), int(found[1]), int(found[2]))
        except ValueError:
            continue
        drafts.append(Draft("as_of_date", "eq", day.isoformat(), "exact", m.start(), found[3]))
    for m in _ISO.finditer(prose):
        if any(d.start <= m.start() < d.end for d in drafts):
            continue
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
        drafts.append(Draft("as_of_date", "eq", day.isoformat(), "exact", m.start(), m.end()))
    return drafts


def _numeric(prose: str, pos: int) -> tuple[str, str, str, int] | None:
    """A date in digits at ``pos`` other than ISO: "31.12.2025", "31/12/2025", "12/31/2025"."""
    m = _NUMERIC.match(prose, pos)
    if m is None:
        return None
    a, sep, b, year = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    if sep == "." or a > 12:
        day, month = a, b
    elif b > 12:
        day, month = b, a
    else:
        return None
    return year, str(month), str(day), m.end()


def _said(t: Text, pos: int) -> tuple[str, str, str, int] | None:
    """A date in words at ``pos``: "1 November 2025", "the first of December twenty
    twenty-five", "November 1st, 2025" as (year, month, day, end)."""
    prose, lex = t.prose, t.lex
    day = rf"(?:(\d{{1,2}})(?:st|nd|rd|th)?|({lex.ordinal.pattern}))"
    month = lex.month.pattern
    first = re.compile(rf"{day}\s+(?:of\s+)?({month})\.?,?\s+", re.IGNORECASE).match(prose, pos)
    if first:
        d, o, mo, end = first.group(1), first.group(2), first.group(3), first.end()
    else:
        second = re.compile(rf"({month})\.?\s+(?:the\s+)?{day},?\s+", re.IGNORECASE).match(
            prose, pos
        )
        if second is None:
            return None
        mo, d, o, end = second.group(1), second.group(2), second.group(3), second.end()
    year = _year_at(t, end)
    if year is None:
        return None
    number = d if d else str(lex.ordinals[re.sub(r"[\s\-]+", " ", o.lower())])
    return str(year[0]), str(lex.months[mo.lower()]), number, year[1]


def _year_at(t: Text, pos: int) -> tuple[int, int] | None:
    for q in t.in_range(t.quantities, pos, pos + 40):
        if q.start == pos and q.is_year():
            return q.as_int, q.end
    return None


def directives(t: Text) -> list[Draft]:
    """One directive requirement per kind and sentence, spanning its matching phrases."""
    drafts: list[Draft] = []
    for kind, patterns in t.lex.directives.items():
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for pattern in patterns:
            for m in pattern.finditer(t.prose):
                if m.end() > m.start():
                    spans.setdefault(t.sentence_of(m.start()), []).append((m.start(), m.end()))
        for found in spans.values():
            s, e = min(a for a, _ in found), max(b for _, b in found)
            drafts.append(Draft("directive", "eq", None, "exact", s, e, key=kind, covers=found))
    return drafts
