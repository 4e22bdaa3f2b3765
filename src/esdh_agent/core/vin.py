"""North-American VINs: check digit (position 9) and model-year code (position 10)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "VIN_ALPHABET",
    "YEAR_CODES",
    "check_digits",
    "transliteration_table",
    "year_code",
]

VIN_ALPHABET = b"0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
"""The 33 characters a VIN may use (no I, O or Q)."""

WEIGHTS = np.array([8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)

_LETTER_VALUES = {
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}

YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
"""Position-10 codes of a 30-year cycle starting at 1980 (A) / 2010 (A)."""


def transliteration_table() -> np.ndarray:
    """Byte → numeric value for the check-digit sum; -1 for bytes a VIN cannot contain."""
    table = np.full(256, -1, dtype=np.int64)
    for digit in range(10):
        table[ord(str(digit))] = digit
    for letter, value in _LETTER_VALUES.items():
        table[ord(letter)] = value
    return table


_TABLE = transliteration_table()
_TABLE16 = _TABLE.astype(np.int16)  # small integers: no BLAS threads, exact sums
_WEIGHTS16 = WEIGHTS.astype(np.int16)


def check_digits(chars: np.ndarray) -> np.ndarray:
    """The check-digit byte ('0'-'9' or 'X') for each row of an (n, 17) VIN byte matrix.

    Position 9 is ignored (its weight is 0), so it may hold anything while computing.
    """
    values = _TABLE16[chars]
    remainder = (values * _WEIGHTS16).sum(axis=1, dtype=np.int32) % 11
    return np.where(remainder == 10, ord("X"), remainder + ord("0")).astype(np.uint8)


def year_code(year: int) -> str:
    """The position-10 code of a model year (30-year cycle: 2000 = Y, 2001 = 1, 2010 = A)."""
    return YEAR_CODES[(year - 1980) % 30]
