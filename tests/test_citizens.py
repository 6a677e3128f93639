"""The citizen's report form: review step, hints, validation, nothing half-stored."""

import re

import pytest

from portal.extensions import db
from portal.models import Report
from tests.helpers import VALID_FORM, csrf_token, review_report, submit_report


def _report_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Report.id))) or 0


def test_form_offers_catalogue_and_safety_advice(client):
    page = client.get("/lapor").get_data(as_text=True)
    assert 'value="ktp_el"' in page
    assert 'value="pungli"' in page
    assert 'value="kec_kasemen"' in page
    assert "Tor Browser" in page
    assert 'name="website"' in page  # the honeypot is present for bots


def test_form_prefills_service_and_unit_from_links(client):
    page = client.get("/lapor?layanan=akta_kelahiran&tempat=mpp").get_data(as_text=True)
    assert re.search(
        r'<option selected value="akta_kelahiran">|value="akta_kelahiran" selected', page
    )
    assert re.search(r'<option selected value="mpp">|value="mpp" selected', page)
    # Unknown codes are ignored, not an error.
    assert client.get("/lapor?layanan=nope&tempat=nope").status_code == 200


def test_review_shows_public_facts_and_hints_before_anything_is_stored(app, client):
    response = review_report(
        client, amount_demanded="", promised="", person_description="", paid="unknown"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "lapor/kirim" in page
    # Public facts: month, not the day; and the hints for missing 5W+1H facts.
    assert "2026" in page
    assert page.count("<li>") >= 4
    assert _report_count(app) == 0


def test_review_rounds_the_public_amount(client):
    page = review_report(client, amount_demanded="Rp 137.500").get_data(as_text=True)
    assert "Rp140.000" in page  # public, rounded
    assert "Rp137.500" in page  # encrypted part, exact


def test_edit_returns_the_form_filled(client):
    data = {**VALID_FORM, "csrf_token": csrf_token(client), "action": "edit"}
    page = client.post("/lapor", data=data).get_data(as_text=True)
    assert VALID_FORM["chronology"] in page
    assert VALID_FORM["person_description"] in page
    assert 'class="errors"' not in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("category", ""),
        ("category", "not-a-category"),
        ("service", "../../etc"),
        ("unit", "nope"),
        ("incident_date", ""),
        ("incident_date", "31/02/2026"),
        ("incident_date", "2999-01-01"),
        ("incident_date", "1990-01-01"),
        ("who_asked", ""),
        ("who_asked", "myself"),
        ("amount_demanded", "seratus"),
        ("amount_demanded", "-5"),
        ("amount_demanded", "99999999999999"),
        ("paid", "maybe"),
        ("promised", "x" * 501),
        ("person_description", "x" * 2001),
        ("chronology", ""),
        ("chronology", "too short"),
        ("chronology", "x" * 10001),
        ("contact", "x" * 501),
    ],
)
def test_bad_input_is_refused_with_a_message_and_kept_text(app, client, field, value):
    for url in ("/lapor", "/lapor/kirim"):
        data = {**VALID_FORM, field: value, "csrf_token": csrf_token(client), "action": "review"}
        response = client.post(url, data=data)
        assert response.status_code == 400, (url, field, value)
        page = response.get_data(as_text=True)
        assert 'class="errors"' in page
        assert f'id="{field}-errors"' in page
        if field != "chronology":
            assert VALID_FORM["chronology"] in page  # what the citizen wrote is kept
    assert _report_count(app) == 0


def test_honeypot_filled_stores_nothing(app, client):
    data = {**VALID_FORM, "website": "http://spam.example", "csrf_token": csrf_token(client)}
    assert client.post("/lapor/kirim", data=data).status_code == 400
    assert _report_count(app) == 0


def test_receipt_page_is_private_and_shown_once(app, client):
    code, receipt = submit_report(client)
    assert _report_count(app) == 1
    # The receipt is not in any later page, and the status page never shows content.
    status = client.get(f"/status/{code}").get_data(as_text=True)
    assert receipt not in status
    assert VALID_FORM["chronology"] not in status
    assert VALID_FORM["person_description"] not in status


def test_sending_the_same_review_twice_files_one_report(app, client):
    review = review_report(client).get_data(as_text=True)
    submission = re.search(r'name="submission" value="([^"]+)"', review).group(1)
    data = {**VALID_FORM, "submission": submission, "csrf_token": csrf_token(client)}
    assert client.post("/lapor/kirim", data=data).status_code == 201
    again = client.post("/lapor/kirim", data=data)
    assert again.status_code == 409
    assert _report_count(app) == 1


def test_status_lookup_by_form_is_forgiving(client):
    code, _ = submit_report(client)
    typed = code.lower().replace("-", " ").replace("0", "o")
    response = client.post("/status", data={"code": typed, "csrf_token": csrf_token(client)})
    assert response.status_code == 200
    assert code in response.get_data(as_text=True)


def test_unknown_code_has_same_shape_as_known(client):
    code, _ = submit_report(client)
    known = client.get(f"/status/{code}")
    for unknown in ("SRG-ZZZZ-ZZZZ-ZZ", "not a code at all"):
        response = client.get(f"/status/{unknown}")
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert 'class="errors"' in page
        # Same page, same form: only the result section differs.
        title = re.compile(r"<title>(.*?)</title>", re.S)
        assert title.search(page).group(1) == title.search(known.get_data(as_text=True)).group(1)
        assert 'name="code"' in page
