"""A stolen instance folder reveals nothing; the right keys open exactly what was sent."""

import logging
from pathlib import Path

import pytest

from portal import crypto
from portal.extensions import db
from portal.models import Report, Staff
from portal.services import reports, staff
from portal.services import setup as setup_service
from tests.helpers import ADMIN_PASSWORD, VALID_FORM, VALID_JSON, submit_report

MARKERS = {
    "promised": "MRKPROMISED8d1f",
    "person_description": "MRKPERSON55c2 wears a grey vest",
    "chronology": "MRKCHRONO91aa: I queued, a broker asked for money.",
    "contact": "MRKCONTACT0b7e wa 0812",
}


def _instance_bytes(folder: Path) -> bytes:
    """Every byte of every file under the instance folder (db, journal, keys, ...)."""
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def _assert_absent(haystack: bytes, needles: list[str]) -> None:
    for needle in needles:
        for form in {needle, needle.replace("-", "")}:
            assert form.encode() not in haystack, f"{form!r} found at rest"
            assert form.encode("utf-16-le") not in haystack


@pytest.fixture
def filed(app, client, caplog, capfd):
    """One report through the HTML form and one through the API, markers in every text."""
    caplog.set_level(logging.DEBUG)
    html_code, html_receipt = submit_report(client, **MARKERS)
    api = client.post(
        "/api/v1/reports", json={**VALID_JSON, **{k: v + "-api" for k, v in MARKERS.items()}}
    )
    assert api.status_code == 201
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # flush everything to the file as a thief would copy it
    out, err = capfd.readouterr()
    return {
        "form": (html_code, html_receipt, MARKERS),
        "api": (
            api.get_json()["tracking_code"],
            api.get_json()["receipt"],
            {k: v + "-api" for k, v in MARKERS.items()},
        ),
        "output": out + err,
    }


def test_nothing_readable_at_rest_or_in_logs(app, filed, caplog):
    folder = app.config["TEST_INSTANCE"].folder
    secrets = [
        marker for _, _, markers in (filed["form"], filed["api"]) for marker in markers.values()
    ]
    secrets += [filed["form"][1], filed["api"][1]]
    secrets += ["MRKPROMISED", "MRKPERSON", "MRKCHRONO", "MRKCONTACT"]
    at_rest = _instance_bytes(folder)
    # Positive control: the public tracking code is there, so the database was really read.
    assert filed["form"][0].encode() in at_rest
    _assert_absent(at_rest, secrets)
    logs = "\n".join(record.getMessage() for record in caplog.records) + filed["output"]
    for secret in secrets:
        assert secret not in logs
    # The recovery key and TOTP secret are shown once, never kept in the folder either.
    setup_secrets = app.config["TEST_INSTANCE"]
    _assert_absent(_instance_bytes(folder), [setup_secrets.recovery_key, ADMIN_PASSWORD])


@pytest.mark.parametrize("channel", ["form", "api"])
def test_inspectorate_key_opens_exactly_what_was_sent(app, filed, channel):
    code, _receipt, markers = filed[channel]
    with app.app_context():
        report = reports.find(code)
        member = db.session.scalars(db.select(Staff)).one()
        private_key, _ = staff.unlock(member, ADMIN_PASSWORD)
        opened = reports.open_report(report, reports.key_from_private_key(report, private_key))
        assert opened.content.promised == markers["promised"]
        assert opened.content.person_description == markers["person_description"]
        assert opened.content.chronology == markers["chronology"]
        assert opened.contact == markers["contact"]
        assert opened.content.amount_demanded == 150000
        assert opened.content.paid is True
        assert opened.content.who_asked == "broker"
        assert opened.content.incident_date.isoformat() == VALID_FORM["incident_date"]
        assert report.channel == ("web" if channel == "form" else "api")
        # The recovery key opens it too: the offline copy of the private key works.
        recovered = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        assert recovered == private_key


def test_receipt_opens_only_its_own_report(app, filed):
    form_code, form_receipt, markers = filed["form"]
    _api_code, api_receipt, _ = filed["api"]
    with app.app_context():
        report = reports.find(form_code)
        opened = reports.open_report(report, reports.key_from_receipt(report, form_receipt))
        assert opened.content.chronology == markers["chronology"]
        wrong = (
            "0000-0000-0000-0000-0000" if form_receipt != "0000-0000-0000-0000-0000" else "1" * 20
        )
        for candidate in (wrong, api_receipt):
            with pytest.raises(reports.WrongReceipt):
                reports.key_from_receipt(report, candidate)


def test_wrong_password_does_not_unwrap(app):
    with app.app_context():
        member = db.session.scalars(db.select(Staff)).one()
        with pytest.raises(staff.WrongPassword):
            staff.unlock(member, ADMIN_PASSWORD + "x")


def test_swapped_ciphertexts_do_not_decrypt(app, filed):
    code_a, receipt_a, _ = filed["form"]
    code_b, _, _ = filed["api"]
    with app.app_context():
        report_a, report_b = reports.find(code_a), reports.find(code_b)
        key_a = reports.key_from_receipt(report_a, receipt_a)
        report_a.content_ct, report_b.content_ct = report_b.content_ct, report_a.content_ct
        report_a.contact_ct, report_b.contact_ct = report_b.contact_ct, report_a.contact_ct
        db.session.commit()
        with pytest.raises(crypto.DecryptionError):
            reports.open_report(report_a, key_a)
        # Swapping the wrapped data keys: the receipt no longer opens either report.
        report_a.key_wrapped, report_b.key_wrapped = report_b.key_wrapped, report_a.key_wrapped
        report_a.key_sealed, report_b.key_sealed = report_b.key_sealed, report_a.key_sealed
        db.session.commit()
        with pytest.raises(reports.WrongReceipt):
            reports.key_from_receipt(report_a, receipt_a)
        private_key = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        with pytest.raises(crypto.DecryptionError):
            reports.key_from_private_key(report_b, private_key)


def test_public_facts_are_coarse(app, filed):
    code, _, _ = filed["form"]
    with app.app_context():
        report = db.session.scalars(db.select(Report).where(Report.tracking_code == code)).one()
        assert report.incident_month.day == 1
        assert report.amount_demanded_rounded == 150000


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [(None, None), (0, 0), (75, 75), (137500, 140000), (1234567, 1200000), (99999, 100000)],
)
def test_amount_rounding(amount, rounded):
    assert reports.round_amount(amount) == rounded
