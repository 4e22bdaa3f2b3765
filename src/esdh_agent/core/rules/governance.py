"""governance.*: the marker on every row; nothing shaped like real personal data.

A regular expression picks the few suspicious rows over all free-text columns at once; only
those rows are looked at one by one (Luhn for card numbers, reserved phone and e-mail ranges).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext, as_mask
from esdh_agent.core.rules.common import flat_column

__all__ = ["FREE_TEXT", "RESERVED_EMAIL_DOMAINS", "hygiene"]

FREE_TEXT = {
    "persons": (
        "first_name",
        "last_name",
        "driver_license_number",
        "address_line_1",
        "address_line_2",
        "city",
    ),
    "vehicles": ("make", "model"),
    "profiles": ("full_name", "city", "vehicle_summary"),
}
_SENSITIVE = (
    r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -]"
    r"[0-9]{4}[ -][0-9]{4}|\(?[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}|@"
)
_SSN = re.compile(r"(?<![0-9])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![0-9])")
_CARD = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_PHONE = re.compile(r"\(?([0-9]{3})\)?[ .-]([0-9]{3})[ .-]([0-9]{4})")
_EMAIL = re.compile(r"[^@\s]+@([^@\s]+\.[A-Za-z]{2,})")
RESERVED_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _sensitive_kind(text: str) -> str | None:
    """What a suspicious string looks like: 'SSN', 'card number', 'phone', 'e-mail' or None."""
    if _SSN.search(text):
        return "SSN"
    for match in _CARD.finditer(text):
        if _luhn(re.sub(r"[ -]", "", match.group())):
            return "card number"
    for match in _PHONE.finditer(text):
        if not (match.group(2) == "555" and "0100" <= match.group(3) <= "0199"):
            return "phone number"
    for match in _EMAIL.finditer(text):
        if match.group(1).lower() not in RESERVED_EMAIL_DOMAINS:
            return "e-mail address"
    return None


def hygiene(checker: Checker, ctx: ValidationContext) -> None:
    """The marker on every row; nothing shaped like real personal data."""
    checker.result.rules.add("governance.sensitive_shape")
    for entity, columns in FREE_TEXT.items():
        table = checker.block[entity]
        if ctx.marker is not None:
            checker.flag(
                "governance.marker",
                entity,
                "synthetic_source",
                pc.not_equal(table.column("synthetic_source"), ctx.marker),
                f"synthetic_source is not the required marker {ctx.marker!r}",
            )
        texts = [flat_column(checker, entity, c) for c in columns]
        combined = pc.binary_join_element_wise(*texts, "\x1f", null_handling="replace")
        suspect = np.flatnonzero(as_mask(pc.match_substring_regex(combined, _SENSITIVE)))
        if not len(suspect):
            continue
        rows = pa.array(suspect)
        for column, values in zip(columns, texts, strict=True):
            by_kind: dict[str, list[int]] = {}
            for row, text in zip(suspect, values.take(rows).to_pylist(), strict=True):
                kind = _sensitive_kind(text or "")
                if kind:
                    by_kind.setdefault(kind, []).append(int(row))
            for kind, bad_rows in by_kind.items():
                mask = np.zeros(len(values), dtype=bool)
                mask[bad_rows] = True
                checker.flag(
                    "governance.sensitive_shape",
                    entity,
                    column,
                    mask,
                    f"value is shaped like a real {kind}",
                )
