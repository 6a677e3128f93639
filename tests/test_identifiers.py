"""Tracking codes and receipts: format, entropy, forgiving parsing, uniqueness."""

import re

import pytest

from portal.identifiers import (
    InvalidIdentifier,
    new_receipt,
    new_tracking_code,
    parse_receipt,
    parse_tracking_code,
)
from tests.helpers import VALID_JSON

# Room for many submissions from one test client.
pytestmark = pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "1000 per hour"})


CODE_FORMAT = re.compile(r"^SRG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$")


def test_tracking_code_format_and_spread():
    codes = {new_tracking_code("SRG") for _ in range(2000)}
    assert len(codes) == 2000
    assert all(CODE_FORMAT.match(code) for code in codes)
    # Every Crockford symbol shows up in random positions: the generator is not biased to a subset.
    symbols = {symbol for code in codes for symbol in code[4:].replace("-", "")}
    assert len(symbols) == 32


@pytest.mark.parametrize(
    "typed",
    [
        "SRG-7K3Q-9XMD-2P",
        "srg-7k3q-9xmd-2p",
        "SRG 7K3Q 9XMD 2P",
        "  srg7k3q9xmd2p ",
        "7K3Q-9XMD-2P",
        "SRG\u20137K3Q\u20139XMD\u20132P",  # en dashes from a chat app
    ],
)
def test_tracking_code_forgiving_forms(typed):
    assert parse_tracking_code(typed, "SRG") == "SRG-7K3Q-9XMD-2P"


def test_tracking_code_confusable_letters():
    assert parse_tracking_code("SRG-OIL0-1ABC-DE", "SRG") == "SRG-0110-1ABC-DE"


@pytest.mark.parametrize(
    "typed", ["", "SRG", "SRG-7K3Q-9XMD", "SRG-7K3Q-9XMD-2PX9", "SRG-7K3Q-9XMD-2U", "<script>"]
)
def test_tracking_code_rejects_non_codes(typed):
    with pytest.raises(InvalidIdentifier):
        parse_tracking_code(typed, "SRG")


def test_receipt_is_twenty_digits_in_groups_of_four():
    receipts = {new_receipt() for _ in range(1000)}
    assert len(receipts) == 1000
    assert all(re.fullmatch(r"\d{4}(-\d{4}){4}", receipt) for receipt in receipts)


def test_receipt_parsing():
    assert parse_receipt(" 1234 5678 9012 3456 7890 ") == "1234-5678-9012-3456-7890"
    for bad in ("1234", "1234-5678-9012-3456-789X", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"):
        with pytest.raises(InvalidIdentifier):
            parse_receipt(bad)


def test_codes_unique_under_many_submissions(client):
    codes = set()
    for _ in range(60):
        response = client.post("/api/v1/reports", json=VALID_JSON)
        assert response.status_code == 201
        codes.add(response.get_json()["tracking_code"])
    assert len(codes) == 60
