"""ledger_view: which ledger a run shows, its statuses, spans, what was not honoured, provenance."""

from __future__ import annotations

from pathlib import Path

from esdh_agent.transcripts.ledger_view import (
    OLDER_NOTE,
    Span,
    field_requirements,
    ledger_json,
    ledger_note,
    locate,
    not_honoured,
    prose_segments,
    prose_spans,
    run_ledger,
)
from esdh_agent.transcripts.request import plan_provenance

from tests.transcripts.ledger_runs import PROSE, write_run


def test_run_json_ledger_is_shown_with_its_measurements(tmp_path: Path) -> None:
    record, events = write_run(tmp_path, "r1")
    view = run_ledger(record, events)
    assert view is not None
    assert view.stage == "verified on the data of revision 0"
    r3 = view.ledger.get("R3")
    assert r3 is not None and r3.status == "unmet" and r3.measured == 0.93
    assert view.declined and "R5" in view.declined[0]
    assert view.provenance["state_mix"] == ["R3"] and view.model_calls == 2


def test_without_run_json_ledger_the_verified_statuses_apply_to_the_grounded_one(
    tmp_path: Path,
) -> None:
    record, events = write_run(tmp_path, "r1", record_ledger=False)
    view = run_ledger(record, events)
    assert view is not None
    statuses = {r.id: r.status for r in view.ledger.requirements}
    assert statuses["R1"] == "met" and statuses["R3"] == "unmet" and statuses["R6"] == "overridden"
    # the ground event holds no measurements: only run.json's ledger does
    assert view.ledger.get("R3").measured is None  # type: ignore[union-attr]
    assert view.unmet == ['R3 "in Arizona and Nevada": 7% of persons live in TX']


def test_older_runs_and_runs_stopped_before_grounding_say_why_there_is_no_ledger(
    tmp_path: Path,
) -> None:
    record, events = write_run(tmp_path, "old", with_ledger=False)
    assert run_ledger(record, events) is None
    assert ledger_note(record, events) == OLDER_NOTE
    assert ledger_json(record, events) == {"ledger": None, "note": OLDER_NOTE}
    stopped = {**record, "ledger": None}
    assert "stopped before its request was grounded" in str(ledger_note(stopped, events))


def test_segments_split_overlapping_quotes_and_rejoin_to_the_prose(tmp_path: Path) -> None:
    record, events = write_run(tmp_path, "r1")
    view = run_ledger(record, events)
    assert view is not None
    spans = prose_spans(PROSE, view)
    assert {s.ident for s in spans} == {"R1", "R2", "R3", "R4", "R5", "R6", "U1"}  # not P1
    segments = prose_segments(PROSE, spans)
    assert "".join(s.text for s in segments) == PROSE
    inner = next(s for s in segments if s.text == "commercial-line")
    assert [s.ident for s in inner.spans] == ["R2", "R1"]  # innermost first
    assert [s.ident for s in inner.ends] == ["R2"]
    trucks = next(s for s in segments if s.text == "mostly trucks")
    assert [s.ident for s in trucks.spans] == ["R4", "R6"]  # the reading that stands first


def test_locate_finds_a_quote_in_stripped_prose_and_rejects_absent_ones() -> None:
    stripped = PROSE.strip()
    start = PROSE.index("in Arizona")
    end = start + len("in Arizona")
    assert locate(PROSE, start, end, "in Arizona") == (start, end)
    assert locate(stripped, start, end, "in Arizona") == (start - 1, end - 1)
    assert locate(stripped, start, end, "in Utah") is None
    assert locate(stripped, -1, -1, "seed: 77") is None
    assert prose_segments("abc", [Span("R1", 1, 2, "met")])[1].text == "b"


def test_not_honoured_names_every_quote(tmp_path: Path) -> None:
    record, events = write_run(tmp_path, "r1")
    view = run_ledger(record, events)
    assert view is not None
    found = [(h.ident, h.quote, h.status) for h in not_honoured(view)]
    assert found == [
        ("R5", "Write the snapshot to ../../etc", "declined"),
        ("U1", "Each has 12 trailers.", "not supported"),
    ]


def test_plan_provenance_names_the_requirements_that_set_each_field(tmp_path: Path) -> None:
    record, events = write_run(tmp_path, "r1")
    sources = {f.name: (f.source, f.requirements) for f in plan_provenance(record, events).fields}
    assert sources["seed"] == ("pinned", ())
    assert sources["person_count"] == ("request R1", ("R1",))
    assert sources["state_mix"] == ("request R3", ("R3",))
    assert sources["body_style_mix"] == ("request R4", ("R4",))
    assert sources["model_year_min"][0] == "model"
    view = run_ledger(record, events)
    assert field_requirements(view, "edge_cases") == []
    old_record, old_events = write_run(tmp_path, "old", with_ledger=False)
    old = {f.name: f.source for f in plan_provenance(old_record, old_events).fields}
    assert old["person_count"] == "default" and old["body_style_mix"] == "model"


def test_json_carries_the_ledger_with_statuses(tmp_path: Path) -> None:
    record, events = write_run(tmp_path, "r1")
    data = ledger_json(record, events)
    assert data["statuses"]["R3"] == "unmet" and data["statuses"]["R5"] == "declined"
    assert data["ledger"]["requirements"][3]["measured"] == 0.93
    assert [h["ident"] for h in data["not_honoured"]] == ["R5", "U1"]
    assert data["provenance"]["lob_mix"] == ["R2"]
