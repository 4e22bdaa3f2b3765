"""The labelled request corpus: its loader's checks, and the real corpus's coverage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from esdh_agent.errors import InputError
from esdh_agent.ledger.corpus import (
    STYLES,
    CorpusCase,
    ExpectedRequirement,
    load_case,
    load_corpus,
)
from esdh_agent.ledger.model import TARGETS

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus" / "requests"

GOOD = """\
id: {id}
style: terse
prompt: |
  600 commercial customers in AZ/NV (60/40), mostly trucks.
expected:
  - {{target: person_count, op: eq, value: 600, tolerance: exact,
     quote: "600 commercial customers"}}
  - {{target: state, key: AZ, op: share, value: 0.6, tolerance: exact, quote: "60/40"}}
  - {{target: {target}, op: only, value: [AZ, NV], tolerance: all, quote: "{quote}"}}
unsupported: [{unsupported}]
outcome: commit
"""


def write(directory: Path, name: str, **fields: str) -> Path:
    values = {"id": name, "target": "state", "quote": "AZ/NV", "unsupported": ""} | fields
    path = directory / f"{name}.yaml"
    path.write_text(GOOD.format(**values), encoding="utf-8")
    return path


# --- the loader ---------------------------------------------------------------------------


def test_a_good_case_loads_with_its_quotes_located(tmp_path: Path) -> None:
    write(tmp_path, "b-case")
    write(tmp_path, "a-case")
    cases = load_corpus(tmp_path)
    assert [c.id for c in cases] == ["a-case", "b-case"]
    reqs = cases[0].requirements()
    assert [r.id for r in reqs] == ["E1", "E2", "E3"]
    for r in reqs:
        assert cases[0].prompt[r.start : r.end] == r.quote
    count = reqs[0]
    assert (count.target, count.value, count.start) == ("person_count", 600, 0)
    # in prose order: "AZ/NV" comes before "60/40"
    assert [r.quote for r in reqs[1:]] == ["AZ/NV", "60/40"]


def test_a_quote_not_in_the_prompt_is_an_error_naming_file_and_quote(tmp_path: Path) -> None:
    path = write(tmp_path, "bad-quote", quote="Arizona/Nevada")
    with pytest.raises(InputError) as info:
        load_corpus(tmp_path)
    assert "Arizona/Nevada" in str(info.value)
    assert str(path) in str(info.value)


def test_a_quote_differing_only_in_case_is_not_in_the_prompt(tmp_path: Path) -> None:
    write(tmp_path, "case-quote", quote="az/nv")
    with pytest.raises(InputError, match="az/nv"):
        load_corpus(tmp_path)


def test_an_unsupported_quote_must_be_in_the_prompt_too(tmp_path: Path) -> None:
    write(tmp_path, "bad-unsupported", unsupported='"red paint"')
    with pytest.raises(InputError, match="red paint"):
        load_corpus(tmp_path)


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "first", id="same-id")
    second = write(tmp_path, "second", id="same-id")
    with pytest.raises(InputError, match="duplicate corpus id 'same-id'") as info:
        load_corpus(tmp_path)
    assert str(second) in str(info.value)


def test_an_unknown_target_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad-target", target="colour")
    with pytest.raises(InputError) as info:
        load_corpus(tmp_path)
    assert str(path) in str(info.value) and "target" in str(info.value)


def test_unknown_fields_and_pins_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "extra")
    path.write_text(path.read_text() + "notes: hi\n")
    with pytest.raises(InputError, match="notes"):
        load_case(path)
    path.write_text(path.read_text().replace("notes: hi\n", "pinned: {snapshot_name: x}\n"))
    with pytest.raises(InputError, match="snapshot_name"):
        load_case(path)


def test_a_missing_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no corpus directory"):
        load_corpus(tmp_path / "nope")


def test_to_requirement_takes_the_first_occurrence() -> None:
    prompt = "100 persons now, 100 persons later"
    label = ExpectedRequirement(
        target="person_count", op="eq", value=100, tolerance="exact", quote="100 persons"
    )
    req = label.to_requirement(prompt, "E7")
    assert (req.id, req.start, req.end) == ("E7", 0, 11)
    with pytest.raises(InputError):
        label.to_requirement("no such words")


# --- the real corpus ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> list[CorpusCase]:
    return load_corpus(CORPUS)


def test_the_corpus_is_large_enough(corpus: list[CorpusCase]) -> None:
    assert len(corpus) >= 40


def test_every_style_is_represented_at_least_twice(corpus: list[CorpusCase]) -> None:
    styles = Counter[str](c.style for c in corpus)
    assert {s: styles[s] for s in STYLES if styles[s] < 2} == {}


def test_every_target_appears_in_some_expected_ledger(corpus: list[CorpusCase]) -> None:
    seen = {e.target for c in corpus for e in c.expected}
    assert set(TARGETS) - seen == set()


def test_every_outcome_occurs_and_empty_prompts_refuse(corpus: list[CorpusCase]) -> None:
    assert {c.outcome for c in corpus} == {"commit", "refuse", "pause"}
    empty = [c for c in corpus if not c.expected]
    assert empty and all(c.outcome == "refuse" for c in empty)


def test_pinned_cases_exist(corpus: list[CorpusCase]) -> None:
    assert sum(1 for c in corpus if c.pinned) >= 3


def test_labels_are_canonical(corpus: list[CorpusCase]) -> None:
    """Keys of only/exclude sorted, shares in 0..1, keys only where the target needs one."""
    for case in corpus:
        for e in case.expected:
            where = f"{case.id}: {e.quote!r}"
            if e.op in ("only", "exclude"):
                assert isinstance(e.value, list) and e.value == sorted(e.value), where
            if e.op == "share":
                assert e.value is None or 0.0 <= float(e.value) <= 1.0, where  # type: ignore[arg-type]
            keyed = e.op == "share" and e.target not in (
                "address_line_2",
                "zip_plus4",
                "boundary_age",
            )
            assert (e.key is not None) == (keyed or e.target == "directive"), where
            if e.op == "range":
                assert isinstance(e.value, list) and len(e.value) == 2, where
                assert e.value[0] <= e.value[1], where  # type: ignore[operator]
