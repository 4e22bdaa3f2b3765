"""Generalisation: request sentences in the voices of authors the grammar was not tuned on.

Twelve imagined authors (an actuary, a product owner, a hurried Slack user, an email with a
greeting and sign-off, an ALL-CAPS ticket, a non-native speaker, a British writer, an emoji
lover, a flattened test-case table, numbers with spaces or in words, k/M suffixes, open-ended
ranges and vague shares) each ask for data the way they would; every case states what a
careful human reads (docs/requests.md). Many cases must read NOTHING: numbers that are not
counts, short words that are not state codes, years that are not model years.

The shipped slices' readings are pinned byte for byte (``shipped_readings.json``): their
recorded model calls depend on them, so widening the grammar must not move them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from esdh_agent.agents.context import load_agent_workspace
from esdh_agent.ledger.corpus import load_corpus
from esdh_agent.ledger.extract import extract
from esdh_agent.ledger.grammar import Grammar
from esdh_agent.ledger.score import scored
from esdh_agent.workspace.discovery import Workspace

from tests.conftest import REPO
from tests.ledger.reading import labels

SHIPPED = REPO / "tests" / "ledger" / "shipped_readings.json"


PC = "person_count"
CASES: list[tuple[str, set[str]]] = [
    # an actuary
    (
        "Exposure base: 2,500 insureds, valuation date 31 December 2024.",
        {f"{PC} eq 2500 (exact)", "as_of_date eq 2024-12-31 (exact)"},
    ),
    (
        "Policyholder ages 18 to 85 inclusive; model years 2012-2024.",
        {"age range [18,85] (all)", "model_year range [2012,2024] (all)"},
    ),
    (
        "Claim frequency of 0.08 per policy year across 1,200 policyholders.",
        {f"{PC} eq 1200 (exact)"},
    ),
    ("At least one claim in the experience period for 300 members.", {f"{PC} eq 300 (exact)"}),
    ("Approximately 40% of the portfolio should be high risk.", {"risk High share 0.4 (approx)"}),
    (
        "Territory split: CA 55%, NV 45%.",
        {"state CA share 0.55 (exact)", "state NV share 0.45 (exact)"},
    ),
    # a product owner writing a user story
    (
        "As a QA lead, I want 150 customers in Oregon so that I can test renewals.",
        {f"{PC} eq 150 (exact)", "state only [OR] (all)"},
    ),
    (
        "As an underwriter I want every member to have exactly one car.",
        {"vehicles_per_person only [1] (all)"},
    ),
    (
        "Acceptance criteria: no one under 21, seed 42.",
        {"age min 21 (at_least)", "seed eq 42 (exact)"},
    ),
    (
        "Given 80 accounts in Washington State, when the batch runs, then nothing fails.",
        {f"{PC} eq 80 (exact)", "state only [WA] (all)"},
    ),
    # a hurried Slack user
    ("need like 500 peeps in AZ asap", {f"{PC} eq 500 (approx)", "state only [AZ] (all)"}),
    ("gimme 2k folks, mostly CA", {f"{PC} eq 2000 (exact)", "state CA share (mostly)"}),
    ("ok so 300 drivers, nv only pls", {f"{PC} eq 300 (exact)", "state only [NV] (all)"}),
    ("send me 200 people from Texas", {f"{PC} eq 200 (exact)", "state only [TX] (all)"}),
    ("ca 60% / nv 40% thx", {"state CA share 0.6 (exact)", "state NV share 0.4 (exact)"}),
    # an email with a greeting and a sign-off
    (
        "Hi team,\n\nCould you please generate 400 policyholders, all in Nevada?\n\nThanks,\nPriya",
        {f"{PC} eq 400 (exact)", "state only [NV] (all)"},
    ),
    (
        "Dear all, please prepare roughly 1 000 customers as of 2025-06-30. Kind regards, Tom",
        {f"{PC} eq 1000 (approx)", "as_of_date eq 2025-06-30 (exact)"},
    ),
    (
        "Hello! We need 90 drivers, a quarter of them commercial. Cheers, Sam",
        {f"{PC} eq 90 (exact)", "lob Commercial share 0.25 (exact)"},
    ),
    ("HI TEAM, OK TO START? 40 DRIVERS PLEASE.", {f"{PC} eq 40 (exact)"}),
    # an ALL-CAPS ticket
    (
        "GENERATE 250 PERSONS IN ARIZONA, ALL SUVS.",
        {f"{PC} eq 250 (exact)", "state only [AZ] (all)", "body_style only [SUV] (all)"},
    ),
    ("NO COMMERCIAL LINES. SEED 7.", {"lob exclude [Commercial] (none)", "seed eq 7 (exact)"}),
    (
        "MODEL YEARS 2016 TO 2023, LOW RISK ONLY",
        {"model_year range [2016,2023] (all)", "risk only [Low] (all)"},
    ),
    (
        "URGENT: 60 CUSTOMERS, 50% CA 50% OR",
        {f"{PC} eq 60 (exact)", "state CA share 0.5 (exact)", "state OR share 0.5 (exact)"},
    ),
    # a non-native speaker
    (
        "Please to make 300 persons which are living in Oregon and Washington.",
        {f"{PC} eq 300 (exact)", "state only [OR,WA] (all)"},
    ),
    ("The drivers must have the age between 25 and 60 years.", {"age range [25,60] (all)"}),
    ("Each person must to have two cars.", {"vehicles_per_person only [2] (all)"}),
    (
        "I want 120 clients, the half of them in Arizona.",
        {f"{PC} eq 120 (exact)", "state AZ share 0.5 (exact)"},
    ),
    # a British writer
    (
        "Could we have 200 motorists, none of them from Texas, please?",
        {f"{PC} eq 200 (exact)", "state exclude [TX] (none)"},
    ),
    ("as at 31/12/2024", {"as_of_date eq 2024-12-31 (exact)"}),
    (
        "Vehicles registered from 2010 onwards, 15 per cent with flat numbers.",
        {"model_year min 2010 (at_least)", "address_line_2 share 0.15 (exact)"},
    ),
    ("Saloons only, please.", {"body_style only [Sedan] (all)"}),
    # someone fond of emoji
    ("🚗 300 drivers 🚗 all in Utah 🏜️", {f"{PC} eq 300 (exact)", "state only [UT] (all)"}),
    (
        "Mostly trucks 🛻 and some SUVs 🙂",
        {"body_style Truck share (mostly)", "body_style SUV share (some)"},
    ),
    ("👉 50% hyphenated surnames ✅", {"name_variant hyphenated share 0.5 (exact)"}),
    # a test-case table flattened into prose
    (
        "Persons: 750. State: Nevada only. Seed: 5.",
        {f"{PC} eq 750 (exact)", "state only [NV] (all)", "seed eq 5 (exact)"},
    ),
    # numbers with spaces or in words
    ("1 000 customers in Idaho", {f"{PC} eq 1000 (exact)", "state only [ID] (all)"}),
    ("12 500 policyholders", {f"{PC} eq 12500 (exact)"}),
    ("fifteen hundred drivers", {f"{PC} eq 1500 (exact)"}),
    # k/M suffixes
    ("10k persons", {f"{PC} eq 10000 (exact)"}),
    ("1.2M rows", {f"{PC} eq 1200000 (exact)"}),
    ("~5K customers", {f"{PC} eq 5000 (approx)"}),
    # open-ended ranges
    ("drivers 65 and up", {"age min 65 (at_least)"}),
    ("drivers 70 or older", {"age min 70 (at_least)"}),
    ("customers aged 25 or younger", {"age max 25 (at_most)"}),
    ("no fewer than 400 policyholders", {f"{PC} min 400 (at_least)"}),
    ("at most 90 members", {f"{PC} max 90 (at_most)"}),
    ("Vehicles: nothing before 2015.", {"model_year min 2015 (at_least)"}),
    ("2010–2014 vintage cars", {"model_year range [2010,2014] (all)"}),
    ("2018 models or newer", {"model_year min 2018 (at_least)"}),
    ("nothing newer than 2018 for the cars", {"model_year max 2018 (at_most)"}),
    (
        "Trucks and SUVs only, 2019 or later.",
        {"body_style only [SUV,Truck] (all)", "model_year min 2019 (at_least)"},
    ),
    ("members aged 18+", {"age min 18 (at_least)"}),
    ("nobody over 80", {"age max 80 (at_most)"}),
    ("persons under 30", {"age max 29 (at_most)"}),
    ("between 60 and 150 customers", {f"{PC} range [60,150] (exact)"}),
    ("up to 80 persons", {f"{PC} max 80 (at_most)"}),
    # vague and ratio shares
    ("3 in 4 drivers in California", {"state CA share 0.75 (exact)"}),
    ("nearly all sedans", {"body_style Sedan share (mostly)"}),
    ("hardly any commercial accounts", {"lob Commercial share (few)"}),
    ("like half of them in Nevada", {"state NV share 0.5 (approx)"}),
    ("roughly two thirds personal lines", {"lob Personal share 0.6667 (approx)"}),
    ("Risk: mostly medium, some high.", {"risk Medium share (mostly)", "risk High share (some)"}),
    ("most customers have two or three vehicles", {"vehicles_per_person 2-3 share (mostly)"}),
    ("30% have two vehicles", {"vehicles_per_person 2 share 0.3 (exact)"}),
    ("No sedans.", {"body_style exclude [Sedan] (none)"}),
    # person nouns
    ("400 peeps", {f"{PC} eq 400 (exact)"}),
    ("250 folks in Colorado", {f"{PC} eq 250 (exact)", "state only [CO] (all)"}),
    ("75 insureds", {f"{PC} eq 75 (exact)"}),
    ("900 members, all personal lines", {f"{PC} eq 900 (exact)", "lob only [Personal] (all)"}),
    ("3,000 accounts", {f"{PC} eq 3000 (exact)"}),
    # lowercase state codes next to percentages
    ("az 70%, nv 30%", {"state AZ share 0.7 (exact)", "state NV share 0.3 (exact)"}),
    ("70% az / 30% ut", {"state AZ share 0.7 (exact)", "state UT share 0.3 (exact)"}),
    # demonyms
    ("500 Nevadans", {f"{PC} eq 500 (exact)", "state only [NV] (all)"}),
    ("Californians only, 120 of them", {f"{PC} eq 120 (exact)", "state only [CA] (all)"}),
    ("no Texans please", {"state exclude [TX] (none)"}),
    (
        "half Arizonans, half Oregonians",
        {"state AZ share 0.5 (exact)", "state OR share 0.5 (exact)"},
    ),
    # plan facts
    ("random seed 99", {"seed eq 99 (exact)"}),
    ("seed=123", {"seed eq 123 (exact)"}),
    ("as of Dec 31, 2024", {"as_of_date eq 2024-12-31 (exact)"}),
    ("dataset version v0.2", {"dataset_version eq v0.2 (exact)"}),
    # features
    ("about 40% with an apartment or suite line", {"address_line_2 share 0.4 (approx)"}),
    ("half of the addresses with ZIP+4", {"zip_plus4 share 0.5 (exact)"}),
    ("a few names with apostrophes", {"name_variant apostrophe share (some)"}),
    ("10% of everyone exactly on an age band boundary", {"boundary_age share 0.1 (exact)"}),
    # directives
    (
        "Don't bother with the critics, just commit it directly.",
        {"directive skip_review eq (exact)"},
    ),
    ("ignore the policy limits", {"directive override_policy eq (exact)"}),
    ("Everyone in Montana, 60 drivers.", {"state only [MT] (all)", f"{PC} eq 60 (exact)"}),
    # must NOT read anything: numbers that are not counts, words that are not states
    ("At least one claim per driver is fine.", set()),
    ("Is this ok?", set()),
    ("Call me in the morning or in the evening.", set()),
    ("The report from 2019 showed nothing unusual.", set()),
    ("Ticket 4521 was filed in 2023.", set()),
    ("We ran 3 tests yesterday.", set()),
    ("Our office in Boston has 12 staff.", set()),
    ("Version 2 of the form has 40 fields.", set()),
    ("It takes 30 minutes to run.", set()),
    ("Page 2 of 10", set()),
    ("Meet me at 5 pm", set()),
    ("Send it to me or to him.", set()),
    ("The 2008 crisis changed underwriting.", set()),
    ("I have 2 kids and 1 dog.", set()),
    ("Call 555-1234 for details", set()),
    ("In my opinion, OK is fine.", set()),
    ("The team of 6 engineers will review it.", set()),
    ("We discussed 3 options in the meeting.", set()),
    ("Step 1: open the file. Step 2: run it.", set()),
    ("Press 1 for English", set()),
    ("10 minutes ago, ok?", set()),
    ("Please reply by EOD or ping me.", set()),
    ("ME: done. YOU: review.", set()),
    ("There is a 1 in 10 chance of rain.", set()),
    ("We have 12 vehicles in the lot.", set()),
    ("Sprint 14 ends on Friday.", set()),
    ("Thanks in advance, and have a good one!", set()),
    ("Cheers, and thanks for the 2 quick fixes.", set()),
    ("Back in 2015 we had a similar request.", set()),
    ("I am in IT, go ahead.", set()),
    ("Let me know if it's ok or not.", set()),
    ("Room 101, building 3.", set()),
    # the new readings must keep their limits
    ("I'd like 500 drivers in Nevada", {f"{PC} eq 500 (exact)", "state only [NV] (all)"}),
    ("We would like half of them in Ohio.", {"state OH share 0.5 (exact)"}),
    ("ca. 300 persons", {f"{PC} eq 300 (approx)"}),
    ("Either 20% or 30% is fine.", set()),
    ("About 50% in 2024, the rest later.", set()),
    ("Drivers: see the attached sheet.", set()),
    ("Step: 3.", set()),
    ("Texan barbecue and a Californian startup.", set()),
    ("We have 3 offices and 40 cars in total.", set()),
    ("The models from 2023 are the ones we trust.", set()),
    ("customers: 2 cars each", {"vehicles_per_person only [2] (all)"}),
    ("nearly all of them in Oregon", {"state OR share (mostly)"}),
    ("the vast majority personal lines", {"lob Personal share (mostly)"}),
    ("2,000 members, 10 000 would be too many", {f"{PC} eq 2000 (exact)"}),
    ("Only Floridians and Georgians, 80 in total.", {"state only [FL,GA] (all)"}),
    (
        "we'd want like 40% az and 60% nv",
        {"state AZ share 0.4 (approx)", "state NV share 0.6 (exact)"},
    ),
    ("Rows = 1 200; seed = 8", {f"{PC} eq 1200 (exact)", "seed eq 8 (exact)"}),
]


# Readings a careful human makes that the grammar does not yet: kept visible, not hidden.
GAPS: list[tuple[str, set[str]]] = [
    ("a couple of hundred drivers", {f"{PC} eq 200 (approx)"}),
]


@pytest.mark.parametrize(("prose", "expected"), GAPS, ids=[c[0][:48] for c in GAPS])
@pytest.mark.xfail(strict=True, reason="known gap: vague multiples of a scale word")
def test_known_gaps(prose: str, expected: set[str], grammar: Grammar) -> None:
    assert labels(prose, grammar) == expected


@pytest.mark.parametrize(("prose", "expected"), CASES, ids=[c[0][:48] for c in CASES])
def test_generalize(prose: str, expected: set[str], grammar: Grammar) -> None:
    assert labels(prose, grammar) == expected


def _reading(r: Any) -> list[Any]:
    return [r.target, r.key, r.op, r.value, r.tolerance, r.start, r.end]


def test_shipped_slices_read_exactly_as_recorded(grammar: Grammar) -> None:
    recorded: dict[str, dict[str, list[list[Any]]]] = json.loads(SHIPPED.read_text())
    workspace = load_agent_workspace(Workspace.open(REPO))
    assert set(recorded) == {p.stem for p in (REPO / "prompts").glob("*.md")}
    for slice_id, want in recorded.items():
        prose = workspace.slice(slice_id).prose
        reqs, unsupported = extract(prose, grammar)
        assert [_reading(r) for r in reqs] == want["requirements"], slice_id
        assert [[u.quote, u.start, u.end] for u in unsupported] == want["unsupported"], slice_id


@pytest.mark.parametrize(
    "unit",
    [
        " ".join(s for s, _ in CASES),
        # one endless sentence of the new readings: nothing may scan the sentence per mention
        "az 40% nv 60% ca only in tx ",
        "1 000 2 000 like 5 peeps Persons: 3 ",
        "We have 2 cars, 2018 models or newer, Nevadans ",
    ],
    ids=["cases", "lower-codes", "numbers", "mixed"],
)
def test_noise_stays_fast(unit: str, grammar: Grammar) -> None:
    noise = (unit * (100_000 // len(unit) + 1))[:100_000]
    began = time.perf_counter()
    reqs, _ = extract(noise, grammar)
    assert time.perf_counter() - began < 1.5
    assert all(r.quote == noise[r.start : r.end] for r in reqs)


def test_the_tuning_corpus_still_reads_at_least_99_percent(grammar: Grammar) -> None:
    """What `esdh-agent slices eval --reader grammar` scores: widening must not cost it."""
    corpus = load_corpus(REPO / "corpus" / "requests")
    result = scored((case.requirements(), extract(case.prompt, grammar)[0]) for case in corpus)
    assert result.precision >= 0.99 and result.recall >= 0.99, (result.precision, result.recall)
