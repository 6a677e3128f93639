"""Staff accounts: passwords that unwrap the inspectorate key, TOTP, lifecycle."""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass

from flask import current_app

from portal import crypto
from portal.extensions import db
from portal.models import Role, Staff
from portal.services import audit, sessions, throttle

TOTP_SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
MIN_PASSWORD_LENGTH = 12
ACCOUNT_SCOPE = "staff-login-account"


class WrongPassword(Exception):
    """The password does not match this staff member."""


class LoginFailed(Exception):
    """Email, password or code is wrong (which one is not said)."""


class AccountLocked(Exception):
    """Too many failed logins for this account; it unlocks by itself later."""


class WeakPassword(ValueError):
    """A new password that is too short or equal to the old one."""


@dataclass(frozen=True)
class Unlocked:
    """A staff member whose password opened their wrapped keys."""

    member: Staff
    private_key: crypto.PrivateKey
    totp_secret: bytes


def _aad(email: str, what: str) -> bytes:
    return f"staff/{what}/{email}".encode()


def new_totp_secret() -> bytes:
    """A fresh random TOTP secret."""
    return os.urandom(TOTP_SECRET_BYTES)


def totp_display(secret: bytes) -> str:
    """The base32 form authenticator apps take."""
    return base64.b32encode(secret).decode()


def _wrap(member: Staff, password: str, private_key: crypto.PrivateKey, totp_secret: bytes) -> None:
    """(Re)wrap the private key and TOTP secret under a key derived from `password`."""
    salt = crypto.random_salt()
    params = crypto.KdfParams.from_config(current_app.config["PASSWORD_KDF"])
    keys = crypto.password_keys(password, salt, params)
    member.password_salt = salt
    member.password_kdf = params.encode()
    member.password_verifier = keys.verifier
    member.wrapped_private_key = crypto.encrypt(
        keys.wrapping_key, private_key, _aad(member.email, "key")
    )
    member.wrapped_totp_secret = crypto.encrypt(
        keys.wrapping_key, totp_secret, _aad(member.email, "totp")
    )


def create_staff(
    *,
    email: str,
    role: Role,
    password: str,
    private_key: crypto.PrivateKey,
    must_change_password: bool = True,
    totp_enrolled: bool = False,
) -> str:
    """Add a staff member whose password wraps the private key; returns the TOTP secret.

    The TOTP secret is returned in base32 for an authenticator app and stored only
    wrapped under the member's password-derived key. The caller commits.
    """
    totp_secret = new_totp_secret()
    member = Staff(
        email=email.strip().lower(),
        role=role,
        must_change_password=must_change_password,
        totp_enrolled=totp_enrolled,
    )
    _wrap(member, password, private_key, totp_secret)
    db.session.add(member)
    return totp_display(totp_secret)


def unlock(member: Staff, password: str) -> tuple[crypto.PrivateKey, bytes]:
    """Check the password; return the member's private key and TOTP secret.

    One Argon2id run yields both the verifier and the wrapping key, so a correct
    password is exactly one whose verifier matches and whose wrapped copies open.
    """
    params = crypto.KdfParams.decode(member.password_kdf)
    keys = crypto.password_keys(password, member.password_salt, params)
    if not crypto.constant_time_equal(keys.verifier, member.password_verifier):
        raise WrongPassword()
    if member.wrapped_private_key is None:
        raise WrongPassword()
    private_key = crypto.decrypt(
        keys.wrapping_key, member.wrapped_private_key, _aad(member.email, "key")
    )
    totp_secret = crypto.decrypt(
        keys.wrapping_key, member.wrapped_totp_secret, _aad(member.email, "totp")
    )
    return crypto.PrivateKey(private_key), totp_secret


def find_by_email(email: str) -> Staff | None:
    """The staff member with this email (case-insensitive), if any."""
    return db.session.scalars(db.select(Staff).where(Staff.email == email.strip().lower())).first()


def accept_totp(member: Staff, secret: bytes, code: str) -> bool:
    """Accept a TOTP code once: within ±1 step and newer than the last accepted one."""
    step = crypto.totp_matching_step(secret, code.strip().replace(" ", ""), time.time())
    if step is None or step <= member.totp_last_step:
        return False
    member.totp_last_step = step
    return True


def authenticate(email: str, password: str, code: str) -> Unlocked:
    """Check email, password and (once enrolled) TOTP; audit the attempt; commit.

    Failures count against the account (from any address); past the limit the
    account is locked (AccountLocked) until the window passes. Members not yet
    enrolled sign in with the password alone and may then only enrol.
    """
    limit = current_app.config["RATELIMIT_STAFF_FAILURES"]
    subject = email.strip().lower()
    if throttle.is_locked(ACCOUNT_SCOPE, subject, limit):
        audit.record(actor=subject[:254], action="login.locked")
        db.session.commit()
        raise AccountLocked()
    member = find_by_email(subject)
    try:
        if member is None or not member.active:
            # Same Argon2id cost as a real check, so timing does not reveal accounts.
            crypto.password_keys(password, crypto.random_salt(), _current_params())
            raise LoginFailed()
        private_key, totp_secret = unlock(member, password)
        if member.totp_enrolled and not accept_totp(member, totp_secret, code):
            raise LoginFailed()
    except (WrongPassword, LoginFailed) as error:
        throttle.record_failure(ACCOUNT_SCOPE, subject, limit)
        audit.record(actor=subject[:254], action="login.failed")
        db.session.commit()
        raise LoginFailed() from error
    throttle.clear(ACCOUNT_SCOPE, subject, limit)
    audit.record(actor=member.email, action="login.ok")
    db.session.commit()
    return Unlocked(member, private_key, totp_secret)


def _current_params() -> crypto.KdfParams:
    return crypto.KdfParams.from_config(current_app.config["PASSWORD_KDF"])


def check_new_password(new_password: str, old_password: str | None = None) -> None:
    """Raise WeakPassword for a password that is too short or unchanged."""
    if len(new_password) < MIN_PASSWORD_LENGTH or new_password == old_password:
        raise WeakPassword()


def change_password(
    member: Staff, *, private_key: crypto.PrivateKey, current: str, new: str
) -> None:
    """Re-wrap the member's keys under a new password (the current one must match)."""
    check_new_password(new, current)
    _, totp_secret = unlock(member, current)
    _wrap(member, new, private_key, totp_secret)
    member.must_change_password = False
    audit.record(actor=member.email, action="staff.password_changed", target=member.email)
    db.session.commit()


def enrol(
    member: Staff,
    *,
    private_key: crypto.PrivateKey,
    new_password: str,
    totp_secret: bytes,
    code: str,
) -> bool:
    """First login: set a new password and a confirmed TOTP secret; False if the code is wrong."""
    check_new_password(new_password)
    if not accept_totp(member, totp_secret, code):
        return False
    _wrap(member, new_password, private_key, totp_secret)
    member.must_change_password = False
    member.totp_enrolled = True
    audit.record(actor=member.email, action="staff.enrolled", target=member.email)
    db.session.commit()
    return True


def add_member(*, actor: Staff, email: str, role: Role, private_key: crypto.PrivateKey) -> str:
    """An admin adds a member; returns the one-time password to hand over."""
    one_time_password = secrets.token_urlsafe(12)
    create_staff(email=email, role=role, password=one_time_password, private_key=private_key)
    audit.record(
        actor=actor.email, action="staff.created", target=email.strip().lower(), detail=role
    )
    db.session.commit()
    return one_time_password


def disable(member: Staff, *, actor: Staff) -> None:
    """Disable a member: their sessions end and their wrapped key is deleted."""
    member.active = False
    member.wrapped_private_key = None
    sessions.end_all_for_staff(member.id)
    audit.record(actor=actor.email, action="staff.disabled", target=member.email)
    db.session.commit()
