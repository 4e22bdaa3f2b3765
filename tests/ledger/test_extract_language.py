"""Language phenomena the extractor reads: slips of spelling, numbers said in words, shares
of vehicle counts and ages, negated comparators, tight state lists, states as adjectives.

Each phenomenon has its own sentences (not the corpus's), including ones that must NOT
produce a requirement: widening coverage must not cost precision.
"""

from __future__ import annotations

import pytest

from esdh_agent.ledger.extract import extract
from esdh_agent.ledger.extract_spell import distance, respell
from esdh_agent.ledger.grammar import Grammar

from tests.ledger.reading import labels


def quotes(prose: str, grammar: Grammar) -> dict[str, str]:
    return {r.label(): r.quote for r in extract(prose, grammar)[0]}


CASES = [
    # misspelt vocabulary: the same context is still needed
    ("make 80 custmers in Orgeon", {"person_count eq 80 (exact)", "state only [OR] (all)"}),
    (
        "roughy 300 poeple, mosty SUVs",
        {"person_count eq 300 (approx)", "body_style SUV share (mostly)"},
    ),
    ("40 drivres living in Nevdaa", {"person_count eq 40 (exact)", "state only [NV] (all)"}),
    (
        "no comercial policies, risk is all hgih",
        {"lob exclude [Commercial] (none)", "risk only [High] (all)"},
    ),
    ("Seeed 9 please", {"seed eq 9 (exact)"}),
    ("the rivers and divers of the costly coast", set()),
    ("persns", set()),
    ("Generate 12 vehicals", set()),
    # numbers in words: years, dates, seeds
    ("cars built twenty sixteen through twenty twenty-two", {"model_year range [2016,2022] (all)"}),
    ("vehicles from nineteen ninety-nine to twenty ten", {"model_year range [1999,2010] (all)"}),
    ("as of the third of March twenty twenty-four", {"as_of_date eq 2024-03-03 (exact)"}),
    ("as of June the twenty-first, 2024", {"as_of_date eq 2024-06-21 (exact)"}),
    ("random seed thirty-one", {"seed eq 31 (exact)"}),
    ("twenty twenty drivers", {"person_count eq 2020 (exact)"}),
    # fractions of vehicle counts and slash fractions
    (
        "200 people: half own one car, a third have two and the rest? unsure",
        {
            "person_count eq 200 (exact)",
            "vehicles_per_person 1 share 0.5 (exact)",
            "vehicles_per_person 2 share 0.3333 (exact)",
        },
    ),
    (
        "everyone drives one vehicle, 20% with three",
        {"vehicles_per_person only [1] (all)", "vehicles_per_person 3 share 0.2 (exact)"},
    ),
    (
        "about 3/4 of the 400 drivers in Utah",
        {"person_count eq 400 (exact)", "state UT share 0.75 (approx)"},
    ),
    (
        "AZ/NV split 60/40",
        {"state only [AZ,NV] (all)", "state AZ share 0.6 (exact)", "state NV share 0.4 (exact)"},
    ),
    ("the 1/3/2025 batch", set()),
    ("a quarter have two", set()),
    # age shares and what is not an age
    (
        "300 drivers; a third of them should be 18 or 19",
        {"person_count eq 300 (exact)", "age 18-19 share 0.3333 (exact)"},
    ),
    ("40% of the persons aged seventy or seventy-one", {"age 70-71 share 0.4 (exact)"}),
    ("drivers with at least two speeding tickets", set()),
    ("policyholders with no more than 3 claims", set()),
    ("Half of them should have 2 or 3 cars.", {"vehicles_per_person 2-3 share 0.5 (exact)"}),
    ("we need 150 persons, two of them named Smith", {"person_count eq 150 (exact)"}),
    ("each one of them with one car", {"vehicles_per_person only [1] (all)"}),
    # negated comparators
    (
        "nothing from before model year 2012 and no cars older than 2012",
        {"model_year min 2012 (at_least)"},
    ),
    ("no vehicles newer than 2020", {"model_year max 2020 (at_most)"}),
    ("nobody should have more than three cars", {"vehicles_per_person max 3 (at_most)"}),
    ("customers with more than one car each", {"vehicles_per_person min 2 (at_least)"}),
    ("more than two cars in the parking lot", set()),
    (
        "Oregon is off limits, everyone else in Idaho",
        {"state exclude [OR] (none)", "state only [ID] (all)"},
    ),
    ("Sedans and SUVs are excluded", {"body_style exclude [SUV,Sedan] (none)"}),
    # alternatives of a count
    (
        "about 500 persons (or 5,000 if it is quick)",
        {"person_count eq 500 (approx)", "person_count eq 5000 (exact)"},
    ),
    ("120 drivers, or 90 vehicles", {"person_count eq 120 (exact)"}),
    # tight state lists and states as adjectives
    ("CA+NV only", {"state only [CA,NV] (all)"}),
    ("rows for OR/WA", {"state only [OR,WA] (all)"}),
    ("IN/OUT flags and an OK/NO answer", set()),
    ("For our Texas pilot: 70 drivers", {"person_count eq 70 (exact)"}),
    (
        "the Oregon rollout needs 60 customers in Oregon",
        {"person_count eq 60 (exact)", "state only [OR] (all)"},
    ),
    ("the Texas drivers", {"state only [TX] (all)"}),
    # row features: a cue after the feature, examples in brackets are not a new ask
    ("ZIP+4 for every person", {"zip_plus4 share 1 (all)"}),
    ("5% accented names (Müller, François)", {"name_variant non_ascii share 0.05 (exact)"}),
]


# Insurance and QA shorthand: "PL"/"CL" before a person noun, "MY2019+", "veh ea", "yrs", "pct"
SHORTHAND = [
    (
        "about 900 CL policyholders in Idaho",
        {
            "person_count eq 900 (approx)",
            "lob only [Commercial] (all)",
            "state only [ID] (all)",
        },
    ),
    ("2k PL drivers", {"person_count eq 2000 (exact)", "lob only [Personal] (all)"}),
    ("export it as PL/SQL and CL scripts", set()),
    ("the PL team wants 50 persons", {"person_count eq 50 (exact)"}),
    ("autos MY 2016 or later", {"model_year min 2016 (at_least)"}),
    ("cars MY2012-2018", {"model_year range [2012,2018] (all)"}),
    ("trucks MY2020+ only", {"model_year min 2020 (at_least)", "body_style only [Truck] (all)"}),
    ("MY 2 cents: my 2019 budget is tight", set()),
    ("customers with 3-4 vehs apiece", {"vehicles_per_person range [3,4] (all)"}),
    ("customers 2 veh ea", {"vehicles_per_person only [2] (all)"}),
    ("drivers 30 to 50 yrs", {"age range [30,50] (all)"}),
    ("policyholders 18-24 y.o.", {"age range [18,24] (all)"}),
    ("drivers licensed 2-5 yrs", set()),
    ("customers insured with us for at least 3 years", set()),
    ("12 per cent hyphenated surnames", {"name_variant hyphenated share 0.12 (exact)"}),
    ("approx. 35 pct in Utah", {"state UT share 0.35 (approx)"}),
    # vehicles per person: "a single", "apiece", "up to"
    ("every policyholder with a single vehicle", {"vehicles_per_person only [1] (all)"}),
    ("customers own three cars apiece", {"vehicles_per_person only [3] (all)"}),
    ("up to two cars per customer", {"vehicles_per_person max 2 (at_most)"}),
    (
        "drivers 21 and up, up to two cars each",
        {"age min 21 (at_least)", "vehicles_per_person max 2 (at_most)"},
    ),
    ("not a single truck", {"body_style exclude [Truck] (none)"}),
    ("a single person per household", set()),
    # exclusion verbs
    ("exclude sedans", {"body_style exclude [Sedan] (none)"}),
    ("excluding Nevada and Utah", {"state exclude [NV,UT] (none)"}),
    ("omit pickups", {"body_style exclude [Truck] (none)"}),
    ("no SUVs at all", {"body_style exclude [SUV] (none)"}),
    ("exclude the test flag", set()),
    # ages: "between the ages of", non-native comparatives
    ("between the ages of 25 and 60", {"age range [25,60] (all)"}),
    ("from the age of 18 to 21", {"age range [18,21] (all)"}),
    ("nobody more old than 80", {"age max 80 (at_most)"}),
    (
        "drivers no more young than 21 and no more old than 65",
        {"age min 21 (at_least)", "age max 65 (at_most)"},
    ),
    ("between the two of us, 40 drivers", {"person_count eq 40 (exact)"}),
    # ranges said from the top: "back to", "down through"
    ("vehicles from 2022 back to 2014", {"model_year range [2014,2022] (all)"}),
    ("model years 2024 down through 2019", {"model_year range [2019,2024] (all)"}),
    ("come back to me with 30 drivers", {"person_count eq 30 (exact)"}),
    # what the listed shares leave: "rest", "remainder", approximate when they are
    ("Idaho 70%, rest Utah", {"state ID share 0.7 (exact)", "state UT share 0.3 (exact)"}),
    (
        "roughly 20% medium risk, the remainder low",
        {"risk Medium share 0.2 (approx)", "risk Low share 0.8 (approx)"},
    ),
    (
        "two fifths trucks, rest sedans",
        {"body_style Truck share 0.4 (exact)", "body_style Sedan share 0.6 (exact)"},
    ),
    (
        "one sixth sedans, one sixth pickups, the rest crossovers",
        {
            "body_style Sedan share 0.1667 (exact)",
            "body_style Truck share 0.1667 (exact)",
            "body_style SUV share 0.6667 (exact)",
        },
    ),
    ("rest assured, all in Utah", {"state only [UT] (all)"}),
    ("the rest of the team wants Utah", {"state only [UT] (all)"}),
    # fractions with sixths, eighths
    (
        "one eighth pickups, seven eighths sedans",
        {"body_style Truck share 0.125 (exact)", "body_style Sedan share 0.875 (exact)"},
    ),
    ("a sixth in Oregon", {"state OR share 0.1667 (exact)"}),
    ("the sixth of June release for 40 drivers", {"person_count eq 40 (exact)"}),
    # dates written day first, or with the month in words
    ("as of 30.06.2024", {"as_of_date eq 2024-06-30 (exact)"}),
    ("valuation date 15/01/2025", {"as_of_date eq 2025-01-15 (exact)"}),
    ("as of 3 Feb 2025", {"as_of_date eq 2025-02-03 (exact)"}),
    ("as of March 3rd, 2025", {"as_of_date eq 2025-03-03 (exact)"}),
    ("as of 04/05/2025", set()),
    ("as of 31.02.2025", set()),
    ("as of today, model years 2015 to 2024", {"model_year range [2015,2024] (all)"}),
    # boundary ages and field lengths
    ("one in five persons right on an age-band edge", {"boundary_age share 0.2 (exact)"}),
    ("10% on a band boundary", {"boundary_age share 0.1 (exact)"}),
    ("a few names at the field length limit", {"name_variant max_length share (some)"}),
    ("the age band table stays as is", set()),
    # the marker left blank
    ("keep the marker field empty", {"directive marker eq (exact)"}),
    ("write synthetic_source as blank", {"directive marker eq (exact)"}),
    ("no synthetic_source field", {"directive marker eq (exact)"}),
    ("keep the marker as it is", set()),
    ("the marker column stays filled", set()),
    # slips inside a model-year phrase, a date in the same sentence
    (
        "vehicels 2015-2020, as of 2025-01-01",
        {"model_year range [2015,2020] (all)", "as_of_date eq 2025-01-01 (exact)"},
    ),
    ("modle years 2016 to 2022", {"model_year range [2016,2022] (all)"}),
]


@pytest.mark.parametrize(("prose", "expected"), CASES, ids=[p for p, _ in CASES])
def test_language(prose: str, expected: set[str], grammar: Grammar) -> None:
    assert labels(prose, grammar) == expected


@pytest.mark.parametrize(("prose", "expected"), SHORTHAND, ids=[p for p, _ in SHORTHAND])
def test_shorthand_and_phrasing(prose: str, expected: set[str], grammar: Grammar) -> None:
    assert labels(prose, grammar) == expected


def test_shorthand_quotes(grammar: Grammar) -> None:
    prose = "approx 1.5k CL accounts, 30-55 yo, MY2018+, 1-2 veh ea"
    got = quotes(prose, grammar)
    assert got == {
        "person_count eq 1500 (approx)": "approx 1.5k CL accounts",
        "lob only [Commercial] (all)": "CL",
        "age range [30,55] (all)": "30-55",
        "model_year min 2018 (at_least)": "MY2018+",
        "vehicles_per_person range [1,2] (all)": "1-2 veh ea",
    }


def test_an_abbreviation_period_does_not_end_the_sentence(grammar: Grammar) -> None:
    prose = "Roughly 300 drivers. Approx. 25 pct in Idaho, rest Utah."
    got = quotes(prose, grammar)
    assert got["state ID share 0.25 (approx)"] == "Approx. 25 pct in Idaho"
    assert got["state UT share 0.75 (approx)"] == "rest Utah"


def test_a_slip_is_quoted_as_written(grammar: Grammar) -> None:
    prose = "Generate 90 poeple, all of them over 90, in Arizonia."
    got = quotes(prose, grammar)
    assert got["person_count eq 90 (exact)"] == "90 poeple"
    assert got["state only [AZ] (all)"] == "Arizonia"
    assert got["age min 91 (at_least)"] == "over 90"
    fixed = respell(prose, grammar)
    assert fixed.text == "Generate 90 people, all of them over 90, in Arizona."
    at, to = prose.index("Arizonia"), fixed.text.index("Arizona")
    assert fixed.span(12, 18) == (12, 18)
    assert fixed.span(to, to + len("Arizona")) == (at, at + len("Arizonia"))
    assert fixed.span(to + 3, to + 5) == (at, at + len("Arizonia"))
    assert fixed.span(to + len("Arizona."), to + len("Arizona.")) == (len(prose), len(prose))


def test_slips_keep_case_and_skip_short_words_and_codes(grammar: Grammar) -> None:
    assert respell("CALIFRONIA and Nevda", grammar).text == "CALIFORNIA and Nevada"
    for prose in ("OR WA tx nv", "the cars car", "José Zoë", "costly rivers"):
        assert respell(prose, grammar).text == prose


def test_distance_counts_a_swap_as_one_edit() -> None:
    assert distance("califronia", "california") == 1
    assert distance("vehical", "vehicle") == 2
    assert distance("", "abc") == 3 and distance("same", "same") == 0


def test_unsupported_quotes_stay_the_prose_words(grammar: Grammar) -> None:
    prose = "Five vehicals each, maybe elevn for fleets of poeple."
    _, unsupported = extract(prose, grammar)
    assert all(u.quote == prose[u.start : u.end] for u in unsupported)
