"""The request grammar: the governed vocabulary the deterministic extractor reads prose with.

``governance/request_grammar.yaml`` holds every word the extractor knows (number words,
tolerance cues, states, lines of business, body styles, directive phrases ...), so a change of
how requests are read is a reviewed change of governed data, hashed into every ledger. This
module validates that file (unknown fields are rejected, errors name the file and line),
caches it by modification time and size, and turns phrase lists into regular expressions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from esdh_agent.core.yamlio import load_yaml, parse_model
from esdh_agent.errors import WorkspaceError
from esdh_agent.ledger.model import DIRECTIVES

__all__ = [
    "GRAMMAR_FILE",
    "Comparator",
    "Grammar",
    "grammar_path",
    "load_grammar",
    "phrase_regex",
]

GRAMMAR_FILE = "request_grammar.yaml"
T = TypeVar("T")
TOLERANCES = ("exact", "approx", "mostly", "some", "few", "at_least", "at_most", "all", "none")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumberWords(_Model):
    """Number words: units and tens add, scales multiply, suffixes scale digits ("120k")."""

    units: dict[str, int]
    tens: dict[str, int]
    scales: dict[str, int]
    suffixes: dict[str, int]
    articles: list[str]
    joiners: list[str]
    singles: list[str] = Field(default_factory=list)
    """Phrases that mean one before a noun ("a single car each")."""
    negators: list[str] = Field(default_factory=list)
    """Words after which a ``singles`` phrase is a negation, not one ("not a single")."""
    group_separators: list[str] = Field(default_factory=lambda: [","])
    """What may stand between groups of three digits ("2,000", "1 000")."""


class FractionWords(_Model):
    """Fraction words: "half" alone, "two thirds", "one in ten", "3 out of 4"."""

    alone: dict[str, float]
    denominators: dict[str, int]
    ratio_connectors: list[str]
    slash_max_denominator: int = 12


class Comparator(_Model):
    """A phrase that bounds a number: "over 90" is min 91 (offset +1)."""

    phrase: str
    op: Literal["min", "max"]
    offset: int = 0


class Comparators(_Model):
    before: list[Comparator]
    after: list[Comparator]


class ComparatorSets(_Model):
    count: Comparators
    age: Comparators
    model_year: Comparators


class LobWords(_Model):
    strong: dict[Literal["Personal", "Commercial"], list[str]]
    weak: dict[Literal["Personal", "Commercial"], list[str]]
    weak_followers: list[str]
    weak_blockers: list[str]
    abbreviations: dict[Literal["Personal", "Commercial"], list[str]] = Field(default_factory=dict)
    """Capitalised short forms ("PL", "CL"): a line of business only before a weak follower
    ("PL insureds", "CL accounts"); matched case-sensitively."""


class RiskWords(_Model):
    levels: dict[Literal["Low", "Medium", "High"], list[str]]
    words: list[str]
    order: list[Literal["Low", "Medium", "High"]]


class Cues(_Model):
    cues: list[str]


class NameVariants(_Model):
    hyphenated: list[str]
    apostrophe: list[str]
    non_ascii: list[str]
    long: list[str]
    max_length: list[str]


class Spelling(_Model):
    """Tolerant matching of misspelt vocabulary words ("persns", "califronia", "hgih").

    A word the grammar does not know is read as the vocabulary word it is one edit away from
    (two for long words; for four-letter words only a swapped or doubled letter), when that
    vocabulary word is unique; ``exempt`` lists real English words that must never be read
    as a neighbouring vocabulary word ("rivers" is not "drivers").
    """

    one_edit_from: int = Field(ge=4)
    two_edits_from: int = Field(ge=5)
    sources: list[str]
    exempt: list[str]


class Grammar(_Model):
    """The validated request grammar; ``sha256`` is the hash of the file's bytes."""

    version: str
    numbers: NumberWords
    percent_words: list[str]
    fractions: FractionWords
    year_centuries: dict[str, int]
    ordinals: dict[str, int]
    spelling: Spelling
    suffix_none: list[str]
    state_determiners: list[str]
    tolerance: dict[str, list[str]]
    comparators: ComparatorSets
    range_connectors: list[str]
    range_openers: list[str]
    person_nouns: list[str]
    vehicle_nouns: list[str]
    count_blockers: list[str]
    fillers: list[str]
    suffix_all: list[str]
    remainder_words: list[str]
    list_joiners: list[str]
    states: dict[str, list[str]]
    demonyms: dict[str, list[str]] = Field(default_factory=dict)
    """Names of a state's residents ("Nevadans"): a state and a person noun at once."""
    ambiguous_codes: list[str]
    lowercase_codes_never: list[str] = Field(default_factory=list)
    """Lower-case codes never read as states ("or", "in", "me"); other lower-case codes are
    states only next to a percentage beside another state, or after a state context."""
    hedges: list[str] = Field(default_factory=list)
    """Words that make the number right after them approximate ("like 500 peeps") ..."""
    hedge_blockers: list[str] = Field(default_factory=list)
    """... unless one of these comes right before them ("I would like 500 drivers")."""
    state_context: list[str]
    lob: LobWords
    body_styles: dict[Literal["Sedan", "SUV", "Truck"], list[str]]
    risk: RiskWords
    age_cues: list[str]
    model_year_cues: list[str]
    tenure_cues: list[str] = Field(default_factory=list)
    """Cues after which a number counts years of something else ("licensed 2-5 yrs")."""
    model_year_nouns: list[str] = Field(default_factory=list)
    """Nouns right after a year that make it a model year ("2018 models or newer")."""
    model_year_prefixes: list[str] = Field(default_factory=list)
    """Case-sensitive prefixes written tight against a year ("MY2019+", "MY2015-2020")."""
    abbreviations: list[str] = Field(default_factory=list)
    """Words whose trailing period does not end a sentence ("approx. 20 pct")."""
    address_line_2: Cues
    zip_plus4: Cues
    name_variants: NameVariants
    boundary_age: Cues
    seed_cues: list[str]
    dataset_version_cues: list[str]
    as_of_cues: list[str]
    months: dict[str, int]
    per_person_cues: list[str]
    possession_verbs: list[str]
    speaker_subjects: list[str] = Field(default_factory=list)
    """The writer as subject ("we have 12 vehicles in the lot"): a possession verb right
    after one of these ties a vehicle count to the writer, not to the persons asked for."""
    directives: dict[str, list[str]]

    _sha256: str = PrivateAttr(default="")
    _memo: dict[str, Any] = PrivateAttr(default_factory=dict)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """``build()`` once per grammar (compiled patterns are kept with the grammar)."""
        if key not in self._memo:
            self._memo[key] = build()
        value: T = self._memo[key]
        return value

    @property
    def sha256(self) -> str:
        """SHA-256 of the grammar file's bytes (what ledgers and manifests record)."""
        return self._sha256

    @field_validator("tolerance")
    @classmethod
    def _known_tolerances(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(value) - set(TOLERANCES))
        if unknown:
            raise ValueError(f"unknown tolerance class {unknown[0]!r}; use one of {TOLERANCES}")
        return value

    @field_validator("states")
    @classmethod
    def _state_codes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for code in value:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"state code {code!r} must be two capital letters")
        return value

    @field_validator("directives")
    @classmethod
    def _directive_patterns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for kind, patterns in value.items():
            if kind not in DIRECTIVES:
                raise ValueError(f"unknown directive {kind!r}; use one of {DIRECTIVES}")
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{kind}: bad pattern {pattern!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _codes_are_states(self) -> Grammar:
        stray = sorted(set(self.ambiguous_codes) - set(self.states))
        if stray:
            raise ValueError(f"ambiguous_codes: {stray[0]!r} is not a state code")
        stray = sorted(set(self.demonyms) - set(self.states))
        if stray:
            raise ValueError(f"demonyms: {stray[0]!r} is not a state code")
        unknown = sorted(set(self.spelling.sources) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"spelling.sources: {unknown[0]!r} is not a grammar section")
        return self


def grammar_path(governance_dir: Path) -> Path:
    """Where the request grammar lives in a governance folder."""
    return governance_dir / GRAMMAR_FILE


def load_grammar(path: Path) -> Grammar:
    """Load and validate the grammar file (cached until its mtime or size changes).

    A malformed file raises :class:`WorkspaceError` naming the file and the line.
    """
    try:
        stat = path.stat()
    except OSError:
        raise WorkspaceError(f"file not found: {path}") from None
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> Grammar:
    file = Path(path)
    data, node = load_yaml(file)
    grammar = parse_model(Grammar, data, source=path, node=node)
    grammar._sha256 = hashlib.sha256(file.read_bytes()).hexdigest()
    return grammar


def phrase_regex(phrases: list[str] | tuple[str, ...]) -> str:
    """One alternation matching any phrase, longest first, at word boundaries.

    A space inside a phrase also matches a hyphen or several spaces ("personal lines" matches
    "personal-lines"); a hyphen also matches a space.
    """
    inner, outer = [], []
    for phrase in sorted({p for p in phrases if p}, key=lambda p: (-len(p), p)):
        words = re.split(r"[\s\-]+", phrase.strip())
        body = r"[\s\-]+".join(re.escape(w) for w in words if w) or re.escape(phrase.strip())
        left = bool(re.match(r"\w", phrase))
        right = bool(re.search(r"\w$", phrase))
        if left and right:
            inner.append(body)
        else:
            edge_l = r"(?<![\w'’])" if left else ""
            edge_r = r"(?![\w'’])" if right else ""
            outer.append(f"{edge_l}{body}{edge_r}")
    parts = outer
    if inner:
        parts = [r"(?<![\w'’])(?:" + "|".join(inner) + r")(?![\w'’])", *outer]
    return "(?:" + "|".join(parts) + ")" if parts else r"(?!x)x"
