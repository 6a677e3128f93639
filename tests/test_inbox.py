"""The reporter inbox: sign-in, sessions, conversation, evidence without metadata."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest
from PIL import Image

from portal.extensions import db
from portal.models import Attachment, Message, PortalSession, Side
from portal.models.base import utcnow
from portal.services import evidence_store, inbox, reports
from portal.transaction import atomic
from tests.helpers import VALID_FORM, csrf_token, submit_report
from tests.helpers.evidence import MARKER, halved, huge_png, leaky_pdf, phone_jpeg
from tests.helpers.inbox import sign_in, upload

ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
REPLY_MARKER = "REPLYMARKER9c1d the officer was at counter 3"


def attachments(app) -> list[Attachment]:
    with app.app_context():
        return list(db.session.scalars(db.select(Attachment)))


def opened_files(app, code: str, receipt: str) -> list[evidence_store.EvidenceFile]:
    """Decrypt every file of a report with its receipt, as the reporter would."""
    with app.app_context():
        report = reports.find(code)
        key = reports.key_from_receipt(report, receipt)
        return [
            evidence_store.open_evidence(report, key, info.id)
            for info in evidence_store.evidence_list(report, key)
        ]


def raw_database(app) -> bytes:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    folder = app.config["TEST_INSTANCE"].folder
    return b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def report_a(client):
    return submit_report(client)


@pytest.fixture
def signed_in(app, report_a):
    """A fresh browser signed in to report A."""
    browser = app.test_client()
    response = sign_in(browser, *report_a)
    assert response.status_code == 303
    return browser


# --- sign-in and sessions ----------------------------------------------------------------


def test_sign_in_opens_the_report_as_filed(signed_in, report_a):
    page = signed_in.get("/kotak-masuk")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert report_a[0] in text
    assert VALID_FORM["chronology"] in text
    assert VALID_FORM["person_description"] in text
    assert "Diterima" in text
    assert re.search(r"Langkah berikutnya paling lambat .+ \(hari kerja\)", text)
    assert page.headers["Cache-Control"] == "no-store"
    assert report_a[1] not in text  # the receipt is never shown again


def test_session_cookie_is_a_random_token_scoped_to_the_inbox(app, client, report_a):
    response = sign_in(client, *report_a)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lp_inbox=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/kotak-masuk" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 40
    assert report_a[1].replace("-", "") not in token
    with app.app_context():
        row = db.session.scalars(db.select(PortalSession)).one()
        assert token not in row.token_hash  # only a hash of the token is stored
        assert len(row.sealed_key) > 32


def test_code_is_forgiving_and_errors_do_not_say_which_part_is_wrong(client, report_a):
    code, receipt = report_a
    assert (
        sign_in(client, code.lower().replace("-", " "), receipt.replace("-", "")).status_code == 303
    )
    wrong_receipt = sign_in(client, code, "1111-2222-3333-4444-5555")
    unknown_code = sign_in(client, "SRG-ZZZZ-ZZZZ-ZZ", receipt)
    assert wrong_receipt.status_code == unknown_code.status_code == 401
    message = "Kode pelacakan atau tanda terima salah."
    assert message in wrong_receipt.get_data(as_text=True)
    assert message in unknown_code.get_data(as_text=True)


@pytest.mark.app_config({"RATELIMIT_RECEIPT_FAILURES": "3 per hour"})
def test_wrong_receipts_lock_the_code_for_the_guessing_address_only(client, report_a):
    code, receipt = report_a
    for attempt in range(3):
        wrong = sign_in(client, code, f"0000-0000-0000-0000-000{attempt}", "198.51.100.66")
        assert wrong.status_code == 401
    # The guesser is locked out of this code, even with the right receipt...
    locked = sign_in(client, code, receipt, "198.51.100.66")
    assert locked.status_code == 429
    assert "Terlalu banyak tanda terima salah" in locked.get_data(as_text=True)
    # ...the reporter, elsewhere, is not.
    assert sign_in(client, code, receipt, "203.0.113.99").status_code == 303


@pytest.mark.app_config({"RATELIMIT_RECEIPT_FAILURES": "2 per 1 second"})
def test_a_locked_code_unlocks_by_itself(client, report_a):
    code, receipt = report_a
    for _ in range(2):
        sign_in(client, code, "0000-0000-0000-0000-0000")
    assert sign_in(client, code, receipt).status_code == 429
    time.sleep(1.2)
    assert sign_in(client, code, receipt).status_code == 303


@pytest.mark.app_config({"RATELIMIT_INBOX_LOGIN": "3 per hour"})
def test_sign_ins_are_limited_per_address(client, report_a):
    for _ in range(3):
        sign_in(client, "SRG-ZZZZ-ZZZZ-ZZ", "0000-0000-0000-0000-0000", "192.0.2.7")
    assert sign_in(client, *report_a, address="192.0.2.7").status_code == 429
    assert sign_in(client, *report_a, address="192.0.2.8").status_code == 303


@pytest.mark.parametrize("field", ["last_seen_at", "created_at"])
def test_expired_sessions_give_no_access(app, signed_in, field):
    limit = {"last_seen_at": 16, "created_at": 121}[field]
    with app.app_context():
        row = db.session.scalars(db.select(PortalSession)).one()
        setattr(row, field, utcnow() - timedelta(minutes=limit))
        db.session.commit()
    response = signed_in.get("/kotak-masuk")
    assert VALID_FORM["chronology"] not in response.get_data(as_text=True)
    assert 'name="receipt"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PortalSession.id))) == 0


def test_abandoned_sessions_are_swept_at_the_next_sign_in(app, signed_in, report_a):
    with app.app_context():
        row = db.session.scalars(db.select(PortalSession)).one()
        row.last_seen_at = utcnow() - timedelta(minutes=16)
        db.session.commit()
        abandoned = row.token_hash
    # Another browser signs in; the abandoned row (never resumed) is gone.
    assert sign_in(app.test_client(), *report_a).status_code == 303
    with app.app_context():
        hashes = list(db.session.scalars(db.select(PortalSession.token_hash)))
        assert len(hashes) == 1
        assert abandoned not in hashes


def test_activity_keeps_the_session_alive(app, signed_in):
    with app.app_context():
        row = db.session.scalars(db.select(PortalSession)).one()
        row.last_seen_at = utcnow() - timedelta(minutes=14)
        db.session.commit()
    assert VALID_FORM["chronology"] in signed_in.get("/kotak-masuk").get_data(as_text=True)
    with app.app_context():
        row = db.session.scalars(db.select(PortalSession)).one()
        assert utcnow() - row.last_seen_at < timedelta(minutes=1)


def test_logout_ends_the_session_everywhere(app, signed_in):
    token = signed_in.get_cookie("lp_inbox", path="/kotak-masuk").value
    response = signed_in.post(
        "/kotak-masuk/keluar", data={"csrf_token": csrf_token(signed_in, "/kotak-masuk")}
    )
    assert response.status_code == 200
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert "lp_inbox=;" in response.headers["Set-Cookie"]
    assert "tutup peramban" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PortalSession.id))) == 0
    # Replaying the old cookie after logout opens nothing.
    replay = app.test_client()
    replay.set_cookie("lp_inbox", token, path="/kotak-masuk")
    assert VALID_FORM["chronology"] not in replay.get("/kotak-masuk").get_data(as_text=True)
    assert replay.get("/kotak-masuk/bukti/1").status_code == 303


def test_tampered_cookie_gives_no_access(app, signed_in):
    token = signed_in.get_cookie("lp_inbox", path="/kotak-masuk").value
    for forged in (token[:-1] + ("A" if token[-1] != "A" else "B"), "", "x" * 500):
        browser = app.test_client()
        browser.set_cookie("lp_inbox", forged, path="/kotak-masuk")
        assert VALID_FORM["chronology"] not in browser.get("/kotak-masuk").get_data(as_text=True)


def test_a_new_sign_in_replaces_the_old_session(app, client, report_a):
    sign_in(client, *report_a)
    first = client.get_cookie("lp_inbox", path="/kotak-masuk").value
    sign_in(client, *report_a)
    second = client.get_cookie("lp_inbox", path="/kotak-masuk").value
    assert first != second
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(PortalSession.id))) == 1


# --- conversation ---------------------------------------------------------------------


def test_reply_is_shown_and_stored_encrypted(app, signed_in, report_a):
    token = csrf_token(signed_in, "/kotak-masuk")
    response = signed_in.post(
        "/kotak-masuk/pesan", data={"body": REPLY_MARKER, "csrf_token": token}
    )
    assert response.status_code == 303
    page = signed_in.get("/kotak-masuk").get_data(as_text=True)
    assert REPLY_MARKER in page
    with app.app_context():
        report = reports.find(report_a[0])
        key = reports.key_from_receipt(report, report_a[1])
        with atomic():
            inbox.post_message(
                report=report, data_key=key, author=Side.INSPECTORATE, body="Di loket berapa?"
            )
    page = signed_in.get("/kotak-masuk").get_data(as_text=True)
    assert page.index(REPLY_MARKER) < page.index("Di loket berapa?")  # newest last
    assert "Inspektorat" in page
    assert b"REPLYMARKER" not in raw_database(app)


@pytest.mark.parametrize("body", ["", "   ", "x" * 5001])
def test_bad_reply_is_refused(app, signed_in, body):
    token = csrf_token(signed_in, "/kotak-masuk")
    response = signed_in.post("/kotak-masuk/pesan", data={"body": body, "csrf_token": token})
    assert response.status_code == 400
    assert 'class="errors"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Message.id))) == 0


# --- evidence -------------------------------------------------------------------------


def test_evidence_loses_its_metadata_before_it_is_stored(app, signed_in, report_a):
    photo = phone_jpeg()
    assert MARKER.encode() in photo  # the fixture really carries the marker and GPS
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(0x8825)
    response = upload(signed_in, (photo, "IMG_20261014_Budi.jpg"), (leaky_pdf(), "laporan.pdf"))
    assert response.status_code == 303
    files = opened_files(app, *report_a)
    assert [f.content_type for f in files] == ["image/jpeg", "application/pdf"]
    for found in files:
        assert MARKER.encode() not in found.data
        assert "Budi" not in found.name and "IMG" not in found.name
    image = Image.open(io.BytesIO(files[0].data))
    image.load()
    assert not image.getexif()
    assert image.size == (32, 64)  # 64x32 turned upright by its orientation tag
    assert MARKER.encode() not in raw_database(app)


def test_download_is_an_attachment_of_a_safe_type(app, signed_in):
    upload(signed_in, (phone_jpeg(), "a.jpg"), (b"catatan: loket 3\n", "catatan.txt"))
    page = signed_in.get("/kotak-masuk").get_data(as_text=True)
    links = re.findall(r'href="(/kotak-masuk/bukti/\d+)"', page)
    assert len(links) == 2
    photo = signed_in.get(links[0])
    assert photo.status_code == 200
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert photo.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in photo.headers["Content-Security-Policy"]
    assert photo.headers["Cache-Control"] == "no-store"
    note = signed_in.get(links[1])
    assert note.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert note.data == b"catatan: loket 3\n"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([(ELF, "foto.jpg")], "Jenis berkas ini tidak diterima"),
        ([(huge_png(20000, 20000), "peta.png")], "megapiksel"),
        ([(halved(phone_jpeg()), "foto.jpg")], "rusak atau tidak lengkap"),
        ([(b"%PDF-1.7\n" + b"\x00garbage" * 50, "surat.pdf")], "rusak atau tidak lengkap"),
        ([(b"x" * (64 * 1024 + 1), "big.txt")], "terlalu besar"),
        (
            [(phone_jpeg(), "1.jpg"), (phone_jpeg(), "2.jpg"), (phone_jpeg(), "3.jpg")],
            "paling banyak",
        ),
        # One bad file among good ones: none is stored.
        ([(phone_jpeg(), "1.jpg"), (ELF, "2.jpg")], "Jenis berkas ini tidak diterima"),
    ],
)
@pytest.mark.app_config({"EVIDENCE_MAX_BYTES": 64 * 1024, "EVIDENCE_MAX_FILES": 2})
def test_bad_evidence_is_refused_and_nothing_is_stored(app, signed_in, files, message):
    response = upload(signed_in, *files)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert attachments(app) == []


@pytest.mark.app_config({"MAX_CONTENT_LENGTH": 64 * 1024})
def test_request_size_is_capped_before_the_body_is_read(app, signed_in):
    response = upload(signed_in, (b"a" * 100 * 1024, "big.txt"))
    assert response.status_code == 413
    assert attachments(app) == []


def test_evidence_can_be_sent_with_the_report(app, client):
    review = client.post(
        "/lapor", data={**VALID_FORM, "csrf_token": csrf_token(client), "action": "review"}
    ).get_data(as_text=True)
    submission = re.search(r'name="submission" value="([^"]+)"', review).group(1)
    data = {
        **VALID_FORM,
        "csrf_token": csrf_token(client),
        "submission": submission,
        "evidence": [(io.BytesIO(phone_jpeg()), "foto.jpg")],
    }
    sent = client.post("/lapor/kirim", data=data, content_type="multipart/form-data")
    assert sent.status_code == 201
    text = sent.get_data(as_text=True)
    code = re.search(r'id="tracking-code">([^<]+)<', text).group(1)
    receipt = re.search(r'id="receipt">([^<]+)<', text).group(1)
    [photo] = opened_files(app, code, receipt)
    assert MARKER.encode() not in photo.data


def test_bad_evidence_with_the_report_files_nothing(app, client):
    data = {
        **VALID_FORM,
        "csrf_token": csrf_token(client),
        "evidence": [(io.BytesIO(ELF), "x.jpg")],
    }
    response = client.post("/lapor/kirim", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Jenis berkas ini tidak diterima" in response.get_data(as_text=True)
    with app.app_context():
        from portal.models import Report

        assert db.session.scalar(db.select(db.func.count(Report.id))) == 0
    assert attachments(app) == []


# --- one reporter can never reach another report ------------------------------------------


def test_reporter_a_cannot_touch_report_b(app, client, signed_in, report_a):
    other = app.test_client()
    code_b, receipt_b = submit_report(other, chronology="Laporan B: rahasia milik pelapor lain.")
    browser_b = app.test_client()
    sign_in(browser_b, code_b, receipt_b)
    upload(browser_b, (phone_jpeg(), "b.jpg"))
    [b_file] = [row for row in attachments(app)]
    # Sign-out last, so every other route is tried with a live session.
    inbox_rules = sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/kotak-masuk")),
        key=lambda rule: rule.endpoint == "citizens.inbox_logout",
    )
    assert len(inbox_rules) >= 6
    for rule in inbox_rules:
        url = rule.rule.replace("<id:attachment_id>", str(b_file.id))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            data = {"csrf_token": csrf_token(signed_in, "/kotak-masuk"), "body": "pesan dari A"}
            response = signed_in.get(url) if method == "GET" else signed_in.post(url, data=data)
            assert b"Laporan B" not in response.data, url
            assert response.status_code in (200, 303, 400, 404), (url, response.status_code)
            if url.startswith("/kotak-masuk/bukti/"):
                assert response.status_code == 404
    # B's report gained nothing from A's session.
    with app.app_context():
        report_b = reports.find(code_b)
        key_b = reports.key_from_receipt(report_b, receipt_b)
        assert inbox.conversation(report_b, key_b) == []
        assert len(evidence_store.evidence_list(report_b, key_b)) == 1


def test_inbox_page_in_english(signed_in):
    signed_in.get("/bahasa/en?next=/kotak-masuk")
    page = signed_in.get("/kotak-masuk").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Messages" in page
    assert "Add evidence" in page
