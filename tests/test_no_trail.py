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

from flask.testing import FlaskClient
from itsdangerous import base64_decode

from portal.extensions import db
from portal.models import PortalSession, UsedSubmission
from portal.models.base import moved_clock
from tests.conftest import VALID_FORM, csrf_token, review_report

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
    token = csrf_token(client, "/inbox")
    signed = client.post(
        "/inbox/masuk", data={"code": code, "receipt": receipt, "csrf_token": token}
    )
    assert signed.status_code == 303
    assert "lp_inbox" in cookies(client)
    out = client.post("/inbox/keluar", data={"csrf_token": csrf_token(client, "/inbox")})
    assert out.status_code in (200, 303)
    assert "lp_inbox" not in cookies(client)
    assert_no_trail(client, code, receipt)
    with app.app_context():
        assert db.session.scalars(db.select(PortalSession)).all() == []


def test_expired_sessions_are_swept_by_the_timer_command(app, client, runner):
    code, receipt, _mark, _ = file_through_the_form(client)
    token = csrf_token(client, "/inbox")
    client.post("/inbox/masuk", data={"code": code, "receipt": receipt, "csrf_token": token})
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
    page = client.get("/inbox").get_data(as_text=True)
    assert 'name="receipt"' in page  # the sign-in form, not the inbox
