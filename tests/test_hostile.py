"""Hostile input from issue 12's table: each row's exact input, never a 5xx or a half record."""

from __future__ import annotations

import csv
import io
import re

import pytest

from portal.extensions import db
from portal.models import Attachment, Category, Report, Service
from tests.helpers import VALID_FORM, VALID_JSON, csrf_token, review_report

HUGE_ID = 2**63
AMOUNT_MESSAGE = "Jumlah tersebut tidak masuk akal."


def report_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Report.id))) or 0


def multipart(fields: dict[str, str], *raw_parts: tuple[bytes, bytes]) -> tuple[bytes, str]:
    """A multipart body with text fields and raw (header, body) parts, as a client could send."""
    boundary = b"----hostile"
    body = b""
    parts = [
        (f'Content-Disposition: form-data; name="{name}"'.encode(), value.encode())
        for name, value in fields.items()
    ]
    for header, value in [*parts, *raw_parts]:
        body += b"--" + boundary + b"\r\n" + header + b"\r\n\r\n" + value + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return body, "multipart/form-data; boundary=----hostile"


def send_form(client, **overrides: str):
    """POST the final send step with a valid submission mark."""
    review = review_report(client)
    mark = re.search(r'name="submission" value="([^"]*)"', review.get_data(as_text=True))
    assert mark
    data = {**VALID_FORM, "csrf_token": csrf_token(client), "submission": mark.group(1)}
    data.update(overrides)
    return client.post("/lapor/kirim", data=data)


# --- amounts of 306+ digits with a unit --------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["9" * 306 + "rb", "1" * 400 + " jt", "Rp " + "9" * 320 + "juta"]
)
def test_absurd_amounts_with_a_unit_get_the_amount_message(app, client, amount):
    review = review_report(client, amount_demanded=amount)
    assert review.status_code == 400
    assert AMOUNT_MESSAGE in review.get_data(as_text=True)
    sent = send_form(client, amount_demanded=amount)
    assert sent.status_code == 400
    assert AMOUNT_MESSAGE in sent.get_data(as_text=True)
    api = client.post("/api/v1/reports", json={**VALID_JSON, "amount_demanded": int("9" * 306)})
    assert api.status_code == 400
    assert report_count(app) == 0


def test_absurd_amount_on_the_operator_form(app, staff_client):
    browser = staff_client("investigator")
    page = browser.get("/inspectorate/operator")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    assert token
    response = browser.post(
        "/inspectorate/operator",
        data={
            **VALID_FORM,
            "channel": "walk_in",
            "amount_demanded": "9" * 310 + "rb",
            "csrf_token": token.group(1),
        },
    )
    assert response.status_code == 400
    assert AMOUNT_MESSAGE in response.get_data(as_text=True)
    assert report_count(app) == 0


# --- periods before year 2000 ------------------------------------------------------------


@pytest.mark.parametrize("period", ["0000", "0000-Q1", "0000-01", "0001-12", "1999"])
def test_periods_of_year_zero_are_invalid_not_a_crash(client, period):
    for url in ("/api/v1/stats", "/api/v1/stats.csv"):
        response = client.get(url, query_string={"period": period})
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_period"
    page = client.get("/transparansi", query_string={"period": period})
    assert page.status_code == 400
    assert "Tidak ada statistik untuk periode ini." in page.get_data(as_text=True)


# --- row ids beyond BIGINT ---------------------------------------------------------------


def test_ids_beyond_bigint_are_404(app, client, staff_client, file_report):
    code, receipt = file_report()
    inbox = app.test_client()
    token = csrf_token(inbox, "/kotak-masuk")
    signed = inbox.post(
        "/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert signed.status_code == 303
    assert inbox.get(f"/kotak-masuk/bukti/{HUGE_ID}").status_code == 404
    assert inbox.get(f"/kotak-masuk/bukti/{10**30}").status_code == 404
    investigator = staff_client("investigator")
    assert investigator.get(f"/inspectorate/reports/{code}/evidence/{HUGE_ID}").status_code == 404
    admin = staff_client("admin")
    token = csrf_token(admin, "/inspectorate/admin/staff")
    for action in ("disable", "role", "reset"):
        url = f"/inspectorate/admin/staff/{HUGE_ID}/{action}"
        assert admin.post(url, data={"csrf_token": token, "role": "auditor"}).status_code == 404
    revoke = f"/inspectorate/admin/sessions/{HUGE_ID}/revoke"
    assert admin.post(revoke, data={"csrf_token": token}).status_code == 404


# --- language switch: next= --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/%0d%0aSet-Cookie:%20x=1",
        "/lapor%0a",
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d/evil.example",
        "/\t/evil.example",
        "/%20/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%c2%85/evil.example",
    ],
)
def test_language_switch_only_redirects_to_a_local_path(client, target):
    response = client.get(f"/bahasa/en?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_keeps_an_ordinary_local_path(client):
    response = client.get("/bahasa/en?next=/status%3Fx%3D1")
    assert response.headers["Location"] == "/status?x=1"


# --- audit filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"before": str(HUGE_ID)},
        {"after": str(HUGE_ID)},
        {"before": "9" * 40},
    ],
)
def test_audit_filters_at_the_edge_of_time_are_400(staff_client, query):
    auditor = staff_client("auditor")
    for url in ("/inspectorate/audit", "/inspectorate/audit.csv"):
        response = auditor.get(url, query_string=query)
        assert response.status_code == 400, url
        assert "text/html" in response.headers["Content-Type"]


# --- 405 with Allow ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/lapor", {"GET", "POST"}),
        ("/", {"GET"}),
        ("/api/v1/reports", {"POST"}),
        ("/inspectorate/login", {"GET", "POST"}),
    ],
)
def test_other_methods_get_405_with_allow(client, method, url, allowed):
    response = client.open(url, method=method)
    assert response.status_code == 405
    offered = {part.strip() for part in response.headers["Allow"].split(",")}
    assert allowed <= offered
    assert method not in offered


def test_every_route_answers_405_with_allow(app, client):
    """Over the whole URL map: an unsupported method is 405 and says what is allowed."""
    for rule in app.url_map.iter_rules():
        if "<" in rule.rule or rule.endpoint == "static":
            continue
        response = client.open(rule.rule, method="PATCH")
        assert response.status_code == 405, rule.rule
        assert response.headers.get("Allow"), rule.rule


# --- multipart evidence the HTML form would silently drop -------------------------------


def _send_raw(client, *parts: tuple[bytes, bytes]):
    review = review_report(client)
    mark = re.search(r'name="submission" value="([^"]*)"', review.get_data(as_text=True))
    assert mark
    fields = {**VALID_FORM, "csrf_token": csrf_token(client), "submission": mark.group(1)}
    body, content_type = multipart(fields, *parts)
    return client.post("/lapor/kirim", data=body, content_type=content_type)


TEXT_FILE = b"Calo minta Rp150.000 di loket 3"
REFUSED = "Sebuah berkas tidak dapat dibaca sebagaimana dikirim."


@pytest.mark.parametrize(
    "header",
    [
        b'Content-Disposition: form-data; name="bukti"; filename="bukti.txt"',
        b'Content-Disposition: form-data; name="evidence"; filename="a\r\nb.txt"',
        b'Content-Disposition: form-data; name="evid\xffence"; filename="bukti.txt"',
    ],
)
def test_evidence_that_would_be_dropped_is_refused_and_answers_kept(app, client, header):
    response = _send_raw(client, (header + b"\r\nContent-Type: text/plain", TEXT_FILE))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert REFUSED in page
    assert VALID_FORM["chronology"] in page  # the review page, with every answer
    assert report_count(app) == 0


def test_a_non_utf8_file_name_keeps_the_file_and_the_answers(app, client):
    header = b'Content-Disposition: form-data; name="evidence"; filename="bukti\xff.txt"'
    response = _send_raw(client, (header + b"\r\nContent-Type: text/plain", TEXT_FILE))
    assert response.status_code == 201
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Attachment.id))) == 1


def test_a_non_utf8_field_name_shows_the_form_again_with_the_answers(app, client):
    review = review_report(client)
    assert review.status_code == 200
    body, content_type = multipart(
        {**VALID_FORM, "csrf_token": csrf_token(client), "action": "review"},
        (b'Content-Disposition: form-data; name="x\xfe"', b"1"),
    )
    response = client.post("/lapor", data=body, content_type=content_type)
    assert response.status_code == 200
    assert VALID_FORM["chronology"] in response.get_data(as_text=True)


# --- invisible text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "\x00" * 20,
        "\x01\x02\x03" * 10,
        "\u200b" * 25,
        "\ufeff\u2060\u200e" * 10,
        " \x00\u200b\t" * 8,
    ],
)
def test_free_text_of_only_invisible_characters_is_empty(app, client, text):
    review = review_report(client, chronology=text)
    assert review.status_code == 400
    assert "Ceritakan apa yang terjadi." in review.get_data(as_text=True)
    api = client.post("/api/v1/reports", json={**VALID_JSON, "chronology": text})
    assert api.status_code == 400
    assert "chronology" in api.get_json()["error"]["fields"]
    assert report_count(app) == 0


def test_nul_and_bidi_overrides_are_removed_from_kept_text(app, client, file_report):
    code, receipt = file_report(promised="KTP\x00-el \u202ecepat\u202c", contact="\x00wa 0812")
    inbox = app.test_client()
    token = csrf_token(inbox, "/kotak-masuk")
    inbox.post("/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token})
    page = inbox.get("/kotak-masuk").get_data(as_text=True)
    assert "KTP-el cepat" in page
    assert "\x00" not in page and "\u202e" not in page


# --- the hidden submission mark ----------------------------------------------------------


def test_a_huge_submission_mark_is_not_copied_into_the_cookie(app, client):
    response = send_form(client, submission="A" * 8000)
    assert response.status_code == 201
    cookies = response.headers.getlist("Set-Cookie")
    assert all(len(cookie) < 1024 for cookie in cookies)
    assert "A" * 100 not in " ".join(cookies)


# --- cross-site intake -------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_reports_from_another_site_are_refused(app, client, headers):
    import json

    body, content_type = multipart({"report": json.dumps(VALID_JSON)})
    response = client.post("/api/v1/reports", data=body, content_type=content_type, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "cross_site"
    as_json = client.post("/api/v1/reports", json=VALID_JSON, headers=headers)
    assert as_json.status_code == 403
    assert report_count(app) == 0


def test_our_own_origin_may_send_json(app, client):
    response = client.post(
        "/api/v1/reports", json=VALID_JSON, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 201


# --- formula cells in the statistics CSV -------------------------------------------------


def test_admin_catalogue_names_cannot_become_formulas_in_the_stats_csv(app, client):
    with app.app_context():
        service = db.session.get(Service, "ktp_el")
        category = db.session.get(Category, "pungli")
        assert service is not None and category is not None
        service.name_id = '=HYPERLINK("https://evil.example","klik")'
        service.name_en = "+cmd|' /C calc'!A0"
        category.name_id = "@SUM(1+1)"
        category.name_en = "-2+3"
        db.session.commit()
    response = client.get("/api/v1/stats.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    cells = [cell for row in rows[1:] for cell in row]
    for name in (
        '=HYPERLINK("https://evil.example","klik")',
        "+cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "-2+3",
    ):
        assert "'" + name in cells
    assert not any(cell.startswith(("=", "+", "@", "-")) for cell in cells)


# --- whole numbers too long for a float ---------------------------------------------------


@pytest.mark.parametrize("digits", ["9" * 400, "-" + "9" * 400, "1" * 20])
def test_integer_fields_refuse_absurdly_long_numbers(app, staff_client, digits):
    admin = staff_client("admin")
    token = csrf_token(admin, "/inspectorate/admin/settings")
    data = {
        "csrf_token": token,
        "received": "3",
        "needs_info": "10",
        "verified": "5",
        "in_progress": digits,
        "retention_months": "24",
    }
    response = admin.post("/inspectorate/admin/settings", data=data)
    assert response.status_code == 400
    assert "Bukan bilangan bulat yang valid." in response.get_data(as_text=True)
    auditor = staff_client("auditor")
    assert auditor.get("/inspectorate/audit", query_string={"before": digits}).status_code == 400
