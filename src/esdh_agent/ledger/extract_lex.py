"""The extractor's lexicon: the request grammar compiled into patterns, and the spans it finds.

Everything the extractor recognises in prose comes from here: sentences and clauses, category
mentions (states, lines of business, body styles, risk levels and the row features), tolerance
cues and person or vehicle nouns, each as a :class:`Span` with character offsets. Patterns are
compiled once per grammar (``Grammar.memo``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from esdh_agent.ledger.grammar import Grammar, phrase_regex
from esdh_agent.ledger.numbers import Quantity, find_quantities

__all__ = ["Draft", "Lexicon", "Share", "Span", "Text", "lexicon", "shares", "tight"]

T = TypeVar("T")
VAGUE = ("mostly", "some", "few", "all", "none")
NUMERIC = ("approx", "at_least", "at_most", "exact")
_BOUNDARY = re.compile(r"[.!?;]+(?=\s|$)|\n[ \t]*(?=\n|[-*•]\s|\d{1,2}[.)]\s|[A-Z ]{3,}:)|\s[•]\s")
_CLAUSE = re.compile(
    r"(?<!\d),|,(?!\d{3})|[:;()\[\]]|\s(?:and|but|while|whereas)\s|\s[-–—]\s", re.IGNORECASE
)


@dataclass(frozen=True)
class Span:
    """A recognised piece of prose: ``kind`` (a target or a cue class), ``key`` and offsets."""

    kind: str
    key: str
    start: int
    end: int


@dataclass
class Draft:
    """A requirement before ids are given: offsets index the prose."""

    target: str
    op: str
    value: Any
    tolerance: str
    start: int
    end: int
    key: str | None = None
    covers: list[tuple[int, int]] = field(default_factory=list)


class Lexicon:
    """The grammar compiled into patterns (built once per grammar)."""

    def __init__(self, g: Grammar) -> None:
        self.g = g
        flags = re.IGNORECASE

        def rx(phrases: list[str]) -> re.Pattern[str]:
            return re.compile(phrase_regex(phrases), flags)

        self.cue_classes: dict[str, list[str]] = {}
        for tol, phrases in g.tolerance.items():
            for p in phrases:
                self.cue_classes.setdefault(_norm(p), []).append(tol)
        self.cues = rx([p for ps in g.tolerance.values() for p in ps])
        self.suffix_all = rx(g.suffix_all)
        self.suffix_none = rx(g.suffix_none)
        self.remainder = rx(g.remainder_words)
        residents = [n for ns in g.demonyms.values() for n in ns]
        self.person = rx(g.person_nouns + residents)
        self.vehicle = rx(g.vehicle_nouns)
        self.fillers = {_norm(w) for w in g.fillers}
        self.joiner = re.compile(rf"^\s*(?:{phrase_regex(g.list_joiners)}\s*)+$", flags)
        self.connector = re.compile(rf"^\s*{phrase_regex(g.range_connectors)}\s*$", flags)
        self.opener = rx(g.range_openers)
        self.state_names = {
            _norm(n): code
            for table in (g.states, g.demonyms)
            for code, ns in table.items()
            for n in ns
        }
        self.state_name = rx(list(self.state_names))
        codes = "|".join(g.states)
        self.state_code = re.compile(
            rf"(?<![\w'’\-])(?:(?<!\+)|(?<=[A-Z]{{2}}\+))({codes})(?![\w'’\-])"
        )
        self.code_pair = re.compile(rf"(?:{codes})[/+](?:{codes})")
        self.ambiguous = set(g.ambiguous_codes)
        lower = "|".join(c.lower() for c in g.states if c.lower() not in g.lowercase_codes_never)
        self.state_code_lower = re.compile(rf"(?<![\w'’\-.])({lower})(?![\w'’\-]|\.\w)")
        self.hedge = re.compile(rf"{phrase_regex(g.hedges)}\s+", flags)
        self.hedge_blockers = {_norm(w) for w in g.hedge_blockers}
        self.determiners = {_norm(w) for w in g.state_determiners}
        self.state_context = re.compile(rf"{phrase_regex(g.state_context)}\s*$", flags)
        self.lob_strong = _keyed(g.lob.strong)
        self.lob_weak = _keyed(g.lob.weak)
        self.lob_follow = re.compile(rf"[\s\-]*{phrase_regex(g.lob.weak_followers)}", flags)
        self.lob_block = re.compile(rf"[\s\-]*{phrase_regex(g.lob.weak_blockers)}", flags)
        # case-sensitive short forms: "PL insureds", never "pl" or "PL/SQL"
        self.lob_abbrev = [
            (key, re.compile(rf"(?<![\w/'’.\-])(?:{short})(?![\w/'’\-])"))
            for key, ps in g.lob.abbreviations.items()
            if (short := "|".join(map(re.escape, ps)))
        ]
        self.abbrev = re.compile(rf"(?<![\w.]){phrase_regex(g.abbreviations)}$", flags)
        self.body = _keyed(g.body_styles)
        self.risk_levels = _keyed(g.risk.levels)
        self.risk_words = rx(g.risk.words)
        self.features: dict[tuple[str, str], re.Pattern[str]] = {
            ("address_line_2", ""): rx(g.address_line_2.cues),
            ("zip_plus4", ""): rx(g.zip_plus4.cues),
            ("boundary_age", ""): rx(g.boundary_age.cues),
        }
        for name, phrases in g.name_variants.model_dump().items():
            self.features[("name_variant", name)] = rx(phrases)
        self.age_cues = rx(g.age_cues)
        self.tenure = re.compile(rf"{phrase_regex(g.tenure_cues)}\s*$", flags)
        glued = "".join(
            rf"|(?-i:(?<![A-Za-z]){re.escape(p)})(?=(?:19|20)\d\d(?!\d))"
            for p in g.model_year_prefixes
        )  # "MY2019+"
        self.my_cues = re.compile(
            "(?:" + phrase_regex(g.model_year_cues).replace("MY", "(?-i:MY)") + glued + ")", flags
        )
        self.year_noun = re.compile(rf"\s+{phrase_regex(g.model_year_nouns)}", flags)
        self.per_person = rx(g.per_person_cues)
        self.possess = rx(g.possession_verbs)
        self.speaker = re.compile(
            rf"{phrase_regex(g.speaker_subjects)}\s+{self.possess.pattern}\W*$", flags
        )
        self.blockers = {_norm(w) for w in g.count_blockers}
        self.seed = rx(g.seed_cues)
        self.version = rx(g.dataset_version_cues)
        self.as_of = rx(g.as_of_cues)
        self.month = rx(list(g.months))
        self.months = {_norm(k): v for k, v in g.months.items()}
        self.ordinal = rx(list(g.ordinals))
        self.ordinals = {_norm(k): v for k, v in g.ordinals.items()}
        self.directives = {
            kind: [re.compile(p.replace(" ", r"\s+"), flags) for p in pats]
            for kind, pats in g.directives.items()
        }
        self.comparators = {
            name: (
                [(re.compile(rf"{phrase_regex([c.phrase])}\s*$", flags), c) for c in sets.before],
                [(re.compile(rf"\s*{phrase_regex([c.phrase])}", flags), c) for c in sets.after],
            )
            for name, sets in (
                ("count", g.comparators.count),
                ("age", g.comparators.age),
                ("model_year", g.comparators.model_year),
            )
        }

    def classes(self, phrase: str) -> list[str]:
        return self.cue_classes.get(_norm(phrase), [])

    def is_filler(self, gap: str, *, commas: bool = False, limit: int = 6) -> bool:
        """True when ``gap`` is only filler words (and whitespace, and commas if allowed)."""
        if not commas and "," in gap:
            return False
        words = re.findall(r"[^\s,()\[\]:]+", gap)
        if len(words) > limit:
            return False
        for w in words:
            if _norm(w) in self.fillers or self.person.fullmatch(w) or self.vehicle.fullmatch(w):
                continue
            return False
        return True


def _sentences(prose: str, abbrev: re.Pattern[str]) -> list[tuple[int, int]]:
    """Sentence spans (whitespace trimmed): cut at . ! ? ; newlines and bullets, but not at
    the period of an abbreviation ("approx. 20 pct")."""
    out, pos = [], 0
    for m in _BOUNDARY.finditer(prose):
        if m.group() == "." and abbrev.search(prose, max(0, m.start() - 20), m.start()):
            continue
        out.append((pos, m.end()))
        pos = m.end()
    out.append((pos, len(prose)))
    spans = []
    for s, e in out:
        chunk = prose[s:e]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((s + lead, s + len(chunk.rstrip())))
    return spans


def _norm(text: str) -> str:
    return re.sub(r"[\s\-]+", " ", text.strip().lower())


def _keyed(table: Any) -> list[tuple[str, re.Pattern[str]]]:
    return [(key, re.compile(phrase_regex(ps), re.IGNORECASE)) for key, ps in table.items()]


def lexicon(grammar: Grammar) -> Lexicon:
    """The compiled lexicon of ``grammar`` (built once, kept with the grammar)."""
    return grammar.memo("lexicon", lambda: Lexicon(grammar))


class Text:
    """One prose string with everything the lexicon finds in it, in order."""

    def __init__(self, prose: str, lex: Lexicon) -> None:
        self.prose = prose
        self.lex = lex
        self.quantities: list[Quantity] = find_quantities(prose, lex.g)
        self._memo: dict[str, Any] = {}
        self._index: dict[int, tuple[list[Any], list[int]]] = {}
        self.sentences = _sentences(prose, lex.abbrev)
        self._starts = [s for s, _ in self.sentences]
        self.cues = self._cues()

    def sentence_of(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, pos) - 1
        return self.sentences[i] if i >= 0 else (0, len(self.prose))

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per text."""
        if key not in self._memo:
            self._memo[key] = build()
        value: T = self._memo[key]
        return value

    def clauses(self, start: int, end: int) -> list[tuple[int, int]]:
        """The sentence cut at commas, colons, brackets, 'and' and dashes."""
        out, pos = [], start
        for m in _CLAUSE.finditer(self.prose, start, end):
            out.append((pos, m.start()))
            pos = m.end()
        out.append((pos, end))
        return [(s, e) for s, e in out if self.prose[s:e].strip()]

    def in_range(self, items: list[Any], start: int, end: int) -> list[Any]:
        """The items (sorted by start) that lie inside ``[start, end)``."""
        key = id(items)
        if key not in self._index or self._index[key][0] is not items:
            self._index[key] = (items, [x.start for x in items])
        starts = self._index[key][1]
        lo = bisect.bisect_left(starts, start)
        hi = bisect.bisect_left(starts, end)
        return [x for x in items[lo:hi] if x.end <= end]

    def _cues(self) -> list[Span]:
        """Tolerance cues; "some" before a number is "approx", otherwise "some".

        Cues may overlap ("18 and up to three cars": "and up", "up to"); of two overlapping
        cues the later one is kept, as it is the one next to what follows."""
        out: list[Span] = []
        starts = {q.start: q for q in self.quantities}
        for m in _overlapping(self.lex.cues, self.prose):
            classes = self.lex.classes(m.group())
            nxt = re.match(r"\.?\s*", self.prose[m.end() : m.end() + 160])
            numeric = (m.end() + (nxt.end() if nxt else 0)) in starts
            pick = [c for c in classes if (c in NUMERIC) == numeric] or classes
            span = Span(pick[0], m.group(), m.start(), m.end())
            if out and out[-1].end > span.start:
                if span.end <= out[-1].end:
                    continue
                out.pop()
            out.append(span)
        return sorted(out + self._hedges(starts), key=lambda c: c.start)

    def _hedges(self, starts: dict[int, Quantity]) -> list[Span]:
        """ "like 500 peeps": a hedge right before a number, unless "would like 500"."""
        out = []
        for m in self.lex.hedge.finditer(self.prose):
            if m.end() not in starts:
                continue
            before = re.search(r"([\w'’]+)\W*$", self.prose[max(0, m.start() - 30) : m.start()])
            word = _norm(before.group(1)) if before else ""
            if word in self.lex.hedge_blockers or re.search(r"['’]d$", word):
                continue
            out.append(
                Span("approx", m.group().strip(), m.start(), m.start() + len(m.group().strip()))
            )
        return out

    def find(self, pattern: re.Pattern[str], start: int, end: int) -> list[re.Match[str]]:
        return list(pattern.finditer(self.prose, start, end))


def _overlapping(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """Every leftmost-longest match of ``pattern`` at each start, overlaps included."""
    out: list[re.Match[str]] = []
    pos = 0
    while (m := pattern.search(text, pos)) is not None:
        if m.end() > m.start():
            out.append(m)
        pos = m.start() + 1
    return out


def tight(gap: str) -> bool:
    """Nothing but whitespace (or an abbreviation's period) between a cue and a number."""
    return bool(re.fullmatch(r"\.?\s*", gap))


@dataclass
class Share:
    """A percentage or fraction, widened over the tolerance cue before it ("about 40%")."""

    start: int
    end: int
    value: float
    tol: str


def shares(t: Text, start: int, end: int) -> list[Share]:
    """Percentages and fractions of a sentence, widened over a tolerance cue before them."""
    out = []
    for q in t.in_range(t.quantities, start, end):
        if q.kind == "number":
            continue
        s, tol = q.start, "exact"
        for c in t.in_range(t.cues, max(0, q.start - 40), q.start):
            if (
                c.end <= q.start
                and tight(t.prose[c.end : q.start])
                and c.kind in ("approx", "at_least", "at_most", "exact")
            ):
                s, tol = c.start, c.kind
        out.append(Share(s, q.end, q.value, tol))
    return out
