"""Staff accounts: creation with a wrapped copy of the inspectorate private key."""

from __future__ import annotations

import base64
import os

from flask import current_app

from portal import crypto
from portal.extensions import db
from portal.models import Role, Staff

TOTP_SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends


def _aad(email: str, what: str) -> bytes:
    return f"staff/{what}/{email}".encode()


def create_staff(*, email: str, role: Role, password: str, private_key: crypto.PrivateKey) -> str:
    """Add a staff member whose password wraps the private key; returns the TOTP secret.

    The TOTP secret is returned in base32 for an authenticator app and stored only
    wrapped under the member's password-derived key.
    """
    email = email.strip().lower()
    salt = crypto.random_salt()
    params = crypto.KdfParams.from_config(current_app.config["PASSWORD_KDF"])
    keys = crypto.password_keys(password, salt, params)
    totp_secret = os.urandom(TOTP_SECRET_BYTES)
    member = Staff(
        email=email,
        role=role,
        password_salt=salt,
        password_kdf=params.encode(),
        password_verifier=keys.verifier,
        wrapped_private_key=crypto.encrypt(keys.wrapping_key, private_key, _aad(email, "key")),
        wrapped_totp_secret=crypto.encrypt(keys.wrapping_key, totp_secret, _aad(email, "totp")),
    )
    db.session.add(member)
    return base64.b32encode(totp_secret).decode()


class WrongPassword(Exception):
    """The password does not match this staff member."""


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
