"""CSV cells that a spreadsheet shows as text and never runs as a formula."""

from __future__ import annotations

from typing import Any

# Spreadsheets run cells starting with these as formulas (OWASP "CSV injection"). Some
# values come from people the reader does not control: an email typed at a failed
# login, a unit name an admin set, so such cells get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def cell(value: Any) -> Any:
    """`value` unchanged unless it is text a spreadsheet would run; then quoted with '."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
