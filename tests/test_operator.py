"""Operator mode: staff file a report for a walk-in, phone, SMS or WhatsApp reporter."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import DateTime

from portal.extensions import db
from portal.models import (
    Attachment,
    AuditEntry,
    OperatorFiling,
    Report,
    Service,
    Staff,
    StatusChange,
    UsedSubmission,
)
from portal.models.base import LOCAL_TIMEZONE, moved_clock, today
from portal.services import reports
from tests.helpers import VALID_FORM, VALID_JSON, csrf_token, review_report, submit_report
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


def all_audit_rows(app) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def tallies(app) -> list[tuple[str, str, int]]:
    """(member's e-mail, channel, count) of every day's filings not audited yet."""
    with app.app_context():
        rows = db.session.execute(
            db.select(Staff.email, OperatorFiling.channel, OperatorFiling.count)
            .join(Staff, Staff.id == OperatorFiling.staff_id)
            .order_by(OperatorFiling.channel)
        )
        return [tuple(row) for row in rows]


def next_local_morning() -> datetime:
    """00:07 WIB tomorrow, in UTC: when the first sweep after midnight runs."""
    tomorrow = today() + timedelta(days=1)
    morning = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 0, 7, tzinfo=LOCAL_TIMEZONE)
    return morning.astimezone(UTC)


def sweep_tomorrow(app) -> str:
    """Run the sweep timer's command as it runs just after midnight; returns its output."""
    morning = next_local_morning()
    with moved_clock(lambda: morning):
        result = app.test_cli_runner().invoke(args=["sessions", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict:
    """Config overrides for the app fixture, given by indirect parametrisation."""
    return dict(getattr(request, "param", {}))


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

    # Nothing in the audit log at the time of the visit: only a count of the day's filings.
    assert audit_rows(app, "report.filed_by_operator") == []
    [(operator_email, channel, count)] = tallies(app)
    assert (channel, count) == ("phone", 1)

    # The same form sent again (a reload) files nothing and shows no receipt.
    again = operator.post(URL, data=data)
    assert again.status_code == 409
    assert receipt not in again.get_data(as_text=True)
    assert count_reports(app) == 1

    # The reporter signs in to the inbox with what they were handed.
    reporter = app.test_client()
    signed = reporter.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/kotak-masuk")},
    )
    # The operator saw that receipt: the first sign-in replaces it with one only the
    # reporter sees, and the operator's stops working.
    assert signed.status_code == 200
    page = signed.get_data(as_text=True)
    new = _RECEIPT.search(page).group(1)
    assert new != receipt
    assert CHRONOLOGY in reporter.get("/kotak-masuk").get_data(as_text=True)
    for old_or_new, expected in ((receipt, 401), (new, 303)):
        browser = app.test_client()
        response = browser.post(
            "/kotak-masuk/masuk",
            data={
                "code": code,
                "receipt": old_or_new,
                "csrf_token": csrf_token(browser, "/kotak-masuk"),
            },
        )
        assert response.status_code == expected

    # After midnight the sweep timer writes one entry for the day: who, how many, which
    # day; never which report, never a time of the visit.
    assert "1 member-day" in sweep_tomorrow(app)
    [entry] = audit_rows(app, "report.filed_by_operator")
    assert (entry.actor, entry.target, entry.detail) == (
        operator_email,
        today().isoformat(),
        "phone=1",
    )
    stamped = entry.at.replace(tzinfo=UTC)
    assert stamped >= next_local_morning()  # written after the day ended, whatever the visit's time
    for text in (code, code.replace("-", ""), receipt, receipt.replace("-", "")):
        assert all(text not in f"{row.target} {row.detail}" for row in all_audit_rows(app))
    assert tallies(app) == []
    assert "0 member-day" in sweep_tomorrow(app)  # audited once
    assert len(audit_rows(app, "report.filed_by_operator")) == 1


def test_someone_who_signs_in_first_with_the_operators_receipt_locks_the_reporter_out(
    app, operator
):
    text = operator.post(URL, data=form_data(operator)).get_data(as_text=True)
    code, receipt = _CODE.search(text).group(1), _RECEIPT.search(text).group(1)
    snoop = app.test_client()
    first = snoop.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(snoop, "/kotak-masuk")},
    )
    assert first.status_code == 200  # a new receipt: the snoop now holds the inbox...
    reporter = app.test_client()
    refused = reporter.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(reporter, "/kotak-masuk")},
    )
    # ...and the reporter, whose receipt no longer works, knows someone used it.
    assert refused.status_code == 401


def test_a_reporter_can_replace_the_receipt_any_time(app, client):
    code, receipt = submit_report(client)
    signed = client.post(
        "/kotak-masuk/masuk",
        data={"code": code, "receipt": receipt, "csrf_token": csrf_token(client, "/kotak-masuk")},
    )
    assert signed.status_code == 303  # filed online: nobody else saw it, nothing forced
    other = app.test_client()
    assert (
        other.post(
            "/kotak-masuk/masuk",
            data={
                "code": code,
                "receipt": receipt,
                "csrf_token": csrf_token(other, "/kotak-masuk"),
            },
        ).status_code
        == 303
    )
    replaced = client.post(
        "/kotak-masuk/tanda-terima", data={"csrf_token": csrf_token(client, "/kotak-masuk")}
    )
    assert replaced.status_code == 200
    new = _RECEIPT.search(replaced.get_data(as_text=True)).group(1)
    assert new != receipt
    # The other browser is signed out; the old receipt is refused; the new one works.
    assert 'name="receipt"' in other.get("/kotak-masuk").get_data(as_text=True)
    assert "/kotak-masuk/keluar" in client.get("/kotak-masuk").get_data(as_text=True)
    for old_or_new, expected in ((receipt, 401), (new, 303)):
        browser = app.test_client()
        response = browser.post(
            "/kotak-masuk/masuk",
            data={
                "code": code,
                "receipt": old_or_new,
                "csrf_token": csrf_token(browser, "/kotak-masuk"),
            },
        )
        assert response.status_code == expected


def test_each_operator_channel_is_recorded_and_no_other(app, operator):
    for channel in ("", "web", "api", "carrier-pigeon"):
        response = operator.post(URL, data=form_data(operator, channel=channel))
        assert response.status_code == 400, channel
    assert count_reports(app) == 0
    assert audit_rows(app, "report.filed_by_operator") == []
    assert tallies(app) == []
    for channel in ("walk_in", "sms", "whatsapp", "walk_in"):
        filed = operator.post(URL, data=form_data(operator, channel=channel))
        assert filed.status_code == 201
        code = _CODE.search(filed.get_data(as_text=True)).group(1)
        with app.app_context():
            assert reports.find(code).channel == channel
    assert [(channel, count) for _email, channel, count in tallies(app)] == [
        ("sms", 1),
        ("walk_in", 2),
        ("whatsapp", 1),
    ]
    sweep_tomorrow(app)
    details = [entry.detail for entry in audit_rows(app, "report.filed_by_operator")]
    assert details == ["sms=1 walk_in=2 whatsapp=1"]


def test_two_operators_get_an_entry_each_and_todays_filings_wait(app, staff_client, operator):
    other = staff_client("admin")
    for browser in (operator, other):
        assert browser.post(URL, data=form_data(browser, channel="walk_in")).status_code == 201
    with app.app_context():  # the timer runs today: nothing to audit yet
        assert app.test_cli_runner().invoke(args=["sessions", "sweep"]).exit_code == 0
    assert audit_rows(app, "report.filed_by_operator") == []
    sweep_tomorrow(app)
    entries = audit_rows(app, "report.filed_by_operator")
    assert sorted(entry.detail for entry in entries) == ["walk_in=1", "walk_in=1"]
    assert len({entry.actor for entry in entries}) == 2


def test_what_an_operator_filed_report_keeps_is_dated_to_the_day_only(app, operator):
    data = form_data(operator, channel="walk_in")
    data["evidence"] = [(io.BytesIO(phone_jpeg()), "IMG_0001.jpg")]
    assert operator.post(URL, data=data, content_type="multipart/form-data").status_code == 201
    # The rows a filing writes hold days, never times: none of their columns is a DateTime.
    for model in (Report, StatusChange, Attachment, UsedSubmission, OperatorFiling):
        timed = [
            column.name for column in model.__table__.columns if isinstance(column.type, DateTime)
        ]
        assert timed == [], model.__name__
    with app.app_context():
        report = db.session.scalars(db.select(Report)).one()
        assert report.received_on == report.status_since == today()
        assert [step.created_on for step in report.history] == [today()]


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


def test_a_retired_catalogue_code_is_the_same_clear_400_on_every_channel(app, client, operator):
    client.get("/bahasa/en?next=/")
    citizen_form = csrf_token(client)  # pages loaded while "kia" was still offered
    operator_form = form_data(operator, service="kia")
    with app.app_context():
        db.session.get(Service, "kia").active = False
        db.session.commit()
    message = "This choice is not offered (any more). Choose another one."

    citizen = client.post(
        "/lapor",
        data={**VALID_FORM, "service": "kia", "csrf_token": citizen_form, "action": "review"},
        headers={"Accept-Language": "en"},
    )
    assert citizen.status_code == 400
    assert re.search(
        r'id="service-errors">\s*<li>' + re.escape(message), citizen.get_data(as_text=True)
    )

    staff = operator.post(URL, data=operator_form)
    assert staff.status_code == 400
    assert re.search(
        r'id="service-errors">\s*<li>' + re.escape(message), staff.get_data(as_text=True)
    )

    api = client.post(
        "/api/v1/reports", json={**VALID_JSON, "service": "kia"}, headers={"Accept-Language": "en"}
    )
    assert api.status_code == 400
    assert api.get_json()["error"]["fields"] == {"service": [message]}

    # A code that never existed reads the same, and nothing was stored by any channel.
    unknown = client.post("/api/v1/reports", json={**VALID_JSON, "unit": "carrier_pigeon"})
    assert set(unknown.get_json()["error"]["fields"]) == {"unit"}
    assert review_report(client, category="carrier_pigeon").status_code == 400
    assert count_reports(app) == 0
    assert tallies(app) == []


@pytest.mark.parametrize("app_config", [{"KDF_SLOT_WAIT_SECONDS": 0.05}], indirect=True)
def test_a_busy_portal_keeps_the_operators_form_and_counts_nothing(app, operator):
    from contextlib import ExitStack

    from portal import kdf

    data = form_data(operator, channel="walk_in")
    with app.app_context():
        slots = kdf.slots()
    with ExitStack() as held:
        for _ in range(slots.count):
            held.enter_context(slots.hold())
        busy = operator.post(URL, data=data)
    assert busy.status_code == 503
    assert int(busy.headers["Retry-After"]) > 0
    page = busy.get_data(as_text=True)
    assert "nothing was saved" in page
    assert CHRONOLOGY in page  # the form, filled, to send again
    assert count_reports(app) == 0 and tallies(app) == []
    assert operator.post(URL, data=data).status_code == 201
    assert [count for _email, _channel, count in tallies(app)] == [1]
