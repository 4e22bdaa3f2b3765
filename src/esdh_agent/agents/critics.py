"""Critics: LLM critics from templates, the rule-based critic, and how verdicts are derived.

A verdict is never the model's say-so. Pass or fail is derived by the framework:

* A finding can block only if its severity is one the template lists as blocking, and it is
  **verified**: it carries a check the framework can evaluate on the data profile, quotes the
  request's own words for what it expects, does not contradict the slice's pinned
  requirements, and the check fails on the data. Anything else is advice, kept in the
  transcript with the reason it did not block.
* A critic fails when it has a blocking finding, or when its score is below its threshold and
  at least one of its findings was verified.
* An LLM critic that gives no usable answer abstains (recorded); it cannot block.

The rule-based critic refuses whenever the validator found error-level findings.
"""

from __future__ import annotations

import re
from typing import Any

from esdh_agent.agents.models import (
    Check,
    CriticAnswer,
    CriticFinding,
    FindingStatus,
    Verdict,
    VerdictFinding,
)
from esdh_agent.agents.profile import CATEGORICAL, observed_share
from esdh_agent.core.report import ValidationReport

__all__ = ["Check", "CriticAnswer", "CriticFinding", "assess", "derive_verdict", "rules_verdict"]

SHARE_TOLERANCE = 0.02


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def _numbers(text: str) -> set[float]:
    found = set()
    for raw in re.findall(r"\d[\d,]*(?:\.\d+)?", text):
        try:
            found.add(float(raw.replace(",", "")))
        except ValueError:
            continue
    return found


def _mentions(check: Check, quote: str) -> bool:
    """Does the quote state exactly what the check expects (every value and number)?"""
    q = _norm(quote)
    nums = _numbers(quote)
    if check.kind == "share":
        if check.expected is None or not check.value or _norm(check.value) not in q:
            return False
        expected = check.expected
        return expected in nums or round(expected * 100, 2) in nums
    if check.kind == "count":
        return check.expected is not None and float(check.expected) in nums
    if check.kind == "range":
        bounds = [v for v in (check.min, check.max) if v is not None]
        return bool(bounds) and all(float(v) in nums for v in bounds)
    return bool(check.allowed) and all(_norm(v) in q for v in check.allowed or [])


def _pinned_conflict(check: Check, pinned: dict[str, Any]) -> str | None:
    """Why the check contradicts a pinned requirement, if it does."""
    if check.kind == "share" and check.field in ("lob_type", "state") and check.value:
        key = "lob_mix" if check.field == "lob_type" else "state_mix"
        if key in pinned and check.expected is not None:
            pinned_share = float(pinned[key].get(check.value, 0.0))
            expected = check.expected if check.expected <= 1 else check.expected / 100
            if abs(pinned_share - expected) > SHARE_TOLERANCE:
                return f"pinned {key} gives {check.value} {pinned_share:g}"
    if (
        check.kind == "count"
        and check.field == "persons"
        and "person_count" in pinned
        and check.expected is not None
        and int(check.expected) != int(pinned["person_count"])
    ):
        return f"pinned person_count is {pinned['person_count']}"
    if check.kind == "range" and check.field == "age" and "age_bands" in pinned:
        bands = pinned["age_bands"]
        lo, hi = min(b["min_age"] for b in bands), max(b["max_age"] for b in bands)
        if (check.min is not None and check.min != lo) or (
            check.max is not None and check.max != hi
        ):
            return f"pinned age bands span {lo}-{hi}"
    if check.kind == "range" and check.field == "model_year":
        for bound, key in ((check.min, "model_year_min"), (check.max, "model_year_max")):
            if bound is not None and key in pinned and int(bound) != int(pinned[key]):
                return f"pinned {key} is {pinned[key]}"
    return None


def assess(
    check: Check | None, profile: dict[str, Any], prose: str, pinned: dict[str, Any]
) -> tuple[FindingStatus, str]:
    """(status, reason): status is verified, satisfied, dismissed or advisory."""
    if check is None:
        return "advisory", "no check the framework can verify"
    quote = check.quote.strip()
    if len(quote) < 6 or _norm(quote) not in _norm(prose):
        return "advisory", "its quote is not the request's own words"
    if not _mentions(check, quote):
        return "advisory", "its quote does not mention what the check expects"
    conflict = _pinned_conflict(check, pinned)
    if conflict:
        return "dismissed", f"contradicts the slice's pinned requirements ({conflict})"
    if check.kind == "share":
        if check.field not in CATEGORICAL or not check.value or check.expected is None:
            return "advisory", f"cannot check a share of {check.field!r}"
        expected = check.expected if check.expected <= 1 else check.expected / 100
        observed = observed_share(profile, check.field, check.value) or 0.0
        bad = abs(observed - expected) > SHARE_TOLERANCE
        detail = f"{check.field}={check.value}: expected {expected:.3f}, observed {observed:.3f}"
    elif check.kind == "count":
        counts = profile.get("counts", {})
        if check.field not in counts or check.expected is None:
            return "advisory", f"cannot count {check.field!r}"
        bad = int(counts[check.field]) != int(check.expected)
        detail = f"{check.field}: expected {int(check.expected)}, observed {counts[check.field]}"
    elif check.kind == "range":
        observed_range = profile.get(check.field)
        if check.field not in ("age", "model_year") or not observed_range:
            return "advisory", f"cannot check the range of {check.field!r}"
        lo, hi = observed_range.get("min"), observed_range.get("max")
        bad = (check.min is not None and lo is not None and lo < check.min) or (
            check.max is not None and hi is not None and hi > check.max
        )
        detail = f"{check.field}: allowed {check.min}-{check.max}, observed {lo}-{hi}"
    else:
        shares = profile.get("shares", {}).get(check.field)
        if shares is None or not check.allowed:
            return "advisory", f"cannot check the values of {check.field!r}"
        extra = sorted(set(shares) - set(check.allowed))
        bad = bool(extra)
        detail = f"{check.field}: allowed {check.allowed}, also found {extra}"
    return ("verified", detail) if bad else ("satisfied", f"the data meets it ({detail})")


def derive_verdict(
    critic: str,
    answer: CriticAnswer | None,
    *,
    threshold: float,
    blocking: list[str],
    profile: dict[str, Any],
    prose: str,
    pinned: dict[str, Any],
    error: list[str] | None = None,
) -> Verdict:
    """The verdict of an LLM critic, derived from its answer and the data."""
    if answer is None:
        return Verdict(
            critic=critic,
            kind="llm",
            passed=True,
            abstained=True,
            score=None,
            summary="no usable answer; the critic abstains",
            errors=error or [],
            findings=[],
            suggested_changes={},
            threshold=threshold,
        )
    findings = []
    for f in answer.findings:
        status, reason = assess(f.check, profile, prose, pinned)
        findings.append(
            VerdictFinding(
                severity=f.severity,
                field=f.field,
                rule=f.rule,
                message=f.message,
                check=f.check,
                status=status,
                reason=reason,
                blocking=status == "verified" and f.severity in blocking,
            )
        )
    verified = any(f.status == "verified" for f in findings)
    passed = not any(f.blocking for f in findings) and not (answer.score < threshold and verified)
    return Verdict(
        critic=critic,
        kind="llm",
        passed=passed,
        abstained=False,
        score=answer.score,
        summary=answer.summary,
        findings=findings,
        suggested_changes=answer.suggested_changes,
        threshold=threshold,
    )


def rules_verdict(report: ValidationReport) -> Verdict:
    """The rule-based critic: every error-level validation finding blocks."""
    findings = [
        VerdictFinding(
            severity="critical" if f.severity == "error" else "minor",
            field=f.field or "",
            rule=f.rule,
            message=f"{f.message} ({f.count} rows; e.g. {', '.join(f.samples[:2])})",
            check=None,
            status="verified",
            reason="found by the validator",
            blocking=f.severity == "error",
        )
        for f in report.findings
    ]
    errors = report.errors
    return Verdict(
        critic="rules",
        kind="rules",
        passed=errors == 0,
        abstained=False,
        score=1.0 if errors == 0 else 0.0,
        summary="the validator found no error-level findings"
        if errors == 0
        else f"the validator found {errors} error-level finding(s)",
        findings=findings,
        suggested_changes={},
        threshold=1.0,
    )
