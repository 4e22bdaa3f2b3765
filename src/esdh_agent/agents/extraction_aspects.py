"""The questions model extraction asks: one aspect of a request per call, each tiny.

The reference model is very small, so every question is narrow (one kind of fact), its
prompt short and concrete with one example, and its answer a short list of ``{quote,
value}`` items. The answer's JSON Schema is built per request so a server that turns schemas
into grammars (llama.cpp) can only write a quote that is one of the request's clauses and a
number that occurs in it; the validation in :mod:`.extraction` never relies on that, since
other servers (and scripted fakes) answer without it.

Each aspect also says how a model's value *agrees* with a grammar reading of its quote
(:func:`agrees`): the model names one thing (a number, a state, a kind of edge case) and the
reading it agrees with is the one that says the same thing of the same target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from esdh_agent.ledger.model import Requirement

__all__ = ["ASPECTS", "Aspect", "agrees", "answer_schema", "clauses", "item_targets", "numbers"]

_CLAUSE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\n+|,\s+|\s+-\s+")
_TRIM = " \t-*•>.;:!?"
_NUMBER = re.compile(r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d{1,9})(?![\d])")


@dataclass(frozen=True)
class Aspect:
    """One question: which targets it reads, the item's value field, and its prompt."""

    name: str
    targets: tuple[str, ...]
    field: str
    kind: Literal["number", "text", "choice"]
    ask: str
    example: str
    choices: tuple[str, ...] = ()
    kinds: tuple[tuple[str, str, str | None], ...] = ()
    """For ``choice`` aspects whose choice names a target: (choice, target, key)."""
    cues: tuple[str, ...] = ()
    """Per choice, a word its quote likely holds: only clauses holding it are offered for
    that choice (all clauses when none does, so synonyms stay possible)."""

    def system(self) -> str:
        """The system prompt: the question, the empty answer, one example."""
        return (
            f"{self.ask} Copy the words of the request that say it as quote. If the request "
            'does not say it, answer {"items": []}.\n'
            f"Example: {_value_first(self.example, self.field)}"
        )


def _value_first(example: str, name: str) -> str:
    """The example with each item's value written before its quote (as the schema orders
    them)."""
    item = re.compile(r'\{"quote": ("[^"]*"), "' + re.escape(name) + r'": ("[^"]*"|\d+)\}')
    return item.sub(lambda m: f'{{"{name}": {m.group(2)}, "quote": {m.group(1)}}}', example)


_EDGE_KINDS = (
    ("apartment line", "address_line_2", None),
    ("ZIP+4", "zip_plus4", None),
    ("hyphenated names", "name_variant", "hyphenated"),
    ("apostrophe names", "name_variant", "apostrophe"),
    ("long names", "name_variant", "long"),
    ("non-ASCII names", "name_variant", "non_ascii"),
    ("maximum-length names", "name_variant", "max_length"),
    ("boundary ages", "boundary_age", None),
)
_RUN_KINDS = (
    ("seed", "seed", None),
    ("dataset version", "dataset_version", None),
    ("as-of date", "as_of_date", None),
)

ASPECTS: tuple[Aspect, ...] = (
    Aspect(
        "persons",
        ("person_count",),
        "count",
        "number",
        "How many persons (people, drivers, customers, records) does the request ask for?",
        'for "Make 250 drivers in Ohio, seed 9" answer '
        '{"items": [{"quote": "Make 250 drivers in Ohio", "count": 250}]}',
    ),
    Aspect(
        "states",
        ("state",),
        "state",
        "text",
        "Which US states does the request name? Give each state as its two-letter code.",
        'for "Half in Ohio and half in Utah" answer {"items": [{"quote": "Half in Ohio and '
        'half in Utah", "state": "OH"}, {"quote": "Half in Ohio and half in Utah", '
        '"state": "UT"}]}',
    ),
    Aspect(
        "lines",
        ("lob",),
        "line",
        "choice",
        "Which line of business does the request ask for: Personal or Commercial?",
        'for "all of them commercial accounts" answer {"items": [{"quote": "all of them '
        'commercial accounts", "line": "Commercial"}]}',
        choices=("Personal", "Commercial"),
        cues=("personal", "commercial"),
    ),
    Aspect(
        "ages",
        ("age",),
        "age",
        "number",
        "Which driver ages does the request ask for?",
        'for "drivers aged 30 to 45" answer {"items": [{"quote": "drivers aged 30 to 45", '
        '"age": 30}, {"quote": "drivers aged 30 to 45", "age": 45}]}',
    ),
    Aspect(
        "vehicles",
        ("vehicles_per_person",),
        "vehicles",
        "number",
        "How many vehicles does each person have?",
        'for "each person owns four cars" answer {"items": [{"quote": "each person owns '
        'four cars", "vehicles": 4}]}',
    ),
    Aspect(
        "body-styles",
        ("body_style",),
        "style",
        "choice",
        "Which vehicle body styles does the request ask for: Sedan, SUV or Truck?",
        'for "only pickups" answer {"items": [{"quote": "only pickups", "style": "Truck"}]}',
        choices=("Sedan", "SUV", "Truck"),
        cues=("sedan", "suv", "truck"),
    ),
    Aspect(
        "model-years",
        ("model_year",),
        "year",
        "number",
        "Which vehicle model years does the request ask for?",
        'for "cars built 2011 or later" answer {"items": [{"quote": "cars built 2011 or '
        'later", "year": 2011}]}',
    ),
    Aspect(
        "risk",
        ("risk",),
        "risk",
        "choice",
        "Which risk ratings does the request ask for: Low, Medium or High?",
        'for "only low-risk vehicles" answer {"items": [{"quote": "only low-risk vehicles", '
        '"risk": "Low"}]}',
        choices=("Low", "Medium", "High"),
        cues=("low", "medium", "high"),
    ),
    Aspect(
        "edge-cases",
        ("address_line_2", "zip_plus4", "name_variant", "boundary_age"),
        "kind",
        "choice",
        "Which address or name edge cases does the request ask for?",
        'for "a third with apostrophe names" answer {"items": [{"quote": "a third with '
        'apostrophe names", "kind": "apostrophe names"}]}',
        choices=tuple(k[0] for k in _EDGE_KINDS),
        kinds=_EDGE_KINDS,
        cues=("apartment", "zip", "hyphen", "apostroph", "long", "ascii", "length", "boundar"),
    ),
    Aspect(
        "run-facts",
        ("seed", "dataset_version", "as_of_date"),
        "kind",
        "choice",
        "Does the request give a seed, a dataset version or an as-of date?",
        'for "use seed 42" answer {"items": [{"quote": "use seed 42", "kind": "seed"}]}',
        choices=tuple(k[0] for k in _RUN_KINDS),
        kinds=_RUN_KINDS,
        cues=("seed", "version", "as of"),
    ),
)
"""Every question, in the order they are asked."""


_UNQUOTABLE = re.compile(r'["\\]')


def clauses(prose: str) -> list[str]:
    """The request cut at sentence ends, line breaks and commas, each piece trimmed: the
    quotes a grammar-constrained answer may choose from (in prose order, no repeats).

    A piece holding a double quote or a backslash is left out: llama.cpp's grammar parser
    fails on such enum values and takes the server down with it (the grammar still reads
    those words; only the model is not asked to quote them)."""
    out: list[str] = []
    for piece in _CLAUSE_BREAK.split(prose):
        text = piece.strip(_TRIM)
        if text and text not in out and not _UNQUOTABLE.search(text):
            out.append(text)
    return out


def numbers(prose: str) -> list[int]:
    """The whole numbers written in digits in the request, in order, no repeats."""
    out: list[int] = []
    for match in _NUMBER.finditer(prose):
        value = int(match.group().replace(",", ""))
        if value not in out:
            out.append(value)
    return out


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _item(aspect: Aspect, value: Any, quotes: list[str], name: str) -> type[BaseModel]:
    # The value comes first: a small model that has named the value then finds its words.
    fields: dict[str, Any] = {aspect.field: (value, ...), "quote": (Literal[tuple(quotes)], ...)}
    return create_model(name, __base__=_Closed, **fields)


def answer_schema(aspect: Aspect, prose: str) -> type[BaseModel] | None:
    """The pydantic model of one aspect's answer for this request (None: nothing to ask,
    e.g. a number question about a request without numbers).

    For a number question each number the request writes is its own kind of item, whose
    quote can only be a clause that writes that number: a grammar-constrained answer that
    names a number then quotes its words, not the request's first clause.
    """
    quotes = clauses(prose)
    if not quotes:
        return None
    item: Any
    if aspect.kind == "number":
        found = numbers(prose)
        extra = [n for n in range(1, 11) if n not in found] if aspect.name == "vehicles" else []
        if not found and not extra:
            return None
        kinds = [
            _item(aspect, Literal[n], [q for q in quotes if n in numbers(q)], f"Item{n}")
            for n in found
        ]
        if extra:
            kinds.append(_item(aspect, Literal[tuple(extra)], quotes, "ItemWords"))
        item = kinds[0] if len(kinds) == 1 else Union[tuple(kinds)]  # noqa: UP007
    elif aspect.kind == "choice" and aspect.cues:
        kinds = []
        for n, (choice, cue) in enumerate(zip(aspect.choices, aspect.cues, strict=True)):
            cued = [q for q in quotes if cue in " ".join(q.lower().replace("-", " ").split())]
            kinds.append(_item(aspect, Literal[choice], cued or quotes, f"Item{n}"))
        item = Union[tuple(kinds)]  # noqa: UP007
    elif aspect.kind == "choice":
        item = _item(aspect, Literal[aspect.choices], quotes, "Item")
    else:
        item = _item(aspect, str, quotes, "Item")
    return create_model(
        "Answer",
        __base__=_Closed,
        items=(list[item], Field(default_factory=list, max_length=3)),
    )


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _band(key: str) -> tuple[int, int] | None:
    low, _, high = key.partition("-")
    if not low.strip().isdigit() or (high and not high.strip().isdigit()):
        return None
    return int(low), int(high or low)


def _agrees_number(n: int, reading: Requirement) -> bool:
    """The model's number is the number the reading's words give (``over 90`` reads
    ``min 91``: a bound one off for min/max counts too)."""
    value = reading.value
    if reading.key is not None:
        band = _band(reading.key)
        return band is not None and band[0] <= n <= band[1]
    if isinstance(value, list):
        if reading.op == "range":
            return n in [_number(v) for v in value]
        return str(n) in [str(v) for v in value]
    number = _number(value)
    if number is None:
        return False
    return n == number or (reading.op in ("min", "max") and abs(n - number) == 1)


def _agrees_key(name: str, reading: Requirement) -> bool:
    wanted = name.strip().upper()
    if reading.key is not None and reading.key.upper() == wanted:
        return True
    if isinstance(reading.value, list):
        return wanted in [str(v).upper() for v in reading.value]
    return False


def agrees(aspect: Aspect, value: Any, target: str, reading: Requirement) -> bool:
    """Whether the model's ``value`` says what ``reading`` (of ``target``) says."""
    if reading.target != target:
        return False
    if aspect.kinds:
        return any(c == value and t == target and k == reading.key for c, t, k in aspect.kinds)
    if aspect.kind == "number":
        n = _number(value)
        return n is not None and _agrees_number(n, reading)
    return isinstance(value, str) and _agrees_key(value, reading)


def item_targets(aspect: Aspect, value: Any) -> list[str]:
    """The targets one item of ``aspect`` speaks of (a kind names its own)."""
    if aspect.kinds:
        return [t for c, t, _ in aspect.kinds if c == value][:1]
    return list(aspect.targets)
