"""VIN check digits and model-year codes against published examples."""

from __future__ import annotations

import numpy as np
import pytest

from esdh_agent.core.vin import check_digits, year_code


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9AXKP042788",  # the classic check-digit example (remainder 10 -> X)
        "11111111111111111",
        "1HGCM82633A004352",
    ],
)
def test_check_digit_of_known_valid_vins(vin: str) -> None:
    chars = np.frombuffer(vin.encode(), dtype=np.uint8).reshape(1, 17)
    assert chr(check_digits(chars)[0]) == vin[8]


def test_check_digit_detects_a_changed_character() -> None:
    vin = bytearray(b"1M8GDM9AXKP042788")
    vin[12] = ord("5")
    chars = np.frombuffer(bytes(vin), dtype=np.uint8).reshape(1, 17)
    assert chr(check_digits(chars)[0]) != "X"


@pytest.mark.parametrize(
    ("year", "code"),
    [
        (2000, "Y"),
        (2001, "1"),
        (2009, "9"),
        (2010, "A"),
        (2017, "H"),
        (2018, "J"),
        (2021, "M"),
        (2023, "P"),
        (2024, "R"),
        (2025, "S"),
        (1999, "X"),
    ],
)
def test_model_year_codes(year: int, code: str) -> None:
    assert year_code(year) == code
