"""Numbers in slice prose: digits and words, percentages and fractions, each with its span.

"twenty-five", "2,000,000", "120k", "1.5 million", "a hundred", "a dozen", "a single" (not
after a negation) and "MY2019" (a year tight against a model-year prefix) are numbers; "60%",
"60 percent", "sixty per cent" are percentages; "half", "a quarter", "two thirds", "one in
ten", "3 out of 4" are fractions. Percentages and fractions are returned as shares (0..1,
fractions rounded to 4 places). Every word table comes from the request grammar, so the
vocabulary is governed data; only the shape of a number lives here.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from typing import Literal

from esdh_agent.ledger.grammar import Grammar, phrase_regex

__all__ = ["Quantity", "find_quantities", "parse_number"]

Kind = Literal["number", "percent", "fraction"]
_WORD = re.compile(r"[A-Za-z]+")
_GAP = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class Quantity:
    """One number, percentage or fraction in the text: ``text[start:end]`` and its value."""

    start: int
    end: int
    value: float
    kind: Kind
    digits: bool
    """Written with digits ("2015"), not words ("two")."""
    text: str
    year: bool = False
    """A calendar year said in words ("twenty eighteen")."""
    single: bool = False
    """One said as "a single" (a count of things, never of persons asked for)."""

    @property
    def integral(self) -> bool:
        return self.kind == "number" and float(self.value).is_integer()

    @property
    def as_int(self) -> int:
        return round(self.value)

    def is_year(self) -> bool:
        """A four-digit calendar year as written ("2015"), not "2,015" or "two thousand"."""
        return self.year or (
            self.kind == "number" and self.digits and bool(re.fullmatch(r"(19|20)\d\d", self.text))
        )


def _patterns(grammar: Grammar) -> dict[str, re.Pattern[str]]:
    def build() -> dict[str, re.Pattern[str]]:
        nw = grammar.numbers
        scales = phrase_regex(list(nw.scales))
        suffixes = "|".join(re.escape(s) for s in sorted(nw.suffixes, key=len, reverse=True))
        # "MY2019": a year written tight against a model-year prefix (case-sensitive)
        glued = "".join(
            rf"|(?<=(?<![A-Za-z]){re.escape(p)})(?=(?:19|20)\d\d(?!\d))"
            for p in grammar.model_year_prefixes
        )
        sep = "|".join(re.escape(s) for s in nw.group_separators) or ","
        digit = (
            rf"(?:(?<![\w.+]){glued})(?<![A-Za-z]-)"
            rf"(?P<num>\d{{1,3}}(?:(?:{sep})\d{{3}})+(?!\d)|\d+)(?:\.(?P<dec>\d+))?"
            rf"(?:(?P<suf>{suffixes})(?![\w])|\s+(?P<scale>{scales}))?(?![\w.]\d)"
        )
        pct = phrase_regex(grammar.percent_words)
        denoms = phrase_regex(list(grammar.fractions.denominators))
        alone = phrase_regex(list(grammar.fractions.alone))
        return {
            "digit": re.compile(digit),
            "pct": re.compile(rf"\s*{pct}", re.IGNORECASE),
            "denom": re.compile(denoms, re.IGNORECASE),
            "alone": re.compile(alone, re.IGNORECASE),
            "ratio": re.compile(
                rf"\s+{phrase_regex(grammar.fractions.ratio_connectors)}\s+", re.IGNORECASE
            ),
            "numerator_gap": re.compile(r"[\s\-]+"),
            "single": re.compile(phrase_regex(nw.singles), re.IGNORECASE),
            "negated": re.compile(
                rf"(?:{phrase_regex(nw.negators)}|\w+n[’']t)(?:\s+[A-Za-z]+){{0,2}}\s+$",
                re.IGNORECASE,
            ),
        }

    return grammar.memo("numbers", build)


def _digit_numbers(text: str, grammar: Grammar) -> list[Quantity]:
    found = []
    for m in _patterns(grammar)["digit"].finditer(text):
        num = re.sub(r"\D", "", m.group("num"))
        value = float(num + ("." + m.group("dec") if m.group("dec") else ""))
        if m.group("suf"):
            value *= grammar.numbers.suffixes[m.group("suf")]
        elif m.group("scale"):
            word = _GAP.sub(" ", m.group("scale").lower())
            value *= {k.lower(): v for k, v in grammar.numbers.scales.items()}[word]
        found.append(Quantity(m.start(), m.end(), value, "number", True, m.group()))
    return found


def _word_numbers(text: str, grammar: Grammar) -> list[Quantity]:
    """Runs of number words: "two hundred and fifty", "twenty-five", "a dozen"."""
    nw = grammar.numbers
    kinds: dict[str, tuple[str, int]] = {}
    kinds.update({w.lower(): ("u", v) for w, v in nw.units.items()})
    kinds.update({w.lower(): ("t", v) for w, v in nw.tens.items()})
    kinds.update({w.lower(): ("s", v) for w, v in nw.scales.items()})
    articles = {a.lower() for a in nw.articles}
    joiners = {j.lower() for j in nw.joiners}
    toks = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]

    def joined(a: int, b: int) -> bool:
        return bool(_GAP.fullmatch(text[toks[a][1] : toks[b][0]]))

    found: list[Quantity] = []
    i, n = 0, len(toks)
    while i < n:
        start_i, article = i, False
        scale_next = i + 1 < n and kinds.get(toks[i + 1][2], ("", 0))[0] == "s"
        if toks[i][2] in articles and scale_next and joined(i, i + 1):
            article, i = True, i + 1
        if toks[i][2] not in kinds:
            i += 1
            continue
        total = current = 0
        last = ""
        j, end_j = i, -1
        while j < n:
            word = toks[j][2]
            if j > i and not joined(j - 1, j):
                break
            if (
                word in joiners
                and last == "s"
                and j + 1 < n
                and joined(j, j + 1)
                and kinds.get(toks[j + 1][2], ("", 0))[0] in ("u", "t")
            ):
                j += 1
                continue
            if word not in kinds:
                break
            kind, value = kinds[word]
            if kind == "u" and (last == "u" or (last == "t" and value >= 10)):
                break
            if kind == "t" and last in ("u", "t"):
                break
            if kind == "s":
                if last == "" and not article:
                    break
                if value < 1000:
                    current = max(current, 1) * value
                else:
                    total += max(current, 1) * value
                    current = 0
            else:
                current += value
            last, end_j = kind, j
            j += 1
        if end_j < 0:
            i = start_i + 1
            continue
        s, e = toks[start_i][0], toks[end_j][1]
        found.append(Quantity(s, e, float(total + current), "number", False, text[s:e]))
        i = end_j + 1
    return _word_years(text, grammar, found)


def _singles(text: str, grammar: Grammar) -> list[Quantity]:
    """ "a single car each": a phrase meaning one, unless negated ("not a single truck")."""
    pats = _patterns(grammar)
    found = []
    for m in pats["single"].finditer(text):
        if pats["negated"].search(text[max(0, m.start() - 40) : m.start()]):
            continue
        found.append(Quantity(m.start(), m.end(), 1.0, "number", False, m.group(), single=True))
    return found


def _word_years(text: str, grammar: Grammar, found: list[Quantity]) -> list[Quantity]:
    """ "twenty eighteen", "twenty twenty-four", "nineteen ninety-nine": a century word and a
    two-digit number right after it are one year."""
    centuries = {k.lower(): v for k, v in grammar.year_centuries.items()}
    out: list[Quantity] = []
    i = 0
    while i < len(found):
        q = found[i]
        nxt = found[i + 1] if i + 1 < len(found) else None
        century = centuries.get(q.text.lower())
        if (
            century is not None
            and nxt is not None
            and 10 <= nxt.value <= 99
            and nxt.value.is_integer()
            and _GAP.fullmatch(text[q.end : nxt.start])
        ):
            value = float(century + nxt.value)
            out.append(
                Quantity(q.start, nxt.end, value, "number", False, text[q.start : nxt.end], True)
            )
            i += 2
            continue
        out.append(q)
        i += 1
    return out


def _fractions(text: str, grammar: Grammar, numbers: list[Quantity]) -> list[Quantity]:
    pats = _patterns(grammar)
    found: list[Quantity] = []
    ends = {q.end: q for q in numbers if q.integral}
    articles = {a.lower() for a in grammar.numbers.articles}
    denominators = {k.lower(): v for k, v in grammar.fractions.denominators.items()}
    alone = {k.lower(): v for k, v in grammar.fractions.alone.items()}
    for m in pats["denom"].finditer(text):
        word = m.group().lower()
        before = text[max(0, m.start() - 40) : m.start()]
        numerator: float | None = None
        start = m.start()
        gap = re.search(r"(\S+)[\s\-]+$", before)
        if gap:
            prev_start = m.start() - len(gap.group())
            lead = gap.group(1).lower()
            number = ends.get(prev_start + len(gap.group(1)))
            if lead in articles:
                numerator, start = 1.0, prev_start
            elif number is not None and number.start >= prev_start - 40:
                numerator, start = number.value, number.start
        if numerator is None:
            if word not in alone:
                continue
            found.append(Quantity(m.start(), m.end(), alone[word], "fraction", False, m.group()))
            continue
        value = round(numerator / denominators[word], 4)
        if 0 < value <= 1:
            found.append(Quantity(start, m.end(), value, "fraction", False, text[start : m.end()]))
    ordered = sorted(numbers, key=lambda q: q.start)
    most = grammar.fractions.slash_max_denominator
    for a, b in itertools.pairwise(ordered):
        # "2/3", "1/4": a fraction; "60/40" is a split, "1/3/2025" a date
        if (
            a.digits
            and b.digits
            and a.integral
            and b.integral
            and text[a.end : b.start] == "/"
            and 0 < a.value < b.value <= most
            and not re.match(r"/\d", text[b.end : b.end + 2])
            and not re.search(r"\d/$", text[max(0, a.start - 2) : a.start])
        ):
            found.append(
                Quantity(
                    a.start,
                    b.end,
                    round(a.value / b.value, 4),
                    "fraction",
                    True,
                    text[a.start : b.end],
                )
            )
            continue
        if not (a.integral and b.integral) or b.is_year() or a.is_year():
            continue
        if pats["ratio"].fullmatch(text[a.end : b.start]) and 0 < a.value <= b.value:
            value = round(a.value / b.value, 4)
            found.append(
                Quantity(a.start, b.end, value, "fraction", a.digits, text[a.start : b.end])
            )
    return found


def find_quantities(text: str, grammar: Grammar) -> list[Quantity]:
    """Every number, percentage and fraction in ``text``, in order, without overlaps."""
    numbers = _digit_numbers(text, grammar) + _word_numbers(text, grammar)
    numbers += _singles(text, grammar)
    numbers = _without_overlaps(numbers)
    percents = []
    pct = _patterns(grammar)["pct"]
    for q in numbers:
        m = pct.match(text, q.end)
        if m:
            value = round(q.value / 100, 6)
            percents.append(
                Quantity(q.start, m.end(), value, "percent", q.digits, text[q.start : m.end()])
            )
    fractions = _fractions(text, grammar, numbers)
    ranked = fractions + percents + numbers
    return sorted(_without_overlaps(ranked), key=lambda q: q.start)


def _without_overlaps(ranked: list[Quantity]) -> list[Quantity]:
    """Keep quantities in rank order, dropping any that overlaps one already kept."""
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Quantity] = []
    for q in ranked:
        i = bisect.bisect_left(starts, q.start)
        if i > 0 and ends[i - 1] > q.start:
            continue
        if i < len(starts) and starts[i] < q.end:
            continue
        starts.insert(i, q.start)
        ends.insert(i, q.end)
        kept.append(q)
    return kept


def parse_number(text: str, grammar: Grammar) -> float | None:
    """The value of ``text`` when it is exactly one number ("twenty-five", "120k")."""
    found = find_quantities(text.strip(), grammar)
    if len(found) == 1 and found[0].kind == "number" and found[0].text == text.strip():
        return found[0].value
    return None
