"""The onion-service profile: Tor users share one address, so they get budgets of their own."""

from __future__ import annotations

import re

import pytest

from tests.helpers import VALID_JSON

# The port a request arrived on, as gunicorn binds them: Tor forwards to 8001 only.
ONION = "http://127.0.0.1:8001"
LOOPBACK = "http://127.0.0.1:8000"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
PROFILE = {
    "ONION_SERVICE_PORT": 8001,
    "RATELIMIT_REPORT_SUBMIT": "1 per hour",
    "RATELIMIT_ONION_REPORT_SUBMIT": "3 per hour",
    "RATELIMIT_RECEIPT_FAILURES": "1 per hour",
    "RATELIMIT_ONION_RECEIPT_FAILURES": "4 per hour",
}


def file(client, base: str) -> int:
    response = client.post("/api/v1/reports", json=VALID_JSON, base_url=base, environ_base=LOCAL)
    return response.status_code


@pytest.mark.app_config(PROFILE)
def test_tor_users_have_their_own_report_budget(client):
    assert [file(client, ONION) for _ in range(4)] == [201, 201, 201, 429]
    # Something else on the same machine (a local script) keeps its own, smaller budget.
    assert [file(client, LOOPBACK) for _ in range(2)] == [201, 429]


@pytest.mark.app_config(PROFILE)
def test_tor_users_share_a_larger_wrong_receipt_budget_per_code(app, file_report):
    code, receipt = file_report()
    browser = app.test_client()

    def sign_in(value: str, base: str) -> int:
        page = browser.get("/kotak-masuk", base_url=base).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        data = {"code": code, "receipt": value, "csrf_token": token.group(1)}
        response = browser.post("/kotak-masuk/masuk", data=data, base_url=base, environ_base=LOCAL)
        return response.status_code

    wrong = "0000-1111-2222-3333-4444"
    assert [sign_in(wrong, ONION) for _ in range(4)] == [401] * 4
    assert sign_in(receipt, ONION) == 429  # the Tor budget for this code is spent
    assert sign_in(receipt, LOOPBACK) == 303  # which locks no one else out


def test_without_the_profile_nothing_changes(client):
    assert file(client, ONION) == 201
