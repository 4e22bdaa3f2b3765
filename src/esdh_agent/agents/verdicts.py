"""What a verdict means, in the same words on every surface: its state, its reason, and its
summary as one line (ADR 0006 decides ``passed``; this module explains it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, cast

__all__ = [
    "SUMMARY_LIMIT",
    "UNUSABLE",
    "VERDICT_STATES",
    "VerdictState",
    "one_line",
    "summary_line",
    "usable_summary",
    "verdict_reason",
    "verdict_state",
]

VerdictState = Literal["blocking", "pass", "advisory", "abstained"]
"""What a verdict means, in the same words on every surface (ADR 0006 decides ``passed``):
``blocking`` failed on verified evidence; ``pass`` passed with nothing unmet; ``advisory`` an
LLM critic passed, yet its low score or findings could not be verified (or do not block), so
they do not count; ``abstained`` no usable answer (invalid after re-asks, refused, errors)."""
VERDICT_STATES: tuple[VerdictState, ...] = ("blocking", "pass", "advisory", "abstained")

SUMMARY_LIMIT = 160
"""The longest summary or reason line any surface shows (longer ones end in "…")."""
UNUSABLE = "unusable answer"
_WORD = re.compile(r"[^\W\d_]{2,}")
_HEADING = re.compile(r"\b[A-Z]{2,}(?: [A-Z]{2,})+:")


def one_line(text: object, limit: int = SUMMARY_LIMIT) -> str:
    """``text`` with its whitespace collapsed, at most ``limit`` characters (ending in …)."""
    line = " ".join(str("" if text is None else text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def usable_summary(text: object) -> bool:
    """Is a model's summary readable prose? Not when, on one line, it has fewer than two words
    of two or more letters (``"{"``, ``"1.5"``, ``"SHOWN"``), starts with ``{`` ``[`` ``<``
    (JSON or markup), is less than half letters, ends in an open ``{`` ``[`` or a colon (trails
    off into the prompt), or echoes a prompt heading (upper-case words and a colon:
    ``SAMPLE OF DATA:``)."""
    line = one_line(text, limit=10_000)
    visible = line.replace(" ", "")
    return not (
        len(_WORD.findall(line)) < 2
        or line[0] in "{[<"
        or 2 * sum(c.isalpha() for c in visible) < len(visible)
        or line[-1] in "{[:"
        or _HEADING.search(line)
    )


def summary_line(text: object, limit: int = SUMMARY_LIMIT) -> str:
    """A model's summary as every surface shows it: one bounded line, or ``unusable answer``."""
    return one_line(text, limit) if usable_summary(text) else UNUSABLE


def verdict_state(verdict: Mapping[str, Any]) -> VerdictState:
    """The state of any verdict-shaped JSON (verdict, transcript event, provenance, brief)."""
    return _explain(verdict)[0]


def verdict_reason(verdict: Mapping[str, Any]) -> str:
    """Why it has that state: the verified finding, why advice does not count, why abstained."""
    return _explain(verdict)[1]


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _more(items: list[Any]) -> str:
    return f" (+{len(items) - 1} more)" if len(items) > 1 else ""


def _what(f: Mapping[str, Any], label: str) -> str:
    return f"{f.get('severity')} finding {label} ({f.get('reason')}): {f.get('message')}"


def _explain(v: Mapping[str, Any]) -> tuple[VerdictState, str]:
    """The one definition of a verdict's state and reason, from any verdict-shaped JSON."""
    state = "abstained" if v.get("abstained") else None if v.get("passed") else "blocking"
    recorded, why = v.get("state"), v.get("reason")
    if (  # a brief keeps the state and reason but not every fact behind them
        isinstance(why, str)
        and ("threshold" not in v or (state == "abstained" and "errors" not in v))
        and recorded in VERDICT_STATES
        and (recorded == state or (state is None and recorded in ("pass", "advisory")))
    ):
        return cast(VerdictState, recorded), one_line(why)
    findings = [f for f in v.get("findings") or [] if isinstance(f, Mapping)]
    if state == "abstained":
        errors = [str(e) for e in v.get("errors") or []] or [""]
        head = "" if errors[0].startswith("the model refused") else "no usable answer: "
        return "abstained", one_line((head + errors[0]).rstrip(": ") + _more(errors))
    score, threshold = _number(v.get("score")), _number(v.get("threshold"))
    low = score is not None and threshold is not None and score < threshold
    verified = [f for f in findings if f.get("status") == "verified"]
    if state == "blocking":
        blocking = [f for f in findings if f.get("blocking")]
        if blocking:
            return "blocking", one_line(_what(blocking[0], "verified") + _more(blocking))
        if low and verified:
            why = f"score {score:.2f} below {threshold:g}, backed by a "
            return "blocking", one_line(why + _what(verified[0], "verified"))
        briefed = [str(m) for m in v.get("blocking") or []] or ["the critic failed"]
        return "blocking", one_line(f"verified finding: {briefed[0]}" + _more(briefed))
    if v.get("critic") == "request":
        advisory = f"; {len(findings)} part(s) not honoured, shown as advice" if findings else ""
        return "pass", one_line(f"{v.get('summary') or 'every requirement met'}{advisory}")
    if v.get("kind", "rules" if v.get("critic") == "rules" else "llm") == "rules":
        minor = f"; {len(findings)} finding(s) below error level" if findings else ""
        return "pass", "no error-level validation findings" + minor
    notes = [f"score {score:.2f} below {threshold:g} but no verified finding"] if low else []
    unmet = [f for f in findings if f.get("severity") != "info" and f.get("status") != "satisfied"]
    if unmet:
        status = unmet[0].get("status")
        label = {"verified": "verified, not of a blocking severity", "dismissed": "dismissed"}
        notes.append(_what(unmet[0], label.get(str(status), "not verified")) + _more(unmet))
    if notes:
        return "advisory", one_line("; ".join(notes))
    met = sum(f.get("status") == "satisfied" for f in findings)
    why = "no unmet finding" if score is None else f"score {score:.2f}"
    why += f" meets {threshold:g}" if score is not None and threshold is not None else ""
    return "pass", why + (f"; {met} check(s) met by the data" if met else "")
