"""Model extraction: focused answers kept only where the prose's words bear them out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from esdh_agent.agents.extraction import extract_with_model, locate, validate_readings
from esdh_agent.agents.extraction_aspects import ASPECTS, answer_schema, clauses
from esdh_agent.ledger.model import Requirement
from esdh_agent.llm.fake import ScriptedLLM

ASPECT = {a.name: a for a in ASPECTS}
_PERSONS = re.compile(r"(about )?(\d+) (?:persons|people|drivers|customers)")
_SHARE = re.compile(r"(\d+)% ([A-Z]{2})")


def standin(target: str, quote: str, grammar: Any) -> list[Requirement]:
    """A tiny stand-in for the grammar's readings: counts of persons and state shares, with
    offsets relative to the quote (as ``ledger.extract.readings`` gives them)."""
    assert grammar == "G"
    out: list[Requirement] = []
    if target == "person_count":
        for m in _PERSONS.finditer(quote):
            out.append(
                Requirement(
                    id="R0",
                    target="person_count",
                    op="eq",
                    value=int(m.group(2)),
                    tolerance="approx" if m.group(1) else "exact",
                    quote=m.group(),
                    start=m.start(),
                    end=m.end(),
                )
            )
    if target == "state":
        for m in _SHARE.finditer(quote):
            out.append(
                Requirement(
                    id="R0",
                    target="state",
                    key=m.group(2),
                    op="share",
                    value=int(m.group(1)) / 100,
                    quote=m.group(),
                    start=m.start(),
                    end=m.end(),
                )
            )
    if target == "body_style" and "trucks and SUVs" in quote:
        s = quote.index("trucks and SUVs")
        out.append(
            Requirement(
                id="R0",
                target="body_style",
                op="only",
                value=["SUV", "Truck"],
                tolerance="all",
                quote="trucks and SUVs",
                start=s,
                end=s + 15,
            )
        )
    return out


def run(prose: str, script: dict[str, list[Any]]) -> Any:
    llm = ScriptedLLM({f"extract:{k}": v for k, v in script.items()})
    return extract_with_model(llm, "tiny", prose, readings_fn=standin, grammar="G"), llm


def test_valid_items_kept_with_prose_offsets_and_the_grammars_tolerance() -> None:
    prose = "Hello team. Please make about 200 persons in total, 60% AZ and 40% NV."
    got, _ = run(
        prose,
        {
            "persons": [
                {"items": [{"quote": "Please make about 200 persons in total", "count": 200}]}
            ],
            "states": [
                {
                    "items": [
                        {"quote": "60% AZ and 40% NV", "state": "AZ"},
                        {"quote": "60% AZ and 40% NV", "state": "nv"},
                    ]
                }
            ],
        },
    )
    assert [r.label() for r in got.requirements] == [
        "person_count eq 200 (approx)",
        "state AZ share 0.6 (exact)",
        "state NV share 0.4 (exact)",
    ]
    assert [r.id for r in got.requirements] == ["M1", "M2", "M3"]
    for r in got.requirements:
        assert r.source == "model"
        assert prose[r.start : r.end] == r.quote
    assert got.requirements[0].quote == "about 200 persons"
    assert got.discarded == []


def test_quote_not_in_the_prose_is_discarded() -> None:
    got, _ = run(
        "Make 300 drivers in Ohio.",
        {"persons": [{"items": [{"quote": "Make 400 drivers", "count": 300}]}]},
    )
    assert got.requirements == []
    [d] = got.discarded
    assert (d.target, d.quote, d.value) == ("person_count", "Make 400 drivers", 300)
    assert "not in the request" in d.reason


def test_seed_given_as_a_person_count_is_discarded() -> None:
    prose = "Make 300 drivers with seed 77."
    got, _ = run(
        prose,
        {
            "persons": [
                {
                    "items": [
                        {"quote": "seed 77", "count": 77},
                        {"quote": "Make 300 drivers with seed 77", "count": 77},
                    ]
                }
            ]
        },
    )
    assert got.requirements == []
    first, second = got.discarded
    assert first.value == 77 and "nothing the grammar reads as person_count" in first.reason
    assert second.reason == (
        "value 77 is not what the quote says (reads person_count eq 300 (exact))"
    )


@pytest.mark.parametrize(
    "answer",
    [
        "Request: Make 300 drivers in Ohio.",  # an echo
        '{"items": [{"quote": "Make 300',  # cut off
        {"items": "Make 300 drivers"},
        {"items": [1, None, {"quote": 5, "count": "x"}, {"count": 300}, ["a"]]},
        {"items": [{"quote": "Make 300 drivers", "count": {"n": 300}}]},
        {"answer": 300},
    ],
)
def test_garbage_answers_keep_nothing_and_never_raise(answer: Any) -> None:
    got, llm = run("Make 300 drivers in Ohio.", {a.name: [answer] for a in ASPECTS})
    assert got.requirements == []
    assert got.calls == len(llm.calls) > 0
    assert all(d.reason for d in got.discarded)


def test_offsets_follow_the_quote_when_its_words_repeat() -> None:
    prose = "200 persons? No: make 200 persons, then 200 persons again."
    got, _ = run(
        prose,
        {
            "persons": [
                {
                    "items": [
                        {"quote": "make 200 persons", "count": 200},
                        {"quote": "200 PERSONS", "count": 200},
                        {"quote": "200  persons", "count": 200},
                    ]
                }
            ]
        },
    )
    spans = [(r.start, r.end) for r in got.requirements]
    second = prose.index("make 200") + 5
    third = prose.index("then 200") + 5
    # The reading inside "make 200 persons" is the second occurrence, not prose.find's first;
    # the repeated quote then takes an occurrence no kept reading of the target holds yet.
    assert (second, second + 11) in spans
    assert (0, 11) in spans
    assert len(spans) == 3 and (third, third + 11) in spans
    assert all(prose[s:e] == "200 persons" for s, e in spans)


def test_case_and_whitespace_insensitive_quotes_use_the_exact_prose_span() -> None:
    prose = "Please build\n  About 120 Drivers  for us"
    assert locate(prose, "please build about 120 drivers") == (0, prose.index("Drivers") + 7)
    assert locate(prose, "  ") is None
    assert locate(prose, "nowhere") is None


def test_choice_answers_agree_with_a_list_reading() -> None:
    prose = "Give me trucks and SUVs, 50 drivers."
    items = [
        {"quote": "Give me trucks and SUVs", "style": "Truck"},
        {"quote": "Give me trucks and SUVs", "style": "Sedan"},
    ]
    kept, discarded = validate_readings(
        prose, ASPECT["body-styles"], items, readings_fn=standin, grammar="G"
    )
    assert [r.label() for r in kept] == ["body_style only [SUV,Truck] (all)"]
    assert prose[kept[0].start : kept[0].end] == "trucks and SUVs"
    assert [d.value for d in discarded] == ["Sedan"]
    assert "reads body_style only [SUV,Truck] (all)" in discarded[0].reason


def test_number_questions_are_not_asked_of_prose_without_numbers() -> None:
    got, llm = run("Personal lines only, mostly trucks.", {})
    asked = {c["node"] for c in llm.calls}
    assert "extract:persons" not in asked and "extract:model-years" not in asked
    assert "extract:states" in asked and "extract:vehicles" in asked
    assert got.calls == len(llm.calls)


def test_answer_schema_limits_quotes_to_clauses_and_numbers_to_the_prose() -> None:
    prose = "- 120 drivers\n- ages 21 to 70, seed 5. Version v0.2"
    assert clauses(prose) == ["120 drivers", "ages 21 to 70", "seed 5", "Version v0.2"]
    schema = answer_schema(ASPECT["ages"], prose)
    assert schema is not None
    defs = schema.model_json_schema()["$defs"]
    # One kind of item per number written, quoting only the clauses that write it.
    offered = {
        d["properties"]["age"]["const"]: d["properties"]["quote"].get("enum")
        or [d["properties"]["quote"]["const"]]
        for d in defs.values()
    }
    assert offered == {
        120: ["120 drivers"],
        21: ["ages 21 to 70"],
        70: ["ages 21 to 70"],
        5: ["seed 5"],
        0: ["Version v0.2"],
    }
    lines = answer_schema(ASPECT["lines"], "Commercial only, in Texas")
    assert lines is not None
    cued = {
        d["properties"]["line"]["const"]: d["properties"]["quote"].get("enum")
        or [d["properties"]["quote"]["const"]]
        for d in lines.model_json_schema()["$defs"].values()
    }
    assert cued == {"Commercial": ["Commercial only"], "Personal": ["Commercial only", "in Texas"]}


def test_with_the_real_grammar_only_what_the_quote_says_survives() -> None:
    from pathlib import Path

    from esdh_agent.ledger.extract import readings
    from esdh_agent.ledger.grammar import grammar_path, load_grammar

    grammar = load_grammar(grammar_path(Path(__file__).resolve().parents[2] / "governance"))
    prose = "600 commercial customers in AZ/NV (60/40), mostly trucks, seed 77."
    llm = ScriptedLLM(
        {
            "extract:persons": [
                {
                    "items": [
                        {"count": 77, "quote": "seed 77"},
                        {"count": 600, "quote": "600 commercial customers in AZ/NV (60/40)"},
                    ]
                }
            ],
            "extract:states": [
                {"items": [{"state": "NV", "quote": "600 commercial customers in AZ/NV (60/40)"}]}
            ],
            "extract:body-styles": [{"items": [{"style": "Truck", "quote": "mostly trucks"}]}],
        }
    )
    got = extract_with_model(llm, "tiny", prose, readings_fn=readings, grammar=grammar)
    assert [r.label() for r in got.requirements] == [
        "person_count eq 600 (exact)",
        "state only [AZ,NV] (all)",
        "state NV share 0.4 (exact)",
        "body_style Truck share (mostly)",
    ]
    assert all(prose[r.start : r.end] == r.quote for r in got.requirements)
    assert [(d.quote, d.value) for d in got.discarded] == [("seed 77", 77)]
