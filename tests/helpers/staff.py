"""Staff members made the way an admin makes them, and their sign-in."""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.forms import csrf_token
from tests.helpers.instance import ADMIN_EMAIL, ADMIN_PASSWORD


@dataclass
class StaffAccount:
    """A staff member the test can sign in as."""

    email: str
    password: str
    totp_secret: bytes


def admin_account(app: Flask) -> StaffAccount:
    """The first admin made by setup (enrolled, TOTP printed once)."""
    secret = base64.b32decode(app.config["TEST_INSTANCE"].totp_secret)
    return StaffAccount(ADMIN_EMAIL, ADMIN_PASSWORD, secret)


def make_staff(app: Flask, role: str = "investigator", email: str | None = None) -> StaffAccount:
    """An enrolled staff member of `role`, holding a wrapped copy of the private key."""
    from portal.extensions import db
    from portal.models import Role
    from portal.services import setup as setup_service
    from portal.services import staff

    email = email or f"{role}-{secrets.token_hex(3)}@inspektorat.example"
    password = f"password of {email}"
    with app.app_context():
        private_key = setup_service.private_key_from_recovery(
            app.config["TEST_INSTANCE"].recovery_key
        )
        secret = staff.create_staff(
            email=email,
            role=Role(role),
            password=password,
            private_key=private_key,
            must_change_password=False,
            totp_enrolled=True,
        )
        db.session.commit()
    return StaffAccount(email, password, base64.b32decode(secret))


def totp_for(app: Flask, account: StaffAccount) -> str:
    """A TOTP code the server has not seen yet for this member (codes work once)."""
    from portal import crypto
    from portal.extensions import db
    from portal.models import Staff

    with app.app_context():
        member = db.session.scalars(db.select(Staff).where(Staff.email == account.email)).one()
        last = member.totp_last_step
    # The current step first: the server takes one step either side, so the code stays good
    # however long a loaded machine takes to deliver the request (current - 1 expired when a
    # step boundary fell in between). Then the next step; past that, wait for a new step.
    step = max(last + 1, int(time.time()) // crypto.TOTP_STEP_SECONDS)
    while step > int(time.time()) // crypto.TOTP_STEP_SECONDS + 1:
        time.sleep(0.2)
    return crypto.totp_code(account.totp_secret, step * crypto.TOTP_STEP_SECONDS)


def staff_login(app: Flask, client: FlaskClient, account: StaffAccount) -> Any:
    """Sign in on the staff side; returns the response (303 on success)."""
    token = csrf_token(client, "/inspectorate/login")
    return client.post(
        "/inspectorate/login",
        data={
            "email": account.email,
            "password": account.password,
            "code": totp_for(app, account),
            "csrf_token": token,
        },
    )
