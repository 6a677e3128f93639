"""Tracking codes (public) and receipts (secret): generation and forgiving parsing."""

from __future__ import annotations

import re
import secrets
from typing import NewType

TrackingCode = NewType("TrackingCode", str)
Receipt = NewType("Receipt", str)

# Crockford base32: no I, L, O, U, so codes read aloud are hard to confuse.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# 10 symbols x 5 bits = 50 random bits: guessing a live code by lookups is hopeless
# at the status page's rate limit.
CODE_SYMBOLS = 10
CODE_GROUPS = (4, 4, 2)
# 20 decimal digits = 66.4 bits, typed on a phone keypad in five groups of four.
RECEIPT_DIGITS = 20
RECEIPT_GROUP = 4

_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.\u2013\u2014]+")


class InvalidIdentifier(ValueError):
    """Text that cannot be a tracking code or receipt."""


def new_tracking_code(prefix: str) -> TrackingCode:
    """A fresh random tracking code such as `SRG-7K3Q-9XMD-2P`."""
    body = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_SYMBOLS))
    return format_tracking_code(prefix, body)


def format_tracking_code(prefix: str, body: str) -> TrackingCode:
    """Group a code body for reading aloud, behind the city prefix."""
    groups, start = [], 0
    for size in CODE_GROUPS:
        groups.append(body[start : start + size])
        start += size
    return TrackingCode("-".join([prefix, *groups]))


def parse_tracking_code(text: str, prefix: str) -> TrackingCode:
    """Canonical form of a typed code: any case, spaces or dashes, O/0 and I/L/1 mixed up.

    The city prefix may be left out. Raises InvalidIdentifier for text that cannot be a code.
    """
    cleaned = _SEPARATORS.sub("", text.strip().upper())
    if len(cleaned) == len(prefix) + CODE_SYMBOLS and cleaned.startswith(prefix):
        cleaned = cleaned[len(prefix) :]
    body = cleaned.translate(_CONFUSABLE)
    if len(body) != CODE_SYMBOLS or any(symbol not in CROCKFORD for symbol in body):
        raise InvalidIdentifier(text)
    return format_tracking_code(prefix, body)


def new_receipt() -> Receipt:
    """A fresh random receipt such as `0412-9931-5820-0071-3388`."""
    digits = "".join(secrets.choice("0123456789") for _ in range(RECEIPT_DIGITS))
    return format_receipt(digits)


def format_receipt(digits: str) -> Receipt:
    """Group receipt digits in fours."""
    return Receipt(
        "-".join(digits[i : i + RECEIPT_GROUP] for i in range(0, len(digits), RECEIPT_GROUP))
    )


def parse_receipt(text: str) -> Receipt:
    """Canonical form of a typed receipt; spaces and dashes are ignored."""
    digits = _SEPARATORS.sub("", text.strip())
    if len(digits) != RECEIPT_DIGITS or not digits.isdigit() or not digits.isascii():
        raise InvalidIdentifier("receipt")
    return format_receipt(digits)
