"""API v1 as a client or an attacker sees it, checked against portal/api/openapi.json."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from PIL import ExifTags, Image
from pypdf import PdfReader
from werkzeug.test import TestResponse

from portal import evidence, seed
from portal.api.routes import FILES_PART, REPORT_PART
from portal.config import DefaultConfig
from portal.extensions import db
from portal.identifiers import Receipt, TrackingCode
from portal.models import Attachment, InspectorateKey, Report, Service
from portal.models.base import today as local_today
from portal.services import evidence_store
from portal.services import reports as reports_service
from tests.helpers import VALID_FORM, VALID_JSON, gateway_key, submit_report
from tests.helpers.evidence import (
    MARKER,
    encoded,
    everything_decoded,
    exif_block,
    huge_png,
    leaky_pdf,
    two_colour_image,
)
from tests.helpers.openapi import OPENAPI, deref, resolve, schema_errors

API = "/api/v1"
REPORTS = f"{API}/reports"

TRACKING_CODE = re.compile(
    r"^SRG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$"
)
RECEIPT = re.compile(r"^[0-9]{4}(-[0-9]{4}){4}$")
STATUSES = [
    "received",
    "needs_info",
    "verified",
    "in_progress",
    "referred",
    "resolved",
    "rejected",
]
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Flask route variables that the document names differently. portal/api/routes.py calls the
# tracking code `<code>`; clients see `tracking_code` everywhere else, so the document uses
# that. Remove the entry once the route variable is renamed.

# Enough submissions for the tests that send many bodies to one app, and a small body limit
# so that "too large" needs no megabytes.
MANY_SUBMISSIONS = {"RATELIMIT_REPORT_SUBMIT": "1000 per hour", "MAX_CONTENT_LENGTH": 64 * 1024}
# Every limit at one request, so the second request of any operation gets 429.
LOW_LIMITS = {
    "RATELIMIT_DEFAULT": "1 per minute",
    "RATELIMIT_REPORT_SUBMIT": "1 per hour",
    "RATELIMIT_STATUS_LOOKUP": "1 per minute",
}


# --- the JSON Schema keywords the document uses (a misspelt keyword would be ignored) -------

SCHEMA_ANNOTATIONS = {
    "description",
    "examples",
    "title",
    "default",
    "deprecated",
    "contentMediaType",
}
SCHEMA_ASSERTIONS = {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "pattern",
    "format",
}


def iter_schemas(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """A schema and every schema nested in it (references not followed)."""
    yield where, schema
    for name, child in schema.get("properties", {}).items():
        yield from iter_schemas(child, f"{where}.{name}")
    for keyword in ("items", "additionalProperties"):
        if isinstance(schema.get(keyword), dict):
            yield from iter_schemas(schema[keyword], f"{where}/{keyword}")


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every documented operation."""
    for path, item in OPENAPI["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def operation(operation_id: str) -> tuple[str, str, dict[str, Any]]:
    """The documented operation with this id."""
    for path, method, found in operations():
        if found["operationId"] == operation_id:
            return path, method, found
    raise AssertionError(f"no operation {operation_id}")


def request_schema() -> dict[str, Any]:
    """The documented schema of the createReport body."""
    _, _, found = operation("createReport")
    return found["requestBody"]["content"]["application/json"]["schema"]


def multipart_media() -> dict[str, Any]:
    """The documented multipart/form-data variant of the createReport body."""
    _, _, found = operation("createReport")
    return found["requestBody"]["content"]["multipart/form-data"]


# --- helpers ------------------------------------------------------------------------------


def report_count(app: Flask) -> int:
    """How many reports the database holds."""
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Report)) or 0


def assert_error(
    response: TestResponse, status: int, code: str, field: str | None = None
) -> dict[str, Any]:
    """The response is the documented error shape, naming `field` (alone) when given."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert schema_errors({"$ref": "#/components/schemas/Error"}, body) == []
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    if field is None:
        assert error["fields"] == {}
    else:
        assert set(error["fields"]) == {field}
        assert all(isinstance(text, str) and text for text in error["fields"][field])
    return error


def file_via_api(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    """POST a valid report with overrides; returns the 201 body."""
    response = client.post(REPORTS, json={**VALID_JSON, **overrides})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def today_utc() -> date:
    """The day the portal stamps on reports (the WIB date)."""
    return local_today()


# --- filing a report ----------------------------------------------------------------------


def test_valid_report_is_filed_with_code_and_receipt(app, client):
    response = client.post(REPORTS, json=VALID_JSON)

    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"tracking_code", "receipt", "status"}
    assert TRACKING_CODE.match(body["tracking_code"])
    assert RECEIPT.match(body["receipt"])
    assert body["status"] == "received"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    with app.app_context():
        report = db.session.scalars(db.select(Report)).one()
        assert report.tracking_code == body["tracking_code"]
        assert report.channel == "api"
        assert report.status == "received"
        assert report.amount_demanded_rounded == 150000

    another = client.post(REPORTS, json=VALID_JSON).get_json()
    assert another["tracking_code"] != body["tracking_code"]
    assert another["receipt"] != body["receipt"]
    assert report_count(app) == 2


def test_receipt_and_content_are_not_stored_in_clear(app, client):
    secret = "Kontak rahasia: 0812-0000-1111"
    body = file_via_api(client, contact=secret)
    receipt = body["receipt"]
    needles = [
        receipt,
        receipt.replace("-", ""),
        VALID_JSON["chronology"],
        VALID_JSON["person_description"],
        VALID_JSON["promised"],
        secret,
    ]
    with app.app_context():
        report = db.session.scalars(db.select(Report)).one()
        for column in Report.__table__.columns:
            value = getattr(report, column.key)
            if isinstance(value, str | bytes):
                raw = value.encode() if isinstance(value, str) else value
                for needle in needles:
                    assert needle.encode() not in raw, column.key


def month_ago(pattern: str) -> str:
    """A recent past day, written with a strftime pattern."""
    return (local_today() - timedelta(days=30)).strftime(pattern)


def _accepted_bodies() -> list[tuple[str, dict[str, Any], bool]]:
    """(id, body, whether the document promises it) for reports that must be accepted."""
    _, _, create = operation("createReport")
    examples = create["requestBody"]["content"]["application/json"]["examples"]
    today = local_today()
    optional_left_out = {
        key: value
        for key, value in VALID_JSON.items()
        if key in ("category", "service", "unit", "incident_date", "who_asked", "chronology")
    }
    return [
        *[
            (f"documented example {name}", deref(ex)["value"], True)
            for name, ex in examples.items()
        ],
        ("optional fields left out", optional_left_out, True),
        (
            "optional fields null",
            {
                **VALID_JSON,
                "amount_demanded": None,
                "paid": None,
                "promised": None,
                "person_description": None,
                "contact": None,
            },
            True,
        ),
        (
            "every field at its longest",
            {
                **VALID_JSON,
                "amount_demanded": 10_000_000_000,
                "promised": "p" * 500,
                "person_description": "d" * 2000,
                "chronology": "c" * 10000,
                "contact": "k" * 500,
            },
            True,
        ),
        ("shortest chronology", {**VALID_JSON, "chronology": "c" * 20}, True),
        ("amount zero, not paid", {**VALID_JSON, "amount_demanded": 0, "paid": False}, True),
        ("who asked: officer", {**VALID_JSON, "who_asked": "officer"}, True),
        ("who asked: other", {**VALID_JSON, "who_asked": "other"}, True),
        ("incident today", {**VALID_JSON, "incident_date": today.isoformat()}, True),
        (
            "last catalogue entries",
            {**VALID_JSON, "category": "saran", "service": "lainnya", "unit": "lainnya"},
            True,
        ),
        # Leniency the document mentions but a YYYY-MM-DD validator would refuse.
        ("date as dd/mm/yyyy", {**VALID_JSON, "incident_date": month_ago("%d/%m/%Y")}, False),
        ("date as dd-mm-yyyy", {**VALID_JSON, "incident_date": month_ago("%d-%m-%Y")}, False),
    ]


@pytest.mark.app_config(MANY_SUBMISSIONS)
def test_documented_bodies_are_accepted(app, client, subtests):
    accepted = 0
    for name, body, documented in _accepted_bodies():
        with subtests.test(msg=name):
            if documented:
                assert schema_errors(request_schema(), body) == []
            response = client.post(REPORTS, json=body)
            assert response.status_code == 201, response.get_data(as_text=True)
            accepted += 1
            assert report_count(app) == accepted
    with subtests.test(msg="content type with charset"):
        response = client.post(
            REPORTS, data=json.dumps(VALID_JSON), content_type="application/json; charset=utf-8"
        )
        assert response.status_code == 201
        assert report_count(app) == accepted + 1


# --- bad input ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BadInput:
    """A request createReport must refuse, and how."""

    name: str
    body: Any  # a dict is sent as JSON; str or bytes as they are
    status: int = 400
    code: str = "invalid_report"
    field: str | None = None
    content_type: str | None = "application/json"
    # Whether the documented request schema alone already refuses it (False for rules
    # that depend on data or the clock: catalogue codes, date range, blank text).
    schema_refuses: bool = True


TOO_LARGE = object()  # stands for a JSON report one byte over the app's MAX_CONTENT_LENGTH
REQUIRED = ["category", "service", "unit", "incident_date", "who_asked", "chronology"]
TEXT_FIELDS = [
    "category",
    "service",
    "unit",
    "incident_date",
    "who_asked",
    "promised",
    "person_description",
    "chronology",
    "contact",
]


def _without(field: str) -> dict[str, Any]:
    return {key: value for key, value in VALID_JSON.items() if key != field}


def bad_inputs() -> list[BadInput]:
    """Every kind of bad createReport request."""
    today = local_today()
    return [
        *[BadInput(f"missing {field}", _without(field), field=field) for field in REQUIRED],
        *[
            BadInput(f"null {field}", {**VALID_JSON, field: None}, field=field)
            for field in REQUIRED
        ],
        *[BadInput(f"empty {field}", {**VALID_JSON, field: ""}, field=field) for field in REQUIRED],
        BadInput(
            "blank chronology",
            {**VALID_JSON, "chronology": " " * 30},
            field="chronology",
            schema_refuses=False,
        ),
        BadInput("promised too long", {**VALID_JSON, "promised": "p" * 501}, field="promised"),
        BadInput(
            "person description too long",
            {**VALID_JSON, "person_description": "d" * 2001},
            field="person_description",
        ),
        BadInput(
            "chronology too long", {**VALID_JSON, "chronology": "c" * 10001}, field="chronology"
        ),
        BadInput(
            "chronology too short", {**VALID_JSON, "chronology": "c" * 19}, field="chronology"
        ),
        BadInput("contact too long", {**VALID_JSON, "contact": "k" * 501}, field="contact"),
        BadInput(
            "amount too large",
            {**VALID_JSON, "amount_demanded": 10_000_000_001},
            field="amount_demanded",
        ),
        BadInput("negative amount", {**VALID_JSON, "amount_demanded": -1}, field="amount_demanded"),
        *[
            BadInput(f"number for {field}", {**VALID_JSON, field: 20261014}, field=field)
            for field in TEXT_FIELDS
        ],
        BadInput(
            "list for chronology",
            {**VALID_JSON, "chronology": [VALID_JSON["chronology"]]},
            field="chronology",
        ),
        BadInput("object for contact", {**VALID_JSON, "contact": {"wa": "0812"}}, field="contact"),
        BadInput("bool for promised", {**VALID_JSON, "promised": True}, field="promised"),
        BadInput(
            "string for amount",
            {**VALID_JSON, "amount_demanded": "150000"},
            field="amount_demanded",
        ),
        BadInput(
            "bool for amount", {**VALID_JSON, "amount_demanded": True}, field="amount_demanded"
        ),
        BadInput(
            "fraction for amount",
            {**VALID_JSON, "amount_demanded": 1500.5},
            field="amount_demanded",
        ),
        BadInput("'yes' for paid", {**VALID_JSON, "paid": "yes"}, field="paid"),
        BadInput("number for paid", {**VALID_JSON, "paid": 1}, field="paid"),
        BadInput("unknown field", {**VALID_JSON, "reporter_name": "Budi"}, field="reporter_name"),
        BadInput("honeypot field", {**VALID_JSON, "website": "x"}, field="website"),
        BadInput(
            "unknown category",
            {**VALID_JSON, "category": "korupsi"},
            field="category",
            schema_refuses=False,
        ),
        BadInput(
            "unknown service",
            {**VALID_JSON, "service": "paspor"},
            field="service",
            schema_refuses=False,
        ),
        BadInput(
            "unknown unit", {**VALID_JSON, "unit": "mars"}, field="unit", schema_refuses=False
        ),
        BadInput("unknown who_asked", {**VALID_JSON, "who_asked": "boss"}, field="who_asked"),
        BadInput(
            "impossible date", {**VALID_JSON, "incident_date": "2026-02-30"}, field="incident_date"
        ),
        BadInput("month 13", {**VALID_JSON, "incident_date": "2026-13-01"}, field="incident_date"),
        BadInput(
            "word for date", {**VALID_JSON, "incident_date": "kemarin"}, field="incident_date"
        ),
        BadInput(
            "future date (tomorrow)",
            {**VALID_JSON, "incident_date": (today + timedelta(days=1)).isoformat()},
            field="incident_date",
            schema_refuses=False,
        ),
        BadInput(
            "future date (far)",
            {**VALID_JSON, "incident_date": "2999-01-01"},
            field="incident_date",
            schema_refuses=False,
        ),
        BadInput(
            "date older than ten years",
            {**VALID_JSON, "incident_date": (today - timedelta(days=3651)).isoformat()},
            field="incident_date",
            schema_refuses=False,
        ),
        BadInput("malformed JSON", '{"category": "pungli", ', code="malformed_json"),
        BadInput("empty JSON body", "", code="malformed_json"),
        BadInput("not UTF-8", b"\xff\xfe{\x00", code="malformed_json"),
        BadInput("JSON array", "[]", code="malformed_json"),
        BadInput("JSON array of a report", json.dumps([VALID_JSON]), code="malformed_json"),
        BadInput("JSON string", '"lapor"', code="malformed_json"),
        BadInput("JSON null", "null", code="malformed_json"),
        BadInput(
            "text/plain",
            json.dumps(VALID_JSON),
            status=415,
            code="unsupported_media_type",
            content_type="text/plain",
        ),
        BadInput(
            "no content type",
            json.dumps(VALID_JSON),
            status=415,
            code="unsupported_media_type",
            content_type=None,
        ),
        BadInput(
            "form-encoded",
            VALID_FORM,
            status=415,
            code="unsupported_media_type",
            content_type="application/x-www-form-urlencoded",
        ),
        BadInput(
            "multipart with the form's fields, not a report part",
            VALID_FORM,
            code="malformed_json",
            field="report",
            content_type="multipart/form-data",
        ),
        BadInput(
            "body larger than MAX_CONTENT_LENGTH",
            TOO_LARGE,
            status=413,
            code="request_entity_too_large",
        ),
    ]


def too_large_body(app: Flask) -> str:
    """A valid-looking JSON report one byte over the limit."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit < 1024 * 1024 * 1024, "the test would build a huge body"
    body = json.dumps({**VALID_JSON, "chronology": ""})
    body = json.dumps({**VALID_JSON, "chronology": "c" * (limit + 1 - len(body))})
    assert len(body.encode()) == limit + 1
    return body


def _send(app: Flask, client: FlaskClient, case: BadInput, **headers: str) -> TestResponse:
    if case.body is TOO_LARGE:
        return client.post(
            REPORTS, data=too_large_body(app), content_type="application/json", headers=headers
        )
    if case.content_type == "multipart/form-data":
        headers = {**gateway_headers(app), **headers}
    if case.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return client.post(REPORTS, data=case.body, content_type=case.content_type, headers=headers)
    data = json.dumps(case.body) if isinstance(case.body, dict) else case.body
    if case.content_type is None:
        return client.post(REPORTS, data=data, headers=headers)
    return client.post(REPORTS, data=data, content_type=case.content_type, headers=headers)


@pytest.mark.app_config(MANY_SUBMISSIONS)
def test_bad_input_is_refused_with_the_documented_error(app, client, subtests):
    for case in bad_inputs():
        with subtests.test(msg=case.name):
            response = _send(app, client, case)
            assert_error(response, case.status, case.code, case.field)
            assert report_count(app) == 0
            documented = deref(operation("createReport")[2]["responses"][str(case.status)])
            assert "application/json" in documented["content"]
            if isinstance(case.body, dict) and case.content_type == "application/json":
                refused = schema_errors(request_schema(), case.body) != []
                assert refused == case.schema_refuses, "document and code disagree"


def assert_error_fields(response: TestResponse) -> dict[str, Any]:
    """A 400 invalid_report error, returned for a closer look at its fields."""
    assert response.status_code == 400
    body = response.get_json()
    assert schema_errors({"$ref": "#/components/schemas/Error"}, body) == []
    assert body["error"]["code"] == "invalid_report"
    return body["error"]


def test_errors_name_every_offending_field(app, client):
    body = {**_without("chronology"), "paid": "yes", "amount_demanded": True, "extra": 1}
    error = assert_error_fields(client.post(REPORTS, json=body))
    assert set(error["fields"]) == {"chronology", "paid", "amount_demanded", "extra"}
    assert report_count(app) == 0


def test_error_codes_and_fields_do_not_depend_on_language(app, client):
    body = {**VALID_JSON, "paid": "yes", "incident_date": "2999-01-01"}
    errors = [
        client.post(REPORTS, json=body, headers={"Accept-Language": language}).get_json()["error"]
        for language in ("id", "en")
    ]
    assert errors[0]["code"] == errors[1]["code"] == "invalid_report"
    assert set(errors[0]["fields"]) == set(errors[1]["fields"]) == {"paid", "incident_date"}
    assert report_count(app) == 0


def test_the_form_and_the_api_file_the_same_report(app, client):
    """One intake: the same answers through the HTML form and the JSON API are one report."""
    by_form = submit_report(client)
    by_api = file_via_api(client)
    with app.app_context():
        opened = []
        for code, receipt in (by_form, (by_api["tracking_code"], by_api["receipt"])):
            report = reports_service.find(TrackingCode(code))
            key = reports_service.key_from_receipt(report, Receipt(receipt))
            facts = (
                report.category_code,
                report.service_code,
                report.unit_code,
                report.incident_month,
                report.amount_demanded_rounded,
            )
            opened.append((facts, reports_service.open_report(report, key).content))
    assert opened[0] == opened[1]
    assert opened[0][1].amount_demanded == 150000 and opened[0][1].paid is True


def test_inactive_catalogue_entry_is_refused_and_unlisted(app, client):
    with app.app_context():
        service = db.session.get(Service, "kia")
        assert service is not None
        service.active = False
        db.session.commit()

    listed = [row["code"] for row in client.get(f"{API}/catalog").get_json()["services"]]
    assert "kia" not in listed
    assert_error(
        client.post(REPORTS, json={**VALID_JSON, "service": "kia"}),
        400,
        "invalid_report",
        "service",
    )
    assert report_count(app) == 0


def test_report_before_setup_is_refused(app, client):
    with app.app_context():
        db.session.execute(db.delete(InspectorateKey))
        db.session.commit()
    assert_error(client.post(REPORTS, json=VALID_JSON), 503, "not_initialised")
    assert report_count(app) == 0


@pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "2 per hour"})
def test_submissions_are_rate_limited(app, client):
    file_via_api(client)
    assert client.post(REPORTS, json={"paid": "yes"}).status_code == 400
    assert_error(client.post(REPORTS, json=VALID_JSON), 429, "too_many_requests")
    assert report_count(app) == 1


@pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "1 per hour"})
def test_submission_budget_is_shared_with_the_web_form(app, client):
    submit_report(client)
    assert_error(client.post(REPORTS, json=VALID_JSON), 429, "too_many_requests")
    assert report_count(app) == 1


# Bad input that once got a 500 instead of a 4xx.
def test_deeply_nested_json_is_malformed_not_a_crash(app, client):
    response = client.post(REPORTS, data="[" * 50_000, content_type="application/json")
    assert_error(response, 400, "malformed_json")


def test_unencodable_text_is_refused_not_a_crash(app, client):
    data = json.dumps({**VALID_JSON, "chronology": VALID_JSON["chronology"] + "\ud800"})
    response = client.post(REPORTS, data=data, content_type="application/json")
    assert_error(response, 400, "invalid_report", "chronology")
    assert report_count(app) == 0


# --- filing a report with evidence files (multipart/form-data) -----------------------------

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"/lib64/ld-linux"
CORRUPT_PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
# Small limits, so that "too large" needs no megabytes; room for many submissions. Bodies
# stay under 500 KB, beyond which the test client spools them to a file it never closes.
SMALL_EVIDENCE = {
    "RATELIMIT_REPORT_SUBMIT": "1000 per hour",
    "EVIDENCE_MAX_BYTES": 100 * 1024,
    "MAX_CONTENT_LENGTH": 400 * 1024,
}
ENGLISH = {"Accept-Language": "en"}


def gps_jpeg() -> bytes:
    """An upright phone photo: EXIF with a GPS position and the marker as Artist, a comment."""
    return encoded(
        two_colour_image(size=(64, 32)),
        "JPEG",
        quality=95,
        exif=exif_block(orientation=1),
        comment=MARKER,
    )


def small_file(kind: str) -> tuple[bytes, str]:
    """A small valid evidence file of each accepted kind, with a file name."""
    image = two_colour_image(size=(16, 8))
    if kind == "pdf":
        return leaky_pdf(), "surat.pdf"
    if kind == "text":
        return b"Loket 3, jam 09.00\n", "catatan.txt"
    image_format, name = {
        "jpeg": ("JPEG", "foto.jpg"),
        "png": ("PNG", "layar.png"),
        "webp": ("WEBP", "wa.webp"),
    }[kind]
    return encoded(image, image_format), name


def gateway_headers(app: Flask) -> dict[str, str]:
    """The Authorization header of this app's test gateway (made on first use)."""
    if "TEST_GATEWAY_KEY" not in app.config:
        app.config["TEST_GATEWAY_KEY"] = gateway_key(app)
    return {"Authorization": f"Bearer {app.config['TEST_GATEWAY_KEY']}"}


def file_via_api_response(client: FlaskClient) -> TestResponse:
    """POST the valid JSON report; the response."""
    return client.post(REPORTS, json=VALID_JSON)


def post_multipart(
    client: FlaskClient,
    report: Any = VALID_JSON,
    files: list[tuple[bytes, str]] | tuple[()] = (),
    headers: dict[str, str] | None = None,
    parts: dict[str, Any] | None = None,
) -> TestResponse:
    """POST a multipart report: `report` as a JSON text part (left out when None), each
    file as a part `files`, then `parts` as the test client takes them (they win)."""
    data: dict[str, Any] = {}
    if report is not None:
        data[REPORT_PART] = report if isinstance(report, str) else json.dumps(report)
    data[FILES_PART] = [(io.BytesIO(content), name) for content, name in files]
    data.update(parts or {})
    # Multipart intake is for registered gateways: send as one unless told otherwise.
    headers = {**gateway_headers(client.application), **(headers or {})}
    return client.post(REPORTS, data=data, content_type="multipart/form-data", headers=headers)


def stored(app: Flask) -> tuple[int, int]:
    """How many reports and evidence files the database holds."""
    with app.app_context():
        return (
            db.session.scalar(db.select(db.func.count()).select_from(Report)) or 0,
            db.session.scalar(db.select(db.func.count()).select_from(Attachment)) or 0,
        )


def opened_evidence(app: Flask, code: str, receipt: str) -> list[evidence_store.EvidenceFile]:
    """Every evidence file of a report, decrypted with its receipt as the reporter would."""
    with app.app_context():
        report = reports_service.find(TrackingCode(code))
        assert report is not None
        assert report.channel == "api"
        key = reports_service.key_from_receipt(report, Receipt(receipt))
        opened = [
            evidence_store.open_evidence(report, key, info.id)
            for info in evidence_store.evidence_list(report, key)
        ]
    assert all(found is not None for found in opened)
    return [found for found in opened if found is not None]


def raw_database(app: Flask) -> bytes:
    """The SQLite database file as a thief would copy it."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return (app.config["TEST_INSTANCE"].folder / "portal.db").read_bytes()


# The JSON body limit is far below the evidence: it must not apply to multipart bodies.
@pytest.mark.app_config({"API_JSON_MAX_BYTES": 1024})
def test_multipart_report_stores_evidence_without_metadata(app, client):
    photo, pdf = gps_jpeg(), leaky_pdf()
    # The fixtures really carry what a phone and an office suite write; else this proves nothing.
    with Image.open(io.BytesIO(photo)) as original:
        exif = original.getexif()
        assert exif[ExifTags.Base.Artist] == MARKER
        assert exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert original.size == (64, 32)
    assert PdfReader(io.BytesIO(pdf)).metadata.author == MARKER
    assert len(photo) + len(pdf) > app.config["API_JSON_MAX_BYTES"]

    response = post_multipart(
        client, files=[(photo, "IMG_20261014_Budi.jpg"), (pdf, "laporan Budi.pdf")]
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert schema_errors({"$ref": "#/components/schemas/FiledReport"}, body) == []
    assert body["status"] == "received"
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    assert stored(app) == (1, 2)

    cleaned_photo, cleaned_pdf = opened_evidence(app, body["tracking_code"], body["receipt"])
    assert cleaned_photo.content_type == "image/jpeg"
    assert cleaned_pdf.content_type == "application/pdf"
    for found in (cleaned_photo, cleaned_pdf):
        assert MARKER.encode() not in found.data
        assert "Budi" not in found.name and "IMG" not in found.name and "laporan" not in found.name
    with Image.open(io.BytesIO(cleaned_photo.data)) as image:
        image.load()
        assert image.format == "JPEG"
        assert image.size == (64, 32)
        assert not image.getexif()
        assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "comment", "icc_profile", "xmp"} & set(image.info)
    assert PdfReader(io.BytesIO(cleaned_pdf.data)).metadata is None
    assert MARKER.encode() not in everything_decoded(cleaned_pdf.data)

    raw = raw_database(app)
    assert MARKER.encode() not in raw
    assert b"IMG_20261014" not in raw and b"laporan Budi" not in raw


@pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "1000 per hour"})
def test_multipart_variants_are_accepted(app, client, subtests):
    every_kind = [small_file(kind) for kind in ("jpeg", "png", "webp", "pdf", "text")]
    assert len(every_kind) == DefaultConfig.EVIDENCE_MAX_FILES == app.config["EVIDENCE_MAX_FILES"]
    blob = (io.BytesIO(json.dumps(VALID_JSON).encode()), "blob", "application/json")
    cases: list[tuple[str, Callable[[], TestResponse], list[str]]] = [
        ("no files", lambda: post_multipart(client), []),
        (
            "one file of each kind, as many as allowed",
            lambda: post_multipart(client, files=every_kind),
            [
                "image/jpeg",
                "image/png",
                "image/webp",
                "application/pdf",
                evidence.TEXT_CONTENT_TYPE,
            ],
        ),
        (
            "report as a file part, as browsers send a JSON Blob",
            lambda: post_multipart(
                client, report=None, files=[small_file("png")], parts={REPORT_PART: blob}
            ),
            ["image/png"],
        ),
        (
            "files before the report",
            lambda: client.post(
                REPORTS,
                data={
                    FILES_PART: [(io.BytesIO(small_file("text")[0]), "a.txt")],
                    REPORT_PART: json.dumps(VALID_JSON),
                },
                content_type="multipart/form-data",
                headers=gateway_headers(app),
            ),
            [evidence.TEXT_CONTENT_TYPE],
        ),
        (
            "an empty file input is skipped",
            lambda: post_multipart(client, files=[(b"", ""), small_file("jpeg")]),
            ["image/jpeg"],
        ),
    ]
    for name, send, kinds in cases:
        with subtests.test(msg=name):
            before = stored(app)
            response = send()
            assert response.status_code == 201, response.get_data(as_text=True)
            body = response.get_json()
            found = opened_evidence(app, body["tracking_code"], body["receipt"])
            assert [item.content_type for item in found] == kinds
            assert stored(app) == (before[0] + 1, before[1] + len(kinds))
            documented = {"report": VALID_JSON, "files": ["…"] * len(kinds)}
            assert schema_errors(multipart_media()["schema"], documented) == []


@dataclass(frozen=True)
class BadUpload:
    """A multipart request createReport must refuse without storing anything."""

    name: str
    send: Callable[[FlaskClient], TestResponse]
    status: int = 400
    code: str = "invalid_evidence"
    field: str | None = FILES_PART
    says: str = ""  # words the English message must contain


def bad_uploads() -> list[BadUpload]:
    """Every kind of refused multipart request (limits as in SMALL_EVIDENCE)."""
    photo = small_file("jpeg")
    return [
        BadUpload(
            "ELF program named x.jpg",
            lambda c: post_multipart(c, files=[(ELF, "x.jpg")], headers=ENGLISH),
            says="This file type is not accepted.",
        ),
        BadUpload(
            "one bad file among good ones",
            lambda c: post_multipart(c, files=[photo, photo, (ELF, "x.jpg")], headers=ENGLISH),
            says="This file type is not accepted.",
        ),
        BadUpload(
            "six files when five are allowed",
            lambda c: post_multipart(c, files=[photo] * 6, headers=ENGLISH),
            says="A report can hold at most 5 files.",
        ),
        BadUpload(
            "six files, one of them bad: counted before any is read",
            lambda c: post_multipart(c, files=[photo] * 5 + [(ELF, "x.jpg")], headers=ENGLISH),
            says="A report can hold at most 5 files.",
        ),
        BadUpload(
            "file over EVIDENCE_MAX_BYTES",
            lambda c: post_multipart(
                c, files=[(b"a" * (100 * 1024 + 1), "catatan.txt")], headers=ENGLISH
            ),
            says="This file is too large. Each file may be at most 0.1 MB",
        ),
        BadUpload(
            "pixel bomb: a tiny PNG claiming 20000x20000",
            lambda c: post_multipart(
                c, files=[(huge_png(20_000, 20_000), "peta.png")], headers=ENGLISH
            ),
            says="megapixels",
        ),
        BadUpload(
            "corrupt PDF",
            lambda c: post_multipart(c, files=[(CORRUPT_PDF, "surat.pdf")], headers=ENGLISH),
            says="damaged or incomplete",
        ),
        BadUpload(
            "missing report part",
            lambda c: post_multipart(c, report=None, files=[photo], headers=ENGLISH),
            code="malformed_json",
            field=REPORT_PART,
            says='Send the report as one JSON object in the part "report".',
        ),
        BadUpload(
            "report part twice",
            lambda c: post_multipart(
                c, report=None, parts={REPORT_PART: [json.dumps(VALID_JSON)] * 2}
            ),
            code="malformed_json",
            field=REPORT_PART,
        ),
        BadUpload(
            "report part that is not JSON",
            lambda c: post_multipart(c, report='{"category": "pungli", ', headers=ENGLISH),
            code="malformed_json",
            field=REPORT_PART,
            says='The part "report" is not a JSON object.',
        ),
        BadUpload(
            "report part that is a JSON array",
            lambda c: post_multipart(c, report=json.dumps([VALID_JSON])),
            code="malformed_json",
            field=REPORT_PART,
        ),
        BadUpload(
            "report file part that is not UTF-8",
            lambda c: post_multipart(
                c,
                report=None,
                parts={REPORT_PART: (io.BytesIO(b"\xff\xfe{\x00"), "blob", "application/json")},
            ),
            code="malformed_json",
            field=REPORT_PART,
        ),
        BadUpload(
            "invalid report with a good file: the report is checked first",
            lambda c: post_multipart(c, report={**VALID_JSON, "paid": "yes"}, files=[photo]),
            code="invalid_report",
            field="paid",
        ),
        BadUpload(
            "evidence under another name",
            lambda c: post_multipart(c, parts={"evidence": [(io.BytesIO(photo[0]), "foto.jpg")]}),
            code="invalid_report",
            field="evidence",
        ),
        BadUpload(
            "files part without a file name",
            lambda c: post_multipart(c, parts={FILES_PART: "foto.jpg"}, headers=ENGLISH),
            code="invalid_report",
            field=FILES_PART,
            says="Some fields are missing or invalid.",
        ),
        BadUpload(
            "body over MAX_CONTENT_LENGTH",
            lambda c: post_multipart(c, files=[(b"a" * (400 * 1024), "catatan.txt")]),
            status=413,
            code="request_entity_too_large",
            field=None,
        ),
        BadUpload(
            "report part over MAX_FORM_MEMORY_SIZE",
            lambda c: post_multipart(c, report={**VALID_JSON, "chronology": "c" * 300 * 1024}),
            status=413,
            code="request_entity_too_large",
            field=None,
        ),
    ]


@pytest.mark.app_config(SMALL_EVIDENCE)
def test_bad_uploads_are_refused_and_nothing_is_stored(app, client, subtests):
    assert app.config["MAX_FORM_MEMORY_SIZE"] == 256 * 1024 < 300 * 1024
    assert 300 * 1024 < app.config["MAX_CONTENT_LENGTH"] <= 400 * 1024
    for case in bad_uploads():
        with subtests.test(msg=case.name):
            started = time.perf_counter()
            response = case.send(client)
            assert time.perf_counter() - started < 2  # refusals decode nothing big
            error = assert_error(response, case.status, case.code, case.field)
            assert case.says in error["message"]
            if case.field == FILES_PART and case.code == "invalid_evidence":
                assert error["fields"][FILES_PART] == [error["message"]]
            documented = deref(operation("createReport")[2]["responses"][str(case.status)])
            assert "application/json" in documented["content"]
            assert stored(app) == (0, 0)


def test_multipart_without_boundary_is_malformed(app, client):
    response = client.post(
        REPORTS, data=b"report=x", content_type="multipart/form-data", headers=gateway_headers(app)
    )
    assert_error(response, 400, "malformed_json", REPORT_PART)
    assert stored(app) == (0, 0)


def test_evidence_refusals_speak_the_request_language(app, client):
    english = post_multipart(client, files=[(ELF, "x.jpg")], headers=ENGLISH).get_json()
    indonesian = post_multipart(client, files=[(ELF, "x.jpg")]).get_json()
    assert english["error"]["code"] == indonesian["error"]["code"] == "invalid_evidence"
    assert english["error"]["message"].startswith("This file type is not accepted.")
    assert indonesian["error"]["message"].startswith("Jenis berkas ini tidak diterima.")
    assert stored(app) == (0, 0)


@pytest.mark.app_config({"RATELIMIT_REPORT_SUBMIT": "1 per hour"})
def test_a_gateway_has_its_own_budget_not_the_addresss(app, client):
    file_via_api(client)
    assert_error(file_via_api_response(client), 429, "too_many_requests")
    # The gateway sends from the same address, for many people: its own budget applies.
    key = gateway_key(app, reports_per_hour=1)
    auth = {"Authorization": f"Bearer {key}"}
    assert post_multipart(client, files=[small_file("text")], headers=auth).status_code == 201
    assert_error(
        post_multipart(client, files=[small_file("text")], headers=auth), 429, "too_many_requests"
    )
    assert stored(app) == (2, 1)


@pytest.mark.app_config(SMALL_EVIDENCE)
def test_documented_multipart_examples_are_what_the_portal_answers(app, client):
    examples = deref(operation("createReport")[2]["responses"]["400"])["content"][
        "application/json"
    ]["examples"]
    photo = small_file("jpeg")
    answers = {
        "invalid_evidence": post_multipart(client, files=[(ELF, "x.jpg")], headers=ENGLISH),
        "too_many_files": post_multipart(client, files=[photo] * 6, headers=ENGLISH),
        "malformed_report_part": post_multipart(client, report=None, headers=ENGLISH),
    }
    for name, response in answers.items():
        assert response.get_json() == deref(examples[name])["value"], name
    unsupported = client.post(REPORTS, data=VALID_FORM, headers=ENGLISH)
    documented = resolve("#/components/responses/UnsupportedMediaType")["content"]
    assert unsupported.get_json() == documented["application/json"]["examples"]["not_json"]["value"]


def test_multipart_document_states_the_limits():
    media = multipart_media()
    schema = media["schema"]
    assert set(schema["properties"]) == {REPORT_PART, FILES_PART}
    assert schema["required"] == [REPORT_PART]
    assert schema["additionalProperties"] is False
    assert schema["properties"][REPORT_PART]["$ref"] == "#/components/schemas/NewReport"
    assert media["encoding"][REPORT_PART]["contentType"] == "application/json"
    files = schema["properties"][FILES_PART]
    assert files["maxItems"] == DefaultConfig.EVIDENCE_MAX_FILES == 5
    assert files["items"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "description": files["items"]["description"],
    }
    text = files["description"]
    assert DefaultConfig.EVIDENCE_MAX_BYTES == 10 * 1024 * 1024 and "10 MB" in text
    assert DefaultConfig.EVIDENCE_MAX_PIXELS == 40_000_000 and "40 megapixels" in text
    assert evidence.MAX_PDF_PAGES == 200 and "200 pages" in text
    for words in ("JPEG", "PNG", "WebP", "PDF", "plain text", "EXIF", "GPS", "never kept"):
        assert words in text, words
    assert set(media["encoding"][FILES_PART]["contentType"].split(", ")) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "application/pdf",
        "text/plain",
    }
    assert DefaultConfig.MAX_FORM_MEMORY_SIZE == 256 * 1024
    assert "256 KB" in schema["properties"][REPORT_PART]["description"]
    too_large = resolve("#/components/responses/PayloadTooLarge")["description"]
    assert DefaultConfig.API_JSON_MAX_BYTES == 64 * 1024 and "64 KB" in too_large
    assert DefaultConfig.MAX_CONTENT_LENGTH // (1024 * 1024) == 50 and "50 MB" in too_large
    six = {"report": VALID_JSON, "files": ["…"] * 6}
    assert schema_errors(schema, six) != []
    assert schema_errors(schema, {"files": []}) != []


# --- public status ------------------------------------------------------------------------


def test_status_shows_public_facts_only(app, client):
    secret_contact = "rahasia-kontak-0812"
    filed = file_via_api(client, contact=secret_contact)
    response = client.get(f"{REPORTS}/{filed['tracking_code']}")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {
        "tracking_code",
        "status",
        "category",
        "service",
        "unit",
        "received_on",
        "timeline",
    }
    today = today_utc().isoformat()
    assert body == {
        "tracking_code": filed["tracking_code"],
        "status": "received",
        "category": "pungli",
        "service": "ktp_el",
        "unit": "mpp",
        "received_on": today,
        "timeline": [{"status": "received", "note": "", "at": today}],
    }
    raw = response.get_data(as_text=True) + str(response.headers)
    for private in (
        VALID_JSON["chronology"],
        VALID_JSON["promised"],
        VALID_JSON["person_description"],
        secret_contact,
        filed["receipt"],
        filed["receipt"].replace("-", ""),
        "150000",
        "2026-10-14",
    ):
        assert private not in raw
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers

    code = filed["tracking_code"]
    for typed in (code.lower(), code.replace("-", " "), code.replace("-", "").lower()):
        again = client.get(f"{REPORTS}/{quote(typed)}")
        assert again.status_code == 200, typed
        assert again.get_json() == body


def test_status_lookup_reads_confusable_symbols(app, client, monkeypatch):
    # A code rich in 0 and 1, so that O, I and L stand in for them.
    code = "SRG-01AB-10CD-0Z"
    monkeypatch.setattr(reports_service, "new_tracking_code", lambda prefix: TrackingCode(code))
    assert file_via_api(client)["tracking_code"] == code
    for typed in (
        "srg-01ab-10cd-0z",
        "SRG 01AB 10CD 0Z",
        " srg01ab10cd0z ",
        "01AB-10CD-0Z",
        "SRG-O1AB-1OCD-OZ",
        "srg-oiab-lOcd-oz",
        "SRG.01AB_10CD\u20130Z",
    ):
        response = client.get(f"{REPORTS}/{quote(typed)}")
        assert response.status_code == 200, typed
        assert response.get_json()["tracking_code"] == code


def test_unknown_tracking_code_is_a_json_404(app, client, subtests):
    filed = file_via_api(client)["tracking_code"]
    for typed in (
        "SRG-0000-0000-00",
        filed[:-1] + ("0" if filed[-1] != "0" else "1"),
        "JKT" + filed[3:],
        "SRG-UUUU-UUUU-UU",
        filed + "3",
        "x",
        "' OR 1=1 --",
        "%00",
        "..",
    ):
        with subtests.test(msg=typed):
            response = client.get(f"{REPORTS}/{quote(typed, safe='')}")
            assert_error(response, 404, "not_found")
            assert "Set-Cookie" not in response.headers


@pytest.mark.app_config({"RATELIMIT_STATUS_LOOKUP": "3 per minute"})
def test_status_lookups_are_rate_limited(app, client):
    code = file_via_api(client)["tracking_code"]
    assert client.get(f"{REPORTS}/{code}").status_code == 200
    assert client.get(f"{REPORTS}/SRG-0000-0000-00").status_code == 404
    assert client.get(f"{REPORTS}/{code}").status_code == 200
    assert_error(client.get(f"{REPORTS}/{code}"), 429, "too_many_requests")


@pytest.mark.app_config({"RATELIMIT_STATUS_LOOKUP": "1 per minute"})
def test_lookup_budget_is_shared_with_the_status_page(app, client):
    code = file_via_api(client)["tracking_code"]
    assert client.get(f"/status/{code}").status_code == 200
    assert_error(client.get(f"{REPORTS}/{code}"), 429, "too_many_requests")


# --- catalogue ----------------------------------------------------------------------------


def test_catalog_lists_the_seeded_catalogue(app, client):
    response = client.get(f"{API}/catalog")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"categories", "services", "units"}
    assert [(row["code"], row["name_id"], row["name_en"]) for row in body["categories"]] == [
        (code, name_id, name_en) for code, name_id, name_en in seed.CATEGORIES
    ]
    assert [(row["code"], row["name_id"], row["name_en"]) for row in body["services"]] == [
        (code, name_id, name_en) for code, name_id, name_en, *_ in seed.SERVICES
    ]
    for service in body["services"]:
        assert service["fee_rupiah"] == 0
        assert service["legal_basis"] == "UU 24/2013 Pasal 79A"
    assert [(row["code"], row["kind"]) for row in body["units"]] == [
        (code, kind) for code, _, _, kind in seed.UNITS
    ]


# --- the document -------------------------------------------------------------------------


def test_openapi_is_served_as_the_file(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == OPENAPI


def test_every_api_route_is_documented_with_its_methods(app):
    server = OPENAPI["servers"][0]["url"]
    assert server == API
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        path = re.sub(
            r"<(?:[^<>:]+:)?([^<>]+)>",
            r"{\1}",
            rule.rule[len(server) :],
        )
        methods = {method.lower() for method in rule.methods or ()} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    documented = {
        path: {method for method in item if method in HTTP_METHODS}
        for path, item in OPENAPI["paths"].items()
    }
    assert routes == documented


def test_document_is_structurally_valid_openapi_3_1():
    # The OpenAPI 3.1 meta-schema (fields, parameter locations, response codes, path
    # parameters declared for every template) and JSON Schema 2020-12 for every schema.
    validate(OPENAPI)
    assert OPENAPI["openapi"] == "3.1.0"
    # The meta-schema allows x- extension fields everywhere; this document uses none.
    extensions = [
        f"{where}/{key}"
        for where, node in _walk(OPENAPI)
        if isinstance(node, dict) and "/properties" not in where
        for key in node
        if key.startswith("x-")
    ]
    assert extensions == []
    info = OPENAPI["info"]
    assert info["title"] == "Lapor Pungli API"
    assert info["version"] == "1"
    for words in ("receipt", "never stored", "tracking code", "public", "429", "per hour"):
        assert words in info["description"].lower(), words
    assert OPENAPI["servers"] == [{"url": API, "description": OPENAPI["servers"][0]["description"]}]
    tags = {tag["name"] for tag in OPENAPI.get("tags", [])}
    operation_ids = []
    for path, item in OPENAPI["paths"].items():
        assert path.startswith("/") and (path == "/" or not path.endswith("/"))
        template = set(re.findall(r"\{([^{}]+)\}", path))
        for found in (item[method] for method in item if method in HTTP_METHODS):
            operation_ids.append(found["operationId"])
            assert set(found.get("tags", [])) <= tags
            parameters = [deref(parameter) for parameter in found.get("parameters", [])]
            for parameter in parameters:
                assert "schema" in parameter or "content" in parameter
            in_path = {p["name"] for p in parameters if p["in"] == "path"}
            assert in_path == template, path
            if "requestBody" in found:
                assert deref(found["requestBody"])["content"]
            assert found["responses"]
            for response in found["responses"].values():
                response = deref(response)
                assert isinstance(response["description"], str) and response["description"]
                for media in response.get("content", {}).values():
                    assert "schema" in media
    assert (
        len(operation_ids) == len(set(operation_ids)) == 8
    )  # listPublicationsMoved: the old /cases answering 308


def _walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def test_every_reference_resolves():
    refs = [
        node["$ref"]
        for _, node in _walk(OPENAPI)
        if isinstance(node, dict) and isinstance(node.get("$ref"), str)
    ]
    assert refs
    for ref in refs:
        assert isinstance(resolve(ref), dict), ref


def _all_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, schema in OPENAPI["components"]["schemas"].items():
        yield from iter_schemas(schema, f"#/components/schemas/{name}")
    for where, node in _walk(OPENAPI):
        if isinstance(node, dict) and isinstance(node.get("schema"), dict):
            yield from iter_schemas(node["schema"], f"{where}/schema")


def test_schemas_use_only_keywords_the_tests_check():
    for where, schema in _all_schemas():
        unknown = set(schema) - SCHEMA_ANNOTATIONS - SCHEMA_ASSERTIONS
        assert not unknown, f"{where}: {sorted(unknown)}"


def test_response_objects_list_exactly_their_properties():
    # So that "valid against the schema" means "exactly these keys, each present".
    for _, _, found in operations():
        for response in found["responses"].values():
            for media in deref(response).get("content", {}).values():
                for where, schema in _reachable(media["schema"]):
                    if "properties" in schema:
                        assert set(schema.get("required", [])) == set(schema["properties"]), where
                        assert schema.get("additionalProperties") is False, where


def _reachable(schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> Iterator[Any]:
    for where, nested in iter_schemas(schema, "schema"):
        yield where, nested
        ref = nested.get("$ref")
        if ref and ref not in seen:
            yield from _reachable(resolve(ref), seen | {ref})


def test_status_enum_is_the_lifecycle():
    assert OPENAPI["components"]["schemas"]["Status"]["enum"] == STATUSES
    from portal.models import Status

    assert [status.value for status in Status] == STATUSES


def test_request_schema_limits_match_the_form():
    from portal.citizens import forms
    from portal.services import intake

    properties = resolve("#/components/schemas/NewReport")["properties"]
    assert properties["promised"]["maxLength"] == intake.MAX_PROMISED == 500
    assert properties["person_description"]["maxLength"] == intake.MAX_PERSON == 2000
    assert properties["chronology"]["minLength"] == intake.MIN_CHRONOLOGY == 20
    assert properties["chronology"]["maxLength"] == intake.MAX_CHRONOLOGY == 10000
    assert properties["contact"]["maxLength"] == intake.MAX_CONTACT == 500
    assert properties["amount_demanded"]["minimum"] == 0
    assert properties["amount_demanded"]["maximum"] == intake.MAX_AMOUNT == 10_000_000_000
    assert properties["who_asked"]["enum"] == [choice.value for choice in forms.WHO_ASKED]
    assert set(properties) == {
        "category",
        "service",
        "unit",
        "incident_date",
        "who_asked",
        "amount_demanded",
        "paid",
        "promised",
        "person_description",
        "chronology",
        "contact",
    }


def test_every_example_matches_its_schema():
    checked = 0
    for where, node in _walk(OPENAPI):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("schema"), dict) and isinstance(node.get("examples"), dict):
            for name, example in node["examples"].items():
                errors = schema_errors(node["schema"], deref(example)["value"])
                assert errors == [], f"{where}/examples/{name}: {errors}"
                checked += 1
    for where, schema in _all_schemas():
        for example in schema.get("examples", []):
            assert schema_errors(schema, example) == [], where
            checked += 1
    assert checked >= 20


# --- every documented response, produced for real ----------------------------------------


def _twice(send: Callable[[], TestResponse]) -> TestResponse:
    send()
    return send()


def _without_setup(app: Flask, client: FlaskClient) -> TestResponse:
    with app.app_context():
        db.session.execute(db.delete(InspectorateKey))
        db.session.commit()
    return client.post(REPORTS, json=VALID_JSON)


def _status_of_a_new_report(client: FlaskClient) -> TestResponse:
    code = file_via_api(client)["tracking_code"]
    return client.get(f"{REPORTS}/{code}")


def _cases_with_one_published(app: Flask, client: FlaskClient) -> TestResponse:
    from tests.helpers.publication import publish_case

    publish_case(app)
    return client.get(f"{API}/publications")


Scenario = Callable[[Flask, FlaskClient], TestResponse]
UNKNOWN = f"{REPORTS}/SRG-0000-0000-00"

# The app each group of scenarios runs on; one app per group keeps the file fast.
SCENARIO_GROUPS = {
    "plain": {"MAX_CONTENT_LENGTH": 64 * 1024},
    "low-limits": LOW_LIMITS,
    "before-setup": {},
}

# How to make the portal give each documented response: (group, request).
SCENARIOS: dict[tuple[str, str], tuple[str, Scenario]] = {
    ("createReport", "201"): ("plain", lambda app, c: c.post(REPORTS, json=VALID_JSON)),
    ("createReport", "400"): (
        "plain",
        lambda app, c: c.post(REPORTS, json={**VALID_JSON, "paid": "yes"}),
    ),
    ("createReport", "413"): (
        "plain",
        lambda app, c: c.post(REPORTS, data=too_large_body(app), content_type="application/json"),
    ),
    ("createReport", "401"): (
        "plain",
        lambda app, c: c.post(
            REPORTS, data={REPORT_PART: json.dumps(VALID_JSON)}, content_type="multipart/form-data"
        ),
    ),
    ("createReport", "403"): (
        "plain",
        lambda app, c: c.post(REPORTS, json=VALID_JSON, headers={"Origin": "https://evil.example"}),
    ),
    ("createReport", "415"): ("plain", lambda app, c: c.post(REPORTS, data=VALID_FORM)),
    ("createReport", "429"): (
        "low-limits",
        lambda app, c: _twice(lambda: c.post(REPORTS, json=VALID_JSON)),
    ),
    ("createReport", "503"): ("before-setup", _without_setup),
    ("createReport", "default"): ("plain", lambda app, c: c.put(REPORTS, json=VALID_JSON)),
    ("getReportStatus", "200"): ("plain", lambda app, c: _status_of_a_new_report(c)),
    ("getReportStatus", "404"): ("plain", lambda app, c: c.get(UNKNOWN)),
    ("getReportStatus", "429"): ("low-limits", lambda app, c: _twice(lambda: c.get(UNKNOWN))),
    ("getReportStatus", "default"): ("plain", lambda app, c: c.delete(UNKNOWN)),
    ("listCatalog", "200"): ("plain", lambda app, c: c.get(f"{API}/catalog")),
    ("listCatalog", "429"): ("low-limits", lambda app, c: _twice(lambda: c.get(f"{API}/catalog"))),
    ("listCatalog", "default"): ("plain", lambda app, c: c.post(f"{API}/catalog", json={})),
    ("listPublications", "200"): ("plain", lambda app, c: _cases_with_one_published(app, c)),
    ("listPublications", "400"): ("plain", lambda app, c: c.get(f"{API}/publications?page=0")),
    ("listPublications", "429"): (
        "low-limits",
        lambda app, c: _twice(lambda: c.get(f"{API}/publications")),
    ),
    ("listPublications", "default"): (
        "plain",
        lambda app, c: c.post(f"{API}/publications", json={}),
    ),
    ("listPublicationsMoved", "308"): ("plain", lambda app, c: c.get(f"{API}/cases?page=2")),
    ("getStats", "200"): ("plain", lambda app, c: c.get(f"{API}/stats")),
    ("getStats", "400"): ("plain", lambda app, c: c.get(f"{API}/stats?period=2026-13")),
    ("getStats", "429"): ("low-limits", lambda app, c: _twice(lambda: c.get(f"{API}/stats"))),
    ("getStats", "default"): ("plain", lambda app, c: c.post(f"{API}/stats", json={})),
    ("getStatsCsv", "200"): ("plain", lambda app, c: c.get(f"{API}/stats.csv")),
    ("getStatsCsv", "400"): ("plain", lambda app, c: c.get(f"{API}/stats.csv?period=Q1")),
    ("getStatsCsv", "429"): (
        "low-limits",
        lambda app, c: _twice(lambda: c.get(f"{API}/stats.csv")),
    ),
    ("getStatsCsv", "default"): ("plain", lambda app, c: c.post(f"{API}/stats.csv", json={})),
    ("getOpenApi", "200"): ("plain", lambda app, c: c.get(f"{API}/openapi.json")),
    ("getOpenApi", "429"): (
        "low-limits",
        lambda app, c: _twice(lambda: c.get(f"{API}/openapi.json")),
    ),
    ("getOpenApi", "default"): ("plain", lambda app, c: c.post(f"{API}/openapi.json", json={})),
}


def test_every_documented_response_has_a_scenario():
    documented = {
        (found["operationId"], status)
        for _, _, found in operations()
        for status in found["responses"]
    }
    assert set(SCENARIOS) == documented
    assert {group for group, _ in SCENARIOS.values()} == set(SCENARIO_GROUPS)


@pytest.mark.parametrize(
    "group",
    [
        pytest.param(group, marks=pytest.mark.app_config(config), id=group)
        for group, config in SCENARIO_GROUPS.items()
    ],
)
def test_documented_responses_match_their_schemas(app, client, subtests, group, app_config):
    for path, method, found in operations():
        for status, documented in found["responses"].items():
            scenario_group, scenario = SCENARIOS[(found["operationId"], status)]
            if scenario_group != group:
                continue
            with subtests.test(msg=f"{method.upper()} {path} {status}"):
                response = scenario(app, client)
                if status == "default":
                    assert str(response.status_code) not in found["responses"]
                    assert response.status_code >= 400
                else:
                    assert response.status_code == int(status), response.get_data(as_text=True)
                content = deref(documented)["content"]
                assert response.mimetype in content
                # JSON is checked as JSON; another media type (text/csv) as the text it is.
                body = response.get_json() if response.is_json else response.get_data(as_text=True)
                assert schema_errors(content[response.mimetype]["schema"], body) == []
                assert "no-store" in response.headers["Cache-Control"]
                assert "Set-Cookie" not in response.headers
