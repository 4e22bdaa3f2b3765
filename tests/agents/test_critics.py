"""How critic findings are judged: verified, satisfied, dismissed or advisory."""

from __future__ import annotations

from typing import Any

import pytest

from esdh_agent.agents.critics import Check, CriticAnswer, assess, derive_verdict
from esdh_agent.agents.models import Verdict

PROFILE: dict[str, Any] = {
    "counts": {"persons": 600, "vehicles": 1200, "profiles": 600},
    "shares": {
        "state": {"AZ": 0.6, "NV": 0.4},
        "body_style": {"Truck": 0.5, "SUV": 0.5},
        "lob_type": {"Commercial": 1.0},
        "make": {"Ford": 1.0},
    },
    "age": {"min": 21, "max": 70},
    "model_year": {"min": 2015, "max": 2024},
}
PROSE = "600 commercial-line customers, 60% AZ, mostly trucks (around 70%), ages 21 to 70."
PINS = {"person_count": 600, "state_mix": {"AZ": 0.6, "NV": 0.4}}


@pytest.mark.parametrize(
    ("check", "status"),
    [
        (
            Check(
                kind="share",
                field="body_style",
                value="Truck",
                expected=0.7,
                quote="mostly trucks (around 70%)",
            ),
            "verified",
        ),
        (Check(kind="share", field="state", value="AZ", expected=0.6, quote="60% AZ"), "satisfied"),
        (Check(kind="share", field="state", value="AZ", expected=0.6, quote="60% AZ"), "satisfied"),
        (
            Check(kind="count", field="persons", expected=500, quote="600 commercial-line"),
            "advisory",
        ),  # the quote does not mention 500
        (
            Check(kind="count", field="persons", expected=600, quote="600 commercial-line"),
            "satisfied",
        ),
        (Check(kind="range", field="age", min=25, max=70, quote="ages 21 to 70"), "advisory"),
        (Check(kind="range", field="age", min=21, max=65, quote="ages 21 to 70"), "advisory"),
        (
            Check(
                kind="allowed",
                field="body_style",
                allowed=["Truck"],
                quote="mostly trucks (around 70%)",
            ),
            "verified",
        ),
        (
            Check(
                kind="share", field="make", value="Toyota", expected=1.0, quote="only Toyota please"
            ),
            "advisory",
        ),  # not the request's words
        (None, "advisory"),
    ],
)
def test_assess(check: Check | None, status: str) -> None:
    assert assess(check, PROFILE, PROSE, PINS)[0] == status


def test_a_grounded_claim_against_a_pin_is_dismissed() -> None:
    check = Check(kind="share", field="state", value="AZ", expected=0.6, quote="60% AZ")
    status, reason = assess(check, PROFILE, PROSE, {"state_mix": {"AZ": 0.5, "NV": 0.5}})
    assert status == "dismissed" and "pinned state_mix" in reason


def answer(score: float, *findings: dict[str, Any]) -> CriticAnswer:
    return CriticAnswer.model_validate({"score": score, "findings": list(findings)})


TRUCKS = {
    "severity": "major",
    "message": "not enough trucks",
    "check": {
        "kind": "share",
        "field": "body_style",
        "value": "Truck",
        "expected": 0.7,
        "quote": "mostly trucks (around 70%)",
    },
}


def verdict(a: CriticAnswer | None, blocking: list[str]) -> Verdict:
    return derive_verdict(
        "c", a, threshold=0.5, blocking=blocking, profile=PROFILE, prose=PROSE, pinned=PINS
    )


def test_pass_fail_is_derived_not_taken_from_the_model() -> None:
    assert not verdict(answer(0.9, TRUCKS), ["major"]).passed  # verified + blocking
    assert verdict(answer(0.9, TRUCKS), ["critical"]).passed  # verified, not blocking
    assert not verdict(answer(0.2, TRUCKS), ["critical"]).passed  # low score + evidence
    assert verdict(answer(0.0), ["major"]).passed  # low score without evidence
    abstained = verdict(None, ["major"])
    assert abstained.passed and abstained.abstained and abstained.state == "abstained"


UNVERIFIED = {"severity": "critical", "message": "The request is not approved."}


@pytest.mark.parametrize(
    ("a", "blocking", "passed", "state", "reason"),
    [
        (
            answer(0.9, TRUCKS),
            ["major"],
            False,
            "blocking",
            "major finding verified (body_style=Truck: expected 0.700, observed 0.500): "
            "not enough trucks",
        ),
        (
            answer(0.9, TRUCKS),
            ["critical"],
            True,
            "advisory",
            "major finding verified, not of a blocking severity (body_style=Truck: expected "
            "0.700, observed 0.500): not enough trucks",
        ),
        (
            answer(0.2, TRUCKS),
            ["critical"],
            False,
            "blocking",
            "score 0.20 below 0.5, backed by a major finding verified (body_style=Truck: "
            "expected 0.700, observed 0.500): not enough trucks",
        ),
        (answer(0.0), ["major"], True, "advisory", "score 0.00 below 0.5 but no verified finding"),
        (
            answer(0.0, UNVERIFIED),
            ["critical"],
            True,
            "advisory",
            "score 0.00 below 0.5 but no verified finding; critical finding not verified (no "
            "check the framework can verify): The request is not approved.",
        ),
        (answer(0.9), ["major"], True, "pass", "score 0.90 meets 0.5"),
        (None, ["major"], True, "abstained", "no usable answer"),
    ],
)
def test_each_derived_verdict_says_what_it_means(
    a: CriticAnswer | None, blocking: list[str], passed: bool, state: str, reason: str
) -> None:
    """The state is read from the derivation (ADR 0006), never the other way round: only a
    blocking verdict fails, and an advisory one passes with the reason it does not count."""
    v = verdict(a, blocking)
    assert (v.passed, v.state, v.reason) == (passed, state, reason)
    assert v.passed == (v.state != "blocking")
    for f in v.findings:
        assert f.status and f.reason  # every finding says how it was judged, and why
