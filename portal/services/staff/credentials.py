"""Staff credentials: the password record that unwraps the inspectorate key, and TOTP.

A member's password derives (Argon2id) a verifier and a wrapping key; the wrapping key
opens the member's own key pair, to which the inspectorate private key is sealed, and the
member's TOTP secret. The derivation is slow on purpose, so it never runs while the
session holds a transaction (portal/kdf.py): callers derive first, then write.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

from flask import current_app

from portal import crypto, kdf
from portal.extensions import db
from portal.models import Role, Staff

TOTP_SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
MIN_PASSWORD_LENGTH = 12


class WrongPassword(Exception):
    """The password does not match this staff member."""


class WeakPassword(ValueError):
    """A new password that is too short or equal to the old one."""


def _aad(email: str, what: str) -> bytes:
    return f"staff/{what}/{email}".encode()


def new_totp_secret() -> bytes:
    """A fresh random TOTP secret."""
    return os.urandom(TOTP_SECRET_BYTES)


def enrolment_secret(member: Staff, session_token: str) -> bytes:
    """The TOTP secret offered at enrolment: the same on every reload of one session.

    Derived from the session's token (only in the member's cookie; the database holds its
    hash), so it is never stored, survives a reload after the app was scanned, and a new
    sign-in offers a new one.
    """
    key = crypto.expand_key(session_token.encode(), b"", f"staff/totp-enrolment/{member.id}")
    return key[:TOTP_SECRET_BYTES]


def totp_display(secret: bytes) -> str:
    """The base32 form authenticator apps take."""
    return base64.b32encode(secret).decode()


def current_params() -> crypto.KdfParams:
    """The password KDF's parameters as configured now (stored with every record)."""
    return crypto.KdfParams.from_config(current_app.config["PASSWORD_KDF"])


def check_new_password(new_password: str, old_password: str | None = None) -> None:
    """Raise WeakPassword for a password that is too short or unchanged."""
    if len(new_password) < MIN_PASSWORD_LENGTH or new_password == old_password:
        raise WeakPassword()


@dataclass(frozen=True)
class PasswordRecord:
    """A member's password-dependent columns, computed before any of them is written."""

    salt: bytes
    kdf: str
    verifier: bytes
    public_key: bytes
    wrapped_member_key: bytes
    sealed_inspectorate_key: bytes
    wrapped_totp_secret: bytes

    def store(self, member: Staff) -> None:
        """Write the record onto the member (flushed with the caller's block)."""
        member.password_salt = self.salt
        member.password_kdf = self.kdf
        member.password_verifier = self.verifier
        member.public_key = self.public_key
        member.wrapped_member_key = self.wrapped_member_key
        member.sealed_inspectorate_key = self.sealed_inspectorate_key
        member.wrapped_private_key = None  # the pre-key-pair form, never written again
        member.wrapped_totp_secret = self.wrapped_totp_secret


def _password_record(
    email: str, password: str, private_key: crypto.PrivateKey, totp_secret: bytes
) -> PasswordRecord:
    """A fresh member key pair under `password`, with the inspectorate key sealed to it.

    A new pair at every password change or reset: a copy of the old wrapped pair (in a
    backup) then opens only what the next key rotation takes away from it. The
    derivation is slow: the caller holds no database transaction (see portal/kdf.py).
    """
    salt = crypto.random_salt()
    params = current_params()
    keys = crypto.password_keys(password, salt, params, slots=kdf.slots())
    member_private, member_public = crypto.generate_keypair()
    return PasswordRecord(
        salt=salt,
        kdf=params.encode(),
        verifier=keys.verifier,
        public_key=member_public,
        wrapped_member_key=crypto.encrypt(
            keys.wrapping_key, member_private, _aad(email, "member-key")
        ),
        sealed_inspectorate_key=_seal_to(member_public, email, private_key),
        wrapped_totp_secret=crypto.encrypt(keys.wrapping_key, totp_secret, _aad(email, "totp")),
    )


def _seal_to(public_key: bytes, email: str, private_key: crypto.PrivateKey) -> bytes:
    return crypto.seal(crypto.PublicKey(public_key), private_key, _aad(email, "inspectorate-key"))


def seal_inspectorate_key(member: Staff, private_key: crypto.PrivateKey) -> None:
    """Seal the inspectorate private key to the member's public key (no password needed)."""
    if member.public_key is None:
        raise ValueError("member has no key pair yet")
    member.sealed_inspectorate_key = _seal_to(member.public_key, member.email, private_key)


def derive_record(
    member: Staff, password: str, private_key: crypto.PrivateKey, totp_secret: bytes
) -> PasswordRecord:
    """A fresh record for `member` under `password`, not yet stored.

    The read transaction ends first (see portal/kdf.py), so this comes before the block's
    first write: `member` is reloaded when next read, and unsaved changes are refused.
    """
    email = member.email
    kdf.release_connection()
    return _password_record(email, password, private_key, totp_secret)


def rewrap(
    member: Staff, password: str, private_key: crypto.PrivateKey, totp_secret: bytes
) -> None:
    """Give the member a fresh key pair under `password`, the inspectorate key sealed to it."""
    derive_record(member, password, private_key, totp_secret).store(member)


def new_member(
    *,
    email: str,
    role: Role,
    password: str,
    private_key: crypto.PrivateKey,
    must_change_password: bool = True,
    totp_enrolled: bool = False,
    vouched_by_id: int | None = None,
) -> tuple[Staff, str]:
    """A new, unsaved member and their TOTP secret in base32; touches no database."""
    totp_secret = new_totp_secret()
    member = Staff(
        email=email.strip().lower(),
        role=role,
        must_change_password=must_change_password,
        totp_enrolled=totp_enrolled,
        vouched_by_id=vouched_by_id,
        admin_ever=role == Role.ADMIN,
    )
    _password_record(member.email, password, private_key, totp_secret).store(member)
    return member, totp_display(totp_secret)


def unlock(member: Staff, password: str) -> tuple[crypto.PrivateKey, bytes]:
    """Check the password; return the member's private key and TOTP secret.

    One Argon2id run yields both the verifier and the wrapping key, so a correct
    password is exactly one whose verifier matches and whose wrapped copies open.
    The columns are read first and the read transaction ends before the derivation,
    so `member` is reloaded when next read.
    """
    email, salt, params = member.email, member.password_salt, member.password_kdf
    verifier, wrapped_key = member.password_verifier, member.wrapped_private_key
    wrapped_totp = member.wrapped_totp_secret
    wrapped_member, sealed = member.wrapped_member_key, member.sealed_inspectorate_key
    kdf.release_connection()
    keys = crypto.password_keys(password, salt, crypto.KdfParams.decode(params), slots=kdf.slots())
    if not crypto.constant_time_equal(keys.verifier, verifier):
        raise WrongPassword()
    if wrapped_member is not None and sealed is not None:
        member_private = crypto.PrivateKey(
            crypto.decrypt(keys.wrapping_key, wrapped_member, _aad(email, "member-key"))
        )
        try:
            private_key = crypto.unseal(member_private, sealed, _aad(email, "inspectorate-key"))
        except crypto.DecryptionError as error:
            raise WrongPassword() from error
    elif wrapped_key is not None:  # from before per-member key pairs
        private_key = crypto.decrypt(keys.wrapping_key, wrapped_key, _aad(email, "key"))
    else:
        raise WrongPassword()  # disabled: no copy of the key is left
    totp_secret = crypto.decrypt(keys.wrapping_key, wrapped_totp, _aad(email, "totp"))
    return crypto.PrivateKey(private_key), totp_secret


def accept_totp(member: Staff, secret: bytes, code: str, *, fresh_secret: bool = False) -> bool:
    """Accept a TOTP code once: within ±1 step and newer than the last accepted one.

    The step is claimed with one conditional UPDATE, so two sign-ins sending the same
    code at the same moment (on one server or two) cannot both pass. A `fresh_secret`
    (enrolment) has had no code used yet: the last step belongs to the old secret and
    must not refuse a code of the window the member signed in in. A code that matches
    no step writes nothing.
    """
    step = crypto.totp_matching_step(secret, code.strip().replace(" ", ""), time.time())
    if step is None or (not fresh_secret and step <= member.totp_last_step):
        return False
    claim = db.update(Staff).where(Staff.id == member.id).values(totp_last_step=step)
    if not fresh_secret:
        claim = claim.where(Staff.totp_last_step < step)
    claimed = db.session.execute(claim)
    return int(claimed.rowcount or 0) == 1  # type: ignore[attr-defined]


def find_by_email(email: str) -> Staff | None:
    """The staff member with this email (case-insensitive), if any."""
    return db.session.scalars(db.select(Staff).where(Staff.email == email.strip().lower())).first()
