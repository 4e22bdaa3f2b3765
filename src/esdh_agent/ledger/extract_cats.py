"""Categorical requirements: states, lines of business, body styles and risk.

A category mention takes the nearest share or cue it is attached to: a share before it ("60%
AZ", "40% of them in Nevada") or right after it ("AZ 60%", "trucks (around 70%)"), a vague cue
("mostly trucks", "nobody from California", "personal lines only"), or a ratio after a list
("AZ/NV (60/40)"). Mentions with no cue form one ``only`` requirement per sentence; cues of
``all`` join it, cues of ``none`` (before it, or after it: "Texas is off limits") form an
``exclude``. A state name between a determiner and another noun ("the Nevada launch") is not
a place; two codes written tight ("WA+OR") are a list. Row features: ``extract_features``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from fractions import Fraction
from typing import Any

from esdh_agent.ledger.extract_lex import VAGUE, Draft, Share, Span, Text, shares
from esdh_agent.ledger.extract_states import lower_codes

__all__ = ["categorical", "mentions"]

_RATIO = re.compile(r"(?<![\w.])\d+(?:\.\d+)?%?(?:\s*/\s*\d+(?:\.\d+)?%?)+(?![\w/])")
_SUFFIX_GAP = re.compile(r"^\s*(?:[(:=]|at|with|of)?\s*$", re.IGNORECASE)


def _states(t: Text) -> list[Span]:
    lex, prose = t.lex, t.prose
    names = [
        Span(
            "state", lex.state_names[re.sub(r"[\s\-]+", " ", m.group().lower())], m.start(), m.end()
        )
        for m in lex.state_name.finditer(prose)
    ]
    taken = [(s.start, s.end) for s in names]
    codes = [
        Span("state", m.group(), m.start(), m.end())
        for m in lex.state_code.finditer(prose)
        if not any(a < m.end() and m.start() < b for a, b in taken)
    ]
    names = [n for n in names if not _adjective(t, n)]
    sure = sorted(names + [c for c in codes if c.key not in lex.ambiguous], key=lambda s: s.start)
    waiting = [c for c in codes if c.key in lex.ambiguous]
    for _ in range(2):
        more = [c for c in waiting if _code_in_context(t, c, sure)]
        waiting = [c for c in waiting if c not in more]
        sure = sorted(sure + more, key=lambda s: s.start)
    return sorted(sure + lower_codes(t, sure, taken), key=lambda s: s.start)


def _adjective(t: Text, name: Span) -> bool:
    """ "For the Nevada launch", "our Texas office": a state name between a determiner and
    another noun names a thing, not where persons live ("the Texas drivers" still does)."""
    prose, lex = t.prose, t.lex
    before = re.search(r"([A-Za-z]+)\s+$", prose[max(0, name.start - 40) : name.start])
    if before is None or before.group(1).lower() not in lex.determiners:
        return False
    head = prose[max(0, name.start - 40) : name.start - len(before.group())]
    if lex.state_context.search(head.rstrip() + " "):
        return False  # "customers in the Nevada market"
    nxt = re.match(r"[\s\-]+([A-Za-z][\w'’]*)", prose[name.end : name.end + 60])
    if nxt is None:
        return False
    at = name.end + nxt.start(1)
    return not (
        lex.person.match(prose, at)
        or lex.state_name.match(prose, at)
        or lex.joiner.match(nxt.group(1))
        or lex.is_filler(nxt.group(1))
        or lex.cues.match(prose, at)
    )


def _code_in_context(t: Text, code: Span, sure: list[Span]) -> bool:
    prose, lex = t.prose, t.lex
    s0, e0 = t.sentence_of(code.start)
    letters = [c for c in prose[s0:e0] if c.isalpha()]
    shouting = len(letters) > 12 and sum(c.isupper() for c in letters) > 0.6 * len(letters)
    after = prose[code.end : code.end + 12]
    before = prose[max(0, code.start - 12) : code.start]
    if re.match(r"\s*[(:]?\s*~?\d+(?:\.\d+)?\s*%", after) or re.search(
        r"\d\s*%\s*(?:in\s+)?$", before
    ):
        return True
    if shouting:
        return False
    # "WA+OR", "OR/WA": two codes written tight together are a list of states
    if lex.code_pair.fullmatch(prose, max(0, code.start - 3), code.end) or lex.code_pair.fullmatch(
        prose, code.start, code.end + 3
    ):
        return True
    for other in sure[bisect.bisect_left([x.start for x in sure], code.start - 12) :][:4]:
        if other.start == code.start:
            continue
        gap = (
            prose[other.end : code.start]
            if other.end <= code.start
            else prose[code.end : other.start]
        )
        if len(gap) < 8 and lex.joiner.match(gap) and gap.strip():
            return True
    return bool(lex.state_context.search(prose[max(0, code.start - 20) : code.start]))


def _lob(t: Text) -> list[Span]:
    lex, prose = t.lex, t.prose
    strong = [
        Span("lob", k, m.start(), m.end()) for k, p in lex.lob_strong for m in p.finditer(prose)
    ]
    weak = [
        Span("lob", k, m.start(), m.end())
        for k, p in lex.lob_weak
        for m in p.finditer(prose)
        if not any(s.start <= m.start() < s.end for s in strong)
    ]
    cue_ends = {c.end for c in t.cues} | {q.end for q in t.quantities if q.kind != "number"}
    keep = [s for s in strong if not lex.lob_block.match(prose, s.end)]
    # "PL insureds", "CL accounts": a short form only right before a weak follower
    keep += [
        Span("lob", k, m.start(), m.end())
        for k, p in lex.lob_abbrev
        for m in p.finditer(prose)
        if lex.lob_follow.match(prose, m.end()) and not lex.lob_block.match(prose, m.end())
    ]
    for w in weak:
        after = prose[w.end : w.end + 160]
        if lex.lob_block.match(after):
            continue
        pre_cue = any(
            w.start - e <= 12 and lex.is_filler(prose[e : w.start])
            for e in cue_ends
            if e <= w.start
        )
        coordinated = any(
            lex.joiner.match(prose[o.end : w.start] if o.end <= w.start else prose[w.end : o.start])
            for o in strong + weak
            if o is not w and abs(o.start - w.start) < 40
        )
        if (
            lex.lob_follow.match(after)
            or lex.suffix_all.match(after.lstrip())
            or pre_cue
            or coordinated
        ):
            keep.append(w)
    return sorted(keep, key=lambda s: s.start)


def _risk(t: Text) -> list[Span]:
    lex, prose = t.lex, t.prose
    levels = sorted(
        (
            Span("risk", k, m.start(), m.end())
            for k, p in lex.risk_levels
            for m in p.finditer(prose)
        ),
        key=lambda s: s.start,
    )
    words = [(m.start(), m.end()) for m in lex.risk_words.finditer(prose)]
    level_words = {prose[s.start : s.end].lower() for s in levels}
    kept = []
    for lv in levels:
        if "risk" in prose[lv.start : lv.end].lower():
            kept.append(lv)
            continue
        for a, b in words:
            lo, hi = (lv.end, a) if a >= lv.end else (b, lv.start)
            if hi - lo > 40 or (a < lv.end and b > lv.start):
                continue
            gap = list(prose[lo:hi])
            for q in t.in_range(t.quantities, lo, hi):  # "Risk: three quarters low"
                gap[q.start - lo : q.end - lo] = " " * (q.end - q.start)
            tokens = re.findall(r"[^\s,/:]+", "".join(gap))
            if all(
                w.lower() in level_words
                or lex.is_filler(w)
                or lex.connector.match(w)
                or lex.joiner.match(w)
                or lex.cues.fullmatch(w)
                for w in tokens
            ):
                kept.append(lv)
                break
    out: list[Span] = []
    order: list[str] = list(t.lex.g.risk.order)
    for x, y in itertools.pairwise(kept):
        if lex.connector.match(prose[x.end : y.start]) and "and" not in prose[x.end : y.start]:
            lo, hi = sorted((order.index(x.key), order.index(y.key)))
            out += [Span("risk", k, x.end, x.end) for k in order[lo + 1 : hi]]
    return sorted(kept + out, key=lambda s: (s.start, s.end))


def mentions(t: Text) -> dict[str, list[Span]]:
    """Every category mention in the prose, by target (computed once per text)."""
    return t.memo("mentions", lambda: _mentions(t))


def _mentions(t: Text) -> dict[str, list[Span]]:
    lex = t.lex
    body = [
        Span("body_style", k, m.start(), m.end()) for k, p in lex.body for m in p.finditer(t.prose)
    ]
    return {"state": _states(t), "lob": _lob(t), "body_style": _dedupe(body), "risk": _risk(t)}


def _dedupe(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if not out or s.start >= out[-1].end:
            out.append(s)
    return out


def categorical(t: Text, found: dict[str, list[Span]], start: int, end: int) -> list[Draft]:
    """The state, lob, body_style and risk requirements of one sentence."""
    drafts: list[Draft] = []
    found_shares = shares(t, start, end)
    vague = [c for c in t.in_range(t.cues, start, end) if c.kind in VAGUE]
    claimed: set[int] = set()
    for target, spans in found.items():
        here = t.in_range(spans, start, end)
        drafts += _attach(t, target, here, found_shares, vague, claimed)
        drafts += _ratios(t, target, here, start, end)
    return drafts


def _attach(
    t: Text,
    target: str,
    here: list[Span],
    shares: list[Share],
    vague: list[Span],
    claimed: set[int],
) -> list[Draft]:
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    groups: dict[str, list[tuple[int, int, str]]] = {"all": [], "none": []}
    prev: tuple[Span, str, int] | None = None
    # spans are in order and do not overlap: the nearest one each side is a bisection away
    share_ends, share_starts = [q.end for q in shares], [q.start for q in shares]
    vague_ends, here_starts = [c.end for c in vague], [o.start for o in here]

    def at(items: list[Any], i: int) -> Any:
        return items[i] if 0 <= i < len(items) else None

    for m in here:
        num = at(shares, bisect.bisect_right(share_ends, m.start) - 1)
        if num and (id(num) in claimed or not _share_gap(t, num.end, m.start)):
            num = None
        cue = at(vague, bisect.bisect_right(vague_ends, m.start) - 1)
        if cue and not lex.is_filler(prose[cue.end : m.start]):
            cue = None
        if num is None:
            nxt = at(shares, bisect.bisect_left(share_starts, m.end))
            if nxt and id(nxt) not in claimed and _SUFFIX_GAP.match(prose[m.end : nxt.start]):
                after = at(here, bisect.bisect_left(here_starts, nxt.end))
                if after is None or not lex.is_filler(prose[nxt.end : after.start]):
                    num = nxt
        rest = re.search(
            rf"(?:{lex.remainder.pattern})\W*(?:\w+\W+){{0,3}}$",
            prose[max(0, m.start - 40) : m.start],
        )
        if num is None and cue is None and rest:
            listed = [d for d in drafts if d.op == "share" and isinstance(d.value, float)]
            left = _rest([d.value for d in listed])
            if listed and 0 < left < 1:
                s = m.start - (min(40, m.start) - rest.start())
                # the rest of approximate shares is approximate too
                tol = "approx" if any(d.tolerance == "approx" for d in listed) else "exact"
                drafts.append(Draft(target, "share", left, tol, s, m.end, key=m.key))
                prev = (m, "num", s)
                continue
        tail = lex.suffix_all.match(
            prose,
            m.end + len(prose[m.end : m.end + 160]) - len(prose[m.end : m.end + 160].lstrip()),
        )
        out = lex.suffix_none.match(
            prose,
            m.end + len(prose[m.end : m.end + 160]) - len(prose[m.end : m.end + 160].lstrip()),
        )  # "Texas is off limits", "sedans are excluded"
        if out and not cue:
            tail = out
            # "Trucks and SUVs are off limits": the bare mentions joined to this one too
            while (
                groups["all"]
                and prev is not None
                and prev[1] == "bare"
                and groups["all"][-1][1] == prev[0].end
                and lex.joiner.match(prose[prev[0].end : m.start])
            ):
                groups["none"].append(groups["all"].pop())
                prev = None
        kind = cue.kind if cue else ("none" if out else "all" if tail else "")
        cstart = cue.start if cue else m.start
        cend = tail.end() if (tail and not cue) else m.end
        if (
            not kind
            and prev
            and prev[1] in VAGUE
            and lex.joiner.match(prose[prev[0].end : m.start])
        ):
            kind, cstart = prev[1], prev[2]
        if num is not None:
            claimed.add(id(num))
            tol = num.tol if (num.tol != "exact" or kind not in ("mostly", "some", "few")) else kind
            s, e = min(num.start, cstart), max(num.end, m.end)
            if e < len(prose) and prose[e] == ")" and "(" in prose[s:e]:
                e += 1
            drafts.append(Draft(target, "share", num.value, tol, s, e, key=m.key))
            prev = (m, "num", s)
            continue
        if kind in ("mostly", "some", "few"):
            drafts.append(Draft(target, "share", None, kind, cstart, cend, key=m.key))
        else:
            groups["all" if kind in ("all", "") else "none"].append(
                (min(cstart, m.start), max(cend, m.end), m.key)
            )
        prev = (m, kind or "bare", cstart)
    for kind, items in groups.items():
        if items:
            keys = sorted({k for _, _, k in items})
            op, tol = ("only", "all") if kind == "all" else ("exclude", "none")
            s, e = min(i[0] for i in items), max(i[1] for i in items)
            drafts.append(Draft(target, op, keys, tol, s, e, covers=[(a, b) for a, b, _ in items]))
    return drafts


def _rest(values: list[float]) -> float:
    """What the shares leave: fractions rounded to 4 places are taken as what they round
    ("one sixth" is 0.1667, so two of them leave 0.6667, not 0.6666)."""
    total, places = Fraction(0), 6
    for v in values:
        near = Fraction(v).limit_denominator(12)
        if near != Fraction(v) and abs(float(near) - v) < 5e-5:
            total, places = total + near, 4  # read as fractions are: to 4 places
        else:
            total += Fraction(v)
    return round(float(1 - total), places)


def _share_gap(t: Text, a: int, b: int) -> bool:
    """Filler words only between a share and its category, a head count allowed ("2/3 of
    the 600 policyholders should be in Washington")."""
    gap = t.prose[a:b]
    for q in t.in_range(t.quantities, a, b):
        if q.kind == "number" and t.lex.person.match(t.prose, q.end + 1):
            gap = gap.replace(q.text, " ", 1)
            return t.lex.is_filler(gap, limit=8)
    return t.lex.is_filler(gap)


def _ratios(t: Text, target: str, here: list[Span], start: int, end: int) -> list[Draft]:
    """'AZ/NV (60/40)', 'Texas and California, 50/60': a list of k categories, k shares."""
    prose, lex = t.prose, t.lex
    drafts: list[Draft] = []
    for m in _RATIO.finditer(prose, start, end):
        parts = [float(p.rstrip("%")) for p in re.split(r"\s*/\s*", m.group())]
        before = [s for s in here if s.end <= m.start()]
        run: list[Span] = []
        if before and re.fullmatch(
            r"[\s,(:]*(?:split|at)?[\s,(:]*", prose[before[-1].end : m.start()]
        ):
            run = [before[-1]]
            for s in reversed(before[:-1]):
                if not lex.joiner.match(prose[s.end : run[0].start]):
                    break
                run.insert(0, s)
        if len(run) != len(parts) or len(run) < 2:
            continue
        scale = 1.0 if all(p <= 1 for p in parts) else 100.0
        for span, part in zip(run, parts, strict=True):
            drafts.append(
                Draft(
                    target,
                    "share",
                    round(part / scale, 6),
                    "exact",
                    m.start(),
                    m.end(),
                    key=span.key,
                )
            )
    return drafts
