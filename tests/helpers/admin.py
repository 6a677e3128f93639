"""The admin's staff page as an admin uses it: add, enrol, find a member's row."""

from __future__ import annotations

import base64
import re
import time

from portal import crypto
from portal.extensions import db
from portal.models import Staff
from portal.services import staff
from tests.helpers import (
    StaffAccount,
    csrf_token,
    staff_login,
)

STAFF_PAGE = "/inspectorate/admin/staff"


_ONE_TIME = re.compile(r'id="one-time-password">([^<]+)<')


_SECRET = re.compile(r'name="secret" type="hidden" value="([A-Z2-7=]+)"')


def member_row(app, email: str) -> Staff:
    with app.app_context():
        member = staff.find_by_email(email)
        assert member is not None
        db.session.expunge(member)
        return member


def post(browser, url: str, data: dict | None = None, page: str = STAFF_PAGE):
    return browser.post(url, data={**(data or {}), "csrf_token": csrf_token(browser, page)})


def in_english(browser) -> None:
    browser.get("/bahasa/en?next=/")


def add_member(browser, email: str, role: str = "investigator") -> str:
    response = post(browser, f"{STAFF_PAGE}/new", {"email": email, "role": role})
    assert response.status_code == 201, response.get_data(as_text=True)
    match = _ONE_TIME.search(response.get_data(as_text=True))
    assert match
    return match.group(1)


def enrol(app, email: str, password: str) -> StaffAccount:
    """Sign in with a one-time password and finish enrolment; returns the new account."""
    browser = app.test_client()
    response = staff_login(app, browser, StaffAccount(email, password, b""))
    assert response.status_code == 303
    assert browser.get("/inspectorate/").headers["Location"].endswith("/inspectorate/enrol")
    page = browser.get("/inspectorate/enrol").get_data(as_text=True)
    secret_text = _SECRET.search(page).group(1)
    secret = base64.b32decode(secret_text)
    new_password = f"new password for {email}"
    done = browser.post(
        "/inspectorate/enrol",
        data={
            "new_password": new_password,
            "confirm": new_password,
            "secret": secret_text,
            "code": crypto.totp_code(secret, time.time()),
            "csrf_token": csrf_token(browser, "/inspectorate/enrol"),
        },
    )
    assert done.status_code == 303, done.get_data(as_text=True)
    return StaffAccount(email, new_password, secret)
