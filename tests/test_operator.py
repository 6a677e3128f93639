"""Operator mode: staff file a report for a walk-in, phone, SMS or WhatsApp reporter."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import Attachment, AuditEntry, Report
from portal.services import reports
from tests.helpers import VALID_FORM, csrf_token, submit_report
from tests.helpers.evidence import phone_jpeg

URL = "/inspectorate/operator"
CHRONOLOGY = "OPCHRONO66d0: the reporter phoned; a broker asked Rp 200.000 at the MPP."
_CODE = re.compile(r'id="tracking-code">([^<]+)<')
_RECEIPT = re.compile(r'id="receipt">([^<]+)<')
_SUBMISSION = re.compile(r'name="submission"[^>]*value="([^"]*)"')


def form_data(browser, **overrides: str) -> dict:
    found = _SUBMISSION.search(browser.get(URL).get_data(as_text=True))
    assert found, "the form carries a submission mark"
    return {
        **VALID_FORM,
        "chronology": CHRONOLOGY,
        "channel": "phone",
        "csrf_token": csrf_token(browser, URL),
        "submission": found.group(1),
        **overrides,
    }


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)))
        for row in rows:
            db.session.expunge(row)
        return rows


def count_reports(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Report.id))) or 0


@pytest.fixture
def operator(staff_client):
    browser = staff_client("investigator")
    browser.get("/bahasa/en?next=/")
    return browser


def test_operator_files_with_the_channel_and_shows_the_receipt_once(app, operator):
    assert operator.get(URL).status_code == 200
    data = form_data(operator)
    filed = operator.post(URL, data=data)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    text = filed.get_data(as_text=True)
    code, receipt = _CODE.search(text).group(1), _RECEIPT.search(text).group(1)
    assert "shown only once" in text
    assert "Read both aloud" in text  # hand-over advice for the phone channel
    assert filed.headers["Cache-Control"].startswith("no-store")

    with app.app_context():
        report = reports.find(code)
        assert report.channel == "phone"
        assert report.status == "received"
        # The receipt opens the report: it is the reporter's, as if they had filed it.
        opened = reports.open_report(report, reports.key_from_receipt(report, receipt))
        assert opened.content.chronology == CHRONOLOGY

    entries = audit_rows(app, "report.filed_by_operator")
    # Who filed one and how, never which: the code beside the visit's time would name the visitor.
    assert [(entry.target, entry.detail) for entry in entries] == [("", "channel=phone")]
    assert all(code not in entry.detail for entry in entries)
    digits = receipt.replace("-", "")
    assert all(receipt not in entry.detail and digits not in entry.detail for entry in entries)

    # The same form sent again (a reload) files nothing and shows no receipt.
    again = operator.post(URL, data=data)
    assert again.status_code == 409
    assert receipt not in again.get_data(as_text=True)
    assert count_reports(app) == 1

    # The reporter signs in to the inbox with what they were handed.
    reporter = app.test_client()
    signed = reporter.post(
        "/inbox/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/inbox")},
    )
    # The operator saw that receipt: the first sign-in replaces it with one only the
    # reporter sees, and the operator's stops working.
    assert signed.status_code == 200
    page = signed.get_data(as_text=True)
    new = _RECEIPT.search(page).group(1)
    assert new != receipt
    assert CHRONOLOGY in reporter.get("/inbox").get_data(as_text=True)
    for old_or_new, expected in ((receipt, 401), (new, 303)):
        browser = app.test_client()
        response = browser.post(
            "/inbox/masuk",
            data={"code": code, "receipt": old_or_new, "csrf_token": csrf_token(browser, "/inbox")},
        )
        assert response.status_code == expected


def test_someone_who_signs_in_first_with_the_operators_receipt_locks_the_reporter_out(
    app, operator
):
    text = operator.post(URL, data=form_data(operator)).get_data(as_text=True)
    code, receipt = _CODE.search(text).group(1), _RECEIPT.search(text).group(1)
    snoop = app.test_client()
    first = snoop.post(
        "/inbox/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(snoop, "/inbox")},
    )
    assert first.status_code == 200  # a new receipt: the snoop now holds the inbox...
    reporter = app.test_client()
    refused = reporter.post(
        "/inbox/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/inbox")},
    )
    # ...and the reporter, whose receipt no longer works, knows someone used it.
    assert refused.status_code == 401


def test_a_reporter_can_replace_the_receipt_any_time(app, client):
    code, receipt = submit_report(client)
    signed = client.post(
        "/inbox/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(client, "/inbox")},
    )
    assert signed.status_code == 303  # filed online: nobody else saw it, nothing forced
    other = app.test_client()
    assert (
        other.post(
            "/inbox/masuk",
            data={"code": code, "receipt": receipt, "csrf_token": csrf_token(other, "/inbox")},
        ).status_code
        == 303
    )
    replaced = client.post("/inbox/tanda-terima", data={"csrf_token": csrf_token(client, "/inbox")})
    assert replaced.status_code == 200
    new = _RECEIPT.search(replaced.get_data(as_text=True)).group(1)
    assert new != receipt
    # The other browser is signed out; the old receipt is refused; the new one works.
    assert 'name="receipt"' in other.get("/inbox").get_data(as_text=True)
    assert "/inbox/keluar" in client.get("/inbox").get_data(as_text=True)
    for old_or_new, expected in ((receipt, 401), (new, 303)):
        browser = app.test_client()
        response = browser.post(
            "/inbox/masuk",
            data={"code": code, "receipt": old_or_new, "csrf_token": csrf_token(browser, "/inbox")},
        )
        assert response.status_code == expected


def test_each_operator_channel_is_recorded_and_no_other(app, operator):
    for channel in ("", "web", "api", "carrier-pigeon"):
        response = operator.post(URL, data=form_data(operator, channel=channel))
        assert response.status_code == 400, channel
    assert count_reports(app) == 0
    assert audit_rows(app, "report.filed_by_operator") == []
    for channel in ("walk_in", "sms", "whatsapp"):
        filed = operator.post(URL, data=form_data(operator, channel=channel))
        assert filed.status_code == 201
        code = _CODE.search(filed.get_data(as_text=True)).group(1)
        with app.app_context():
            assert reports.find(code).channel == channel
    details = [entry.detail for entry in audit_rows(app, "report.filed_by_operator")]
    assert details == ["channel=walk_in", "channel=sms", "channel=whatsapp"]


def test_operator_report_with_evidence_and_invalid_fields(app, operator):
    bad = operator.post(URL, data=form_data(operator, chronology="too short"))
    assert bad.status_code == 400
    assert count_reports(app) == 0
    data = form_data(operator, channel="walk_in")
    data["evidence"] = [(io.BytesIO(phone_jpeg()), "IMG_0001.jpg")]
    filed = operator.post(URL, data=data, content_type="multipart/form-data")
    assert filed.status_code == 201
    assert "paper" in filed.get_data(as_text=True)  # walk-in hand-over advice
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Attachment.id))) == 1


def test_receipt_is_not_kept_at_rest(app, operator):
    filed = operator.post(URL, data=form_data(operator))
    receipt = _RECEIPT.search(filed.get_data(as_text=True)).group(1)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    folder: Path = app.config["TEST_INSTANCE"].folder
    at_rest = b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())
    assert receipt.encode() not in at_rest
    assert receipt.replace("-", "").encode() not in at_rest
    assert b"OPCHRONO66d0" not in at_rest


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_operator_mode_is_for_handlers(app, staff_client, role):
    browser = staff_client(role)
    expected = 403 if role == "auditor" else 200
    assert browser.get(URL).status_code == expected
    if role == "auditor":
        response = browser.post(
            URL,
            data={
                **VALID_FORM,
                "channel": "phone",
                "csrf_token": csrf_token(browser, "/inspectorate/"),
            },
        )
        assert response.status_code == 403
        assert count_reports(app) == 0
    anonymous = app.test_client().get(URL)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"].endswith("/inspectorate/login")
