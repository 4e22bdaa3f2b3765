"""governance.*: the marker on every row; nothing shaped like real personal data.

A regular expression picks the few suspicious rows of the free-text columns; only those rows
are looked at one by one (Luhn for card numbers, reserved phone and e-mail ranges). Every
shape it looks for needs an '@', 13 digits in a row, or a digit, a separator (space, '-',
'.') and a digit: a pass over each column's bytes finds the rows that have one, and the
regular expression runs on those rows alone (most columns have none at all).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from esdh_agent.core.checker import Checker, ValidationContext, as_mask, scalar
from esdh_agent.core.shapes import string_parts

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


def _maybe_sensitive(values: pa.Array) -> np.ndarray:
    """Rows that could match ``_SENSITIVE`` (a superset: each is then matched for real)."""
    offsets, raw, _valid = string_parts(values)
    base = int(offsets[0]) if len(offsets) else 0
    data = raw[base : offsets[-1]] if len(offsets) else raw[:0]
    digit = np.subtract(data, ord("0"), dtype=np.uint8) <= 9
    at = data == ord("@")
    if np.count_nonzero(digit) < 9 and not at.any():
        return np.zeros(0, dtype=np.int64)
    sep = (data == ord(" ")) | (data == ord("-")) | (data == ord("."))
    signal = at
    signal[:-2] |= digit[:-2] & sep[1:-1] & digit[2:]
    # 13 digits in a row of one value: 12 neighbouring digit pairs, none across two values
    pairs = digit[:-1] & digit[1:]
    inner = offsets[1:-1]
    pairs[inner[(inner > base) & (inner < offsets[-1])] - base - 1] = False
    run = pairs[:-1] & pairs[1:]  # 2 pairs from each start, then 4, 8 and 12
    run = run[:-2] & run[2:]
    eight = run[:-4] & run[4:]
    twelve = eight[:-4] & run[8:]
    signal[: len(twelve)] |= twelve
    starts = np.flatnonzero(signal) + base
    return np.unique(np.searchsorted(offsets, starts, side="right") - 1)


def _suspects(values: pa.Array) -> np.ndarray:
    """Rows whose value matches ``_SENSITIVE`` somewhere."""
    rows = _maybe_sensitive(values)
    if not len(rows):
        return rows
    found = pc.match_substring_regex(values.take(pa.array(rows)), _SENSITIVE)
    matched: np.ndarray = rows[as_mask(found)]
    return matched


def hygiene(checker: Checker, ctx: ValidationContext) -> None:
    """The marker on every row; nothing shaped like real personal data."""
    checker.result.rules.add("governance.sensitive_shape")
    for entity, columns in FREE_TEXT.items():
        if ctx.marker is not None:
            checker.flag(
                "governance.marker",
                entity,
                "synthetic_source",
                pc.not_equal(checker.column(entity, "synthetic_source"), scalar(ctx.marker)),
                f"synthetic_source is not the required marker {ctx.marker!r}",
            )
        texts = [checker.column(entity, c) for c in columns]
        suspect = np.unique(np.concatenate([_suspects(values) for values in texts]))
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
