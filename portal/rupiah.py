"""Amounts in Rupiah as people write them: the one parser every channel and form uses."""

from __future__ import annotations

import re

MAX_AMOUNT = 10_000_000_000  # Rp10 miliar: anything above is a typo
MAX_AMOUNT_CHARS = 30  # digits and separators of an amount; "10.000.000.000" is 14
_MULTIPLIERS = {"rb": 1_000, "ribu": 1_000, "k": 1_000, "jt": 1_000_000, "juta": 1_000_000}
_AMOUNT = re.compile(r"^(-)?\s*(?:rp\.?)?\s*([\d.,\s]+?)\s*(rb|ribu|k|jt|juta)?$")


def parse_rupiah(text: str) -> int | None:
    """Read amounts as people write them: "Rp 150.000", "150rb", "1,5 juta", "200000".

    None for blank text; ValueError for text that is no amount. A leading minus is read
    (and left to the caller's range check) so that "-5000" is told it is negative.
    """
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    match = _AMOUNT.match(cleaned)
    if not match:
        raise ValueError(text)
    sign = -1 if match.group(1) else 1
    number, unit = match.group(2).replace(" ", ""), match.group(3)
    if len(number) > MAX_AMOUNT_CHARS:
        # Far beyond any maximum whatever the unit; float() would overflow on 306+ digits.
        return sign * (MAX_AMOUNT + 1)
    if unit:
        # With a unit, "1,5" and "1.5" are decimals; without one, separators group thousands.
        value = float(number.replace(",", "."))
        return sign * round(value * _MULTIPLIERS[unit])
    digits = number.replace(".", "").replace(",", "")
    if not digits.isdigit():
        raise ValueError(text)
    return sign * int(digits)
