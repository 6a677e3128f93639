"""No trail: what a seized browser or a later copy of the server keeps of a reporter.

After the receipt page and after an inbox sign-out, every cookie left in the browser is
decoded: none names a report, a receipt, a review step's mark, or a time finer than the
day. Expired and signed-out session rows are swept, and a swept row opens nothing.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from itsdangerous import base64_decode

from portal import crypto, limitkeys
from portal.extensions import db, limiter
from portal.models import AuditEntry, PortalSession, Report, UsedSubmission
from portal.models.base import moved_clock
from tests.helpers import VALID_FORM, csrf_token, review_report

_SUBMISSION = re.compile(r'name="submission" value="([^"]*)"')
_CODE = re.compile(r'id="tracking-code">([^<]+)<')
_RECEIPT = re.compile(r'id="receipt">([^<]+)<')


def decode_session(value: str) -> tuple[dict[str, object], int]:
    """A Flask session cookie's payload and its signature time (seconds since the epoch)."""
    compressed = value.startswith(".")
    payload, stamp, _signature = value.lstrip(".").rsplit(".", 2)
    raw = base64_decode(payload)
    if compressed:
        raw = zlib.decompress(raw)
    return json.loads(raw), int.from_bytes(base64_decode(stamp), "big")


def cookies(client: FlaskClient) -> dict[str, str]:
    """Every cookie the test browser holds, by name."""
    return {cookie.key: cookie.value for cookie in client._cookies.values()}


def file_through_the_form(client: FlaskClient) -> tuple[str, str, str, str]:
    """Form -> review -> send; (code, receipt, review mark, Set-Cookie of the receipt page)."""
    review = review_report(client)
    mark = _SUBMISSION.search(review.get_data(as_text=True)).group(1)
    sent = client.post("/lapor/kirim", data=send_data(client, mark))
    assert sent.status_code == 201, sent.get_data(as_text=True)
    text = sent.get_data(as_text=True)
    code = _CODE.search(text).group(1).strip()
    receipt = _RECEIPT.search(text).group(1).strip()
    return code, receipt, mark, sent.headers.get("Set-Cookie", "")


def send_data(client: FlaskClient, mark: str) -> dict[str, str]:
    """The reviewed report as the review page posts it."""
    return {**VALID_FORM, "csrf_token": csrf_token(client), "submission": mark}


def assert_no_trail(client: FlaskClient, *secrets: str) -> None:
    """No cookie value or decoded payload holds any of `secrets` or a time finer than a day."""
    for name, value in cookies(client).items():
        texts = [value]
        if name == "lp_session":
            payload, stamp = decode_session(value)
            assert set(payload) <= {"csrf_token"}, payload
            assert stamp % 86_400 == 0, "the session cookie was signed with a time of day"
            texts.append(json.dumps(payload))
        for text in texts:
            for secret in secrets:
                for form in {
                    secret,
                    secret.replace("-", ""),
                    base64.b64encode(secret.encode()).decode(),
                }:
                    assert form not in text, (name, secret)


def test_the_receipt_page_leaves_no_cookie_that_says_a_report_was_filed(app, client):
    client.get("/lapor")
    before = cookies(client)
    code, receipt, mark, set_cookie = file_through_the_form(client)
    # Filing changes no cookie: the browser holds exactly what it held on the empty form.
    assert set_cookie == ""
    assert cookies(client) == before
    assert_no_trail(client, code, receipt, mark)
    # The double-submit guard still works, on the server, under a keyed hash of the mark.
    with app.app_context():
        (used,) = db.session.scalars(db.select(UsedSubmission)).all()
        assert mark not in used.digest
    # The same review step sent again (back button, reload): refused, nothing filed.
    again = client.post("/lapor/kirim", data=send_data(client, mark))
    assert again.status_code == 409
    assert_no_trail(client, code, receipt, mark)


def test_inbox_sign_out_leaves_no_cookie_and_no_row(app, client):
    code, receipt, _mark, _ = file_through_the_form(client)
    token = csrf_token(client, "/kotak-masuk")
    signed = client.post(
        "/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert signed.status_code == 303
    assert "lp_inbox" in cookies(client)
    out = client.post(
        "/kotak-masuk/keluar", data={"csrf_token": csrf_token(client, "/kotak-masuk")}
    )
    assert out.status_code in (200, 303)
    assert "lp_inbox" not in cookies(client)
    assert_no_trail(client, code, receipt)
    with app.app_context():
        assert db.session.scalars(db.select(PortalSession)).all() == []


def test_expired_sessions_are_swept_by_the_timer_command(app, client, runner):
    code, receipt, _mark, _ = file_through_the_form(client)
    token = csrf_token(client, "/kotak-masuk")
    client.post("/kotak-masuk/masuk", data={"code": code, "receipt": receipt, "csrf_token": token})
    with app.app_context():
        assert len(db.session.scalars(db.select(PortalSession)).all()) == 1
    later = datetime.now(UTC) + timedelta(days=2)
    with moved_clock(lambda: later):
        # Nobody signs in again; the timer's command alone removes the abandoned row
        # and the day-old submission mark.
        result = runner.invoke(args=["sessions", "sweep"])
        assert result.exit_code == 0, result.output
        assert "1 expired session" in result.output
        with app.app_context():
            assert db.session.scalars(db.select(PortalSession)).all() == []
            assert db.session.scalars(db.select(UsedSubmission)).all() == []
    # The browser's old cookie opens nothing now: the row that held its key is gone.
    page = client.get("/kotak-masuk").get_data(as_text=True)
    assert 'name="receipt"' in page  # the sign-in form, not the inbox


@pytest.mark.app_config({"RATELIMIT_STAFF_FAILURES": "2 per hour"})
def test_what_a_visitor_types_as_an_email_never_reaches_the_audit_log(app, client):
    typed = "Budi Santoso 0812-3456-7890"
    for _ in range(3):  # failed, failed, then locked
        token = csrf_token(client, "/inspectorate/login")
        client.post(
            "/inspectorate/login",
            data={"email": typed, "password": "x", "code": "123456", "csrf_token": token},
        )
    with app.app_context():
        entries = db.session.scalars(db.select(AuditEntry)).all()
        actions = [(entry.actor, entry.action) for entry in entries if "login" in entry.action]
    assert ("unknown account", "login.failed") in actions
    assert ("unknown account", "login.locked") in actions
    for entry in entries:
        text = f"{entry.actor} {entry.target} {entry.detail}".lower()
        assert "budi" not in text and "0812" not in text


@pytest.mark.app_config({"RATELIMIT_RECEIPT_FAILURES": "3 per hour"})
def test_a_later_copy_of_the_server_cannot_map_limiter_keys_back(app, client):
    code, _receipt, _mark, _ = file_through_the_form(client)
    address = "203.0.113.7"
    start = datetime.now(UTC)
    with moved_clock(lambda: start):
        for _ in range(3):
            token = csrf_token(client, "/kotak-masuk")
            client.post(
                "/kotak-masuk/masuk",
                data={"code": code, "receipt": "1111-2222-3333-4444-5555", "csrf_token": token},
                environ_base={"REMOTE_ADDR": address},
            )
        stored = set(limiter.limiter.storage.storage)
        assert stored
        # The copy holds the instance folder, the database and SECRET_KEY: none of the
        # keys it can compute is in the limiter's storage.
        secret = app.config["SECRET_KEY"]
        secret = secret.encode() if isinstance(secret, str) else secret
        computable = {
            crypto.keyed_hash(secret, purpose, value)
            for purpose in ("rate-limit", "throttle/receipt-failures")
            for value in (address, code, code.replace("-", ""))
        }
        assert not any(digest in key for key in stored for digest in computable)
        # The counter still locks the code, across a rotation too.
        with moved_clock(lambda: start + timedelta(seconds=3601)):
            token = csrf_token(client, "/kotak-masuk")
            locked = client.post(
                "/kotak-masuk/masuk",
                data={"code": code, "receipt": "1111-2222-3333-4444-5555", "csrf_token": token},
                environ_base={"REMOTE_ADDR": address},
            )
            assert locked.status_code == 429
    # Two rotations later the secret that made those keys is gone from memory too.
    with app.app_context(), moved_clock(lambda: start + timedelta(hours=3)):
        limitkeys.key("rate-limit", address)
    with app.app_context(), moved_clock(lambda: start):
        first_epoch = limitkeys.epoch()
    assert first_epoch not in limitkeys._secrets


def test_ciphertext_lengths_tell_only_a_size_bucket(app, client):
    short = {"chronology": "Diminta uang di loket tiga, pagi ini, oleh petugas."}
    long = {"chronology": "Saya datang pagi. " * 9}
    for overrides in (short, long):
        review_report(client, **overrides)
        mark = _SUBMISSION.search(review_report(client, **overrides).get_data(as_text=True))
        data = {**VALID_FORM, **overrides, "csrf_token": csrf_token(client)}
        data["submission"] = mark.group(1)
        assert client.post("/lapor/kirim", data=data).status_code == 201
    with app.app_context():
        lengths = {len(row.content_ct) for row in db.session.scalars(db.select(Report))}
    # Two chronologies of different lengths, one ciphertext length: the bucket's.
    assert len(lengths) == 1
    for size in (0, 1, 100, 251, 252, 5000, 70_000):
        padded = crypto.pad(b"a" * size)
        assert len(padded) == crypto.pad_bucket(size) >= size + 5
        assert crypto.unpad(padded) == b"a" * size
    assert crypto.pad_bucket(251) == 256 and crypto.pad_bucket(252) == 512
    # What was stored before padding existed reads as it was.
    assert crypto.unpad(b'{"chronology": "..."}') == b'{"chronology": "..."}'
