"""Trusted intake gateways: admin-made API keys, shown once, stored hashed, revocable, audited."""

from __future__ import annotations

import io
import json
import re

import pytest

from portal.extensions import db
from portal.models import ApiKey, AuditEntry, Report
from tests.helpers import VALID_JSON, csrf_token, gateway_key

REPORTS = "/api/v1/reports"
KEYS = "/inspectorate/admin/api-keys"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def multipart(client, key: str | None = None, **headers: str):
    data = {"report": json.dumps(VALID_JSON), "files": [(io.BytesIO(b"bukti calo"), "a.txt")]}
    return client.post(
        REPORTS,
        data=data,
        content_type="multipart/form-data",
        headers={**(bearer(key) if key else {}), **headers},
    )


def channels(app) -> list[str]:
    with app.app_context():
        return [str(c) for c in db.session.scalars(db.select(Report.channel).order_by(Report.id))]


def make_key_on_the_page(admin, name: str = "SMS gateway Telkomsel", channel: str = "sms") -> str:
    token = csrf_token(admin, KEYS)
    page = admin.post(
        KEYS, data={"csrf_token": token, "name": name, "channel": channel, "reports_per_hour": "50"}
    )
    assert page.status_code == 201, page.get_data(as_text=True)
    found = re.search(r'id="api-key">([^<]+)<', page.get_data(as_text=True))
    assert found
    return found.group(1)


def test_an_admin_makes_a_key_shown_once_and_stored_only_as_a_hash(app, staff_client):
    admin = staff_client("admin")
    key = make_key_on_the_page(admin)
    assert key.startswith("lpk_") and len(key) >= 40
    listing = admin.get(KEYS).get_data(as_text=True)
    assert key not in listing  # never shown again
    assert key[:10] in listing  # its start tells keys apart
    with app.app_context():
        row = db.session.scalars(db.select(ApiKey)).one()
        assert key not in (row.key_hash, row.prefix)
        assert row.channel == "sms" and row.reports_per_hour == 50
        actions = [e.action for e in db.session.scalars(db.select(AuditEntry))]
        assert "api_key.created" in actions
    raw = (app.config["TEST_INSTANCE"].folder / "portal.db").read_bytes()
    assert key.encode() not in raw


def test_a_gateways_reports_carry_its_channel(app, client):
    sms, whatsapp = gateway_key(app, "sms"), gateway_key(app, "whatsapp")
    assert client.post(REPORTS, json=VALID_JSON, headers=bearer(sms)).status_code == 201
    assert multipart(client, whatsapp).status_code == 201
    assert client.post(REPORTS, json=VALID_JSON).status_code == 201
    assert channels(app) == ["sms", "whatsapp", "api"]
    with app.app_context():
        used = db.session.scalars(db.select(ApiKey.last_used_on)).all()
        assert all(day is not None for day in used)


def test_revoked_and_unknown_keys_are_401_and_file_nothing(app, client, staff_client):
    admin = staff_client("admin")
    key = make_key_on_the_page(admin)
    assert client.post(REPORTS, json=VALID_JSON, headers=bearer(key)).status_code == 201
    with app.app_context():
        key_id = db.session.scalars(db.select(ApiKey.id)).one()
    token = csrf_token(admin, KEYS)
    revoked = admin.post(f"{KEYS}/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    for headers in (
        bearer(key),
        bearer("lpk_" + "x" * 43),
        bearer("nonsense"),
        {"Authorization": "x"},
    ):
        response = client.post(REPORTS, json=VALID_JSON, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "invalid_api_key"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert channels(app) == ["sms"]
    with app.app_context():
        actions = [e.action for e in db.session.scalars(db.select(AuditEntry))]
        assert "api_key.revoked" in actions
    assert admin.post(f"{KEYS}/999999/revoke", data={"csrf_token": token}).status_code == 404


def test_multipart_needs_a_key(app, client):
    refused = multipart(client)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "api_key_required"
    assert channels(app) == []
    assert multipart(client, gateway_key(app)).status_code == 201


def test_a_key_may_file_from_another_site(app, client):
    key = gateway_key(app, "api")
    cross = {"Origin": "https://mitra.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post(REPORTS, json=VALID_JSON, headers=cross).status_code == 403
    assert (
        client.post(REPORTS, json=VALID_JSON, headers={**cross, **bearer(key)}).status_code == 201
    )


@pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "2 per hour"})
def test_each_gateway_has_its_own_budget_and_leaves_the_addresss_alone(app, client):
    """Every gateway and its many reporters arrive from one address: no shared budget."""
    first, second = gateway_key(app, "sms", 3), gateway_key(app, "whatsapp", 1)
    answers = [
        client.post(REPORTS, json=VALID_JSON, headers=bearer(first)).status_code for _ in range(4)
    ]
    assert answers == [201, 201, 201, 429]
    assert client.post(REPORTS, json=VALID_JSON, headers=bearer(second)).status_code == 201
    assert client.post(REPORTS, json=VALID_JSON, headers=bearer(second)).status_code == 429
    # The address's own budget for keyless reports is untouched.
    assert client.post(REPORTS, json=VALID_JSON).status_code == 201
    assert client.post(REPORTS, json=VALID_JSON).status_code == 201
    assert client.post(REPORTS, json=VALID_JSON).status_code == 429


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "", "channel": "sms", "reports_per_hour": "10"},
        {"name": "x", "channel": "walk_in", "reports_per_hour": "10"},
        {"name": "x", "channel": "sms", "reports_per_hour": "0"},
        {"name": "x", "channel": "sms", "reports_per_hour": "9" * 400},
        {"name": "x" * 81, "channel": "sms", "reports_per_hour": "10"},
    ],
)
def test_bad_key_forms_are_400_and_make_nothing(app, staff_client, fields):
    admin = staff_client("admin")
    response = admin.post(KEYS, data={"csrf_token": csrf_token(admin, KEYS), **fields})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalars(db.select(ApiKey)).all() == []


def test_the_openapi_document_describes_keys():
    from portal.api.routes import OPENAPI_FILE

    document = json.loads(OPENAPI_FILE.read_text())
    operation = document["paths"]["/reports"]["post"]
    assert {"gatewayKey": []} in operation["security"] and {} in operation["security"]
    assert document["components"]["securitySchemes"]["gatewayKey"]["scheme"] == "bearer"
    assert {"401", "403"} <= set(operation["responses"])
