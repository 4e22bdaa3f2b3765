"""Tolerant reading of misspelt vocabulary: "persns", "califronia", "mostley", "hgih".

People type fast. A word the grammar does not know is read as the vocabulary word it is one
edit away from (a letter added, dropped, changed, or two neighbours swapped), two edits for
long words, and only a swapped or doubled letter for four-letter words; shorter words and
state codes are never changed. When two vocabulary words are equally near, nothing is
changed. Real English words next to the vocabulary ("rivers", "costly") are listed in the
grammar's ``spelling.exempt`` and stay what they are. The thresholds, the sections whose
words count as vocabulary and the exempt words are all governed data (``spelling``).

The correction does not widen what counts as evidence: the respelt text goes through the
same patterns, so "persns" needs a number before it just as "persons" does. Offsets of the
respelt text map back to the prose (:meth:`Respelt.span`), so every quote stays the user's
exact words.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from esdh_agent.ledger.grammar import Grammar

__all__ = ["Respelt", "Speller", "respell", "speller"]

_WORD = re.compile(r"(?<![\w'’.\-/])[A-Za-z]+(?![\w'’]|[.\-/]\w)")
_LETTERS = re.compile(r"[A-Za-z]+")


def _words(data: Any) -> set[str]:
    """Every alphabetic word in a piece of grammar data (lists, dicts, nested models)."""
    out: set[str] = set()
    if isinstance(data, str):
        out.update(w.lower() for w in _LETTERS.findall(data))
    elif isinstance(data, dict):
        for k, v in data.items():
            # number tables are keyed by their words; other keys are field names or codes
            out |= _words(v) | (_words(k) if isinstance(v, int | float) else set())
    elif isinstance(data, list | tuple):
        for v in data:
            out |= _words(v)
    return out


def _deletes(word: str, depth: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def distance(a: str, b: str) -> int:
    """Edit distance with adjacent swaps (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _short_slips(typed: str) -> set[str]:
    """What ``typed`` was before two neighbouring letters swapped ("hgih") or one letter
    doubled ("seeed")."""
    out = {typed[:i] + typed[i + 1] + typed[i] + typed[i + 2 :] for i in range(len(typed) - 1)}
    out |= {typed[:i] + typed[i + 1 :] for i in range(1, len(typed)) if typed[i] == typed[i - 1]}
    out.discard(typed)
    return out


class Speller:
    """The vocabulary of a grammar indexed for near matches (built once per grammar)."""

    def __init__(self, grammar: Grammar) -> None:
        rules = grammar.spelling
        self.one = rules.one_edit_from
        self.two = rules.two_edits_from
        dump = grammar.model_dump()
        self.known = _words(dump) | {w.lower() for w in rules.exempt}
        vocab = set().union(*(_words(dump[name]) for name in rules.sources))
        self.short = {w for w in vocab if len(w) == 4}
        self.index: dict[str, set[str]] = {}
        for word in vocab:
            for d in _deletes(word, self._allowed(word)):
                self.index.setdefault(d, set()).add(word)
        self._seen: dict[str, str | None] = {}

    def _allowed(self, word: str) -> int:
        return 2 if len(word) >= self.two else 1 if len(word) >= self.one else 0

    def correct(self, typed: str) -> str | None:
        """The vocabulary word ``typed`` is a slip of, or None (unknown, ambiguous, known)."""
        low = typed.lower()
        if len(low) < 4 or low in self.known:
            return None
        if low in self._seen:
            return self._seen[low]
        found: dict[str, int] = {}
        for d in _deletes(low, 2 if len(low) >= self.two - 2 else 1):
            for word in self.index.get(d, ()):
                if word not in found and abs(len(word) - len(low)) <= self._allowed(word):
                    dist = distance(low, word)
                    if 0 < dist <= self._allowed(word):
                        found[word] = dist
        slips = _short_slips(low)
        if len(low) <= 5:
            found.update((w, 1) for w in slips & self.short)
        best: str | None = None
        if len(found) > 1 and len(slips & set(found)) == 1:
            # a swapped or doubled letter is the likelier slip ("seeed" is "seed", not "seeded")
            found = {w: d for w, d in found.items() if w in slips}
        if found:
            least = min(found.values())
            nearest = [w for w, d in found.items() if d == least]
            same = [w for w in nearest if len(w) == len(low)]
            pick = nearest if len(nearest) == 1 else same
            best = pick[0] if len(pick) == 1 else None
        if len(self._seen) > 100_000:
            self._seen.clear()
        self._seen[low] = best
        return best


def speller(grammar: Grammar) -> Speller:
    """The speller of ``grammar`` (built once, kept with the grammar)."""
    return grammar.memo("speller", lambda: Speller(grammar))


@dataclass
class Respelt:
    """The prose with slips corrected, and the way back to the prose's offsets."""

    prose: str
    text: str
    edits: list[tuple[int, int, int, int]] = field(default_factory=list)
    """(start, end) in ``text`` and (start, end) in ``prose`` of each corrected word."""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The prose offsets of ``text[start:end]`` (a corrected word maps whole)."""
        if not self.edits:
            return start, end
        return self._at(start, is_end=False), self._at(end, is_end=True)

    def _at(self, pos: int, *, is_end: bool) -> int:
        starts = [e[0] for e in self.edits]
        i = (bisect.bisect_left if is_end else bisect.bisect_right)(starts, pos) - 1
        if i < 0:
            return pos
        ts, te, ps, pe = self.edits[i]
        if ts <= pos < te or (is_end and ts < pos <= te):
            return pe if is_end else ps
        return pos + (pe - te)


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def respell(prose: str, grammar: Grammar) -> Respelt:
    """``prose`` with each misspelt vocabulary word replaced by the word it means."""
    sp = speller(grammar)
    parts: list[str] = []
    edits: list[tuple[int, int, int, int]] = []
    pos = shift = 0
    for m in _WORD.finditer(prose):
        if len(m.group()) < 4:
            continue
        word = sp.correct(m.group())
        if word is None:
            continue
        fixed = _cased(word, m.group())
        parts.append(prose[pos : m.start()])
        ts = m.start() + shift
        edits.append((ts, ts + len(fixed), m.start(), m.end()))
        parts.append(fixed)
        shift += len(fixed) - (m.end() - m.start())
        pos = m.end()
    if not edits:
        return Respelt(prose, prose)
    parts.append(prose[pos:])
    return Respelt(prose, "".join(parts), edits)
