"""Staff accounts: passwords that unwrap the inspectorate key, TOTP, lifecycle."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal import crypto, kdf
from portal.extensions import db
from portal.models import PortalSession, Role, SessionKind, Staff
from portal.models.base import utcnow
from portal.services import audit, sessions, throttle

TOTP_SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends
MIN_PASSWORD_LENGTH = 12
# Failed-login budgets: per account from untrusted devices, per account and address,
# per account and trusted device.
ACCOUNT_SCOPE = "staff-login-account"
ADDRESS_SCOPE = "staff-login-address"
DEVICE_SCOPE = "staff-login-device"


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


@dataclass(frozen=True)
class _PasswordRecord:
    """A member's password-dependent columns, computed before any of them is written."""

    salt: bytes
    kdf: str
    verifier: bytes
    public_key: bytes
    wrapped_member_key: bytes
    sealed_inspectorate_key: bytes
    wrapped_totp_secret: bytes

    def store(self, member: Staff) -> None:
        """Write the record onto the member (the caller commits)."""
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
) -> _PasswordRecord:
    """A fresh member key pair under `password`, with the inspectorate key sealed to it.

    A new pair at every password change or reset: a copy of the old wrapped pair (in a
    backup) then opens only what the next key rotation takes away from it. The
    derivation is slow: the caller holds no database transaction (see portal/kdf.py).
    """
    salt = crypto.random_salt()
    params = _current_params()
    keys = crypto.password_keys(password, salt, params, slots=kdf.slots())
    member_private, member_public = crypto.generate_keypair()
    return _PasswordRecord(
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


def _wrap(member: Staff, password: str, private_key: crypto.PrivateKey, totp_secret: bytes) -> None:
    """Give the member a fresh key pair under `password`, the inspectorate key sealed to it.

    The derivation is slow, so the read transaction ends first (see portal/kdf.py):
    `member` is reloaded when next read, and unsaved changes are refused.
    """
    email = member.email
    kdf.release_connection()
    _password_record(email, password, private_key, totp_secret).store(member)


def create_staff(
    *,
    email: str,
    role: Role,
    password: str,
    private_key: crypto.PrivateKey,
    must_change_password: bool = True,
    totp_enrolled: bool = False,
    vouched_by: Staff | None = None,
) -> str:
    """Add a staff member whose password wraps the private key; returns the TOTP secret.

    The TOTP secret is returned in base32 for an authenticator app and stored only
    wrapped under the member's password-derived key. `vouched_by` is the admin who
    receives the one-time password (None from the server's shell). The caller commits;
    unsaved changes are refused, since the read transaction ends before the slow derivation.
    """
    # Read before the connection goes: the derivation may not wait holding one.
    voucher_id = vouched_by.id if vouched_by is not None else None
    kdf.release_connection()
    member, totp_secret = new_member(
        email=email,
        role=role,
        password=password,
        private_key=private_key,
        must_change_password=must_change_password,
        totp_enrolled=totp_enrolled,
        vouched_by_id=voucher_id,
    )
    db.session.add(member)
    return totp_secret


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


# The audit log's actor for a sign-in attempt on an address that is no staff account.
UNKNOWN_ACCOUNT = "unknown account"


def find_by_email(email: str) -> Staff | None:
    """The staff member with this email (case-insensitive), if any."""
    return db.session.scalars(db.select(Staff).where(Staff.email == email.strip().lower())).first()


def accept_totp(member: Staff, secret: bytes, code: str, *, fresh_secret: bool = False) -> bool:
    """Accept a TOTP code once: within ±1 step and newer than the last accepted one.

    The step is claimed with one conditional UPDATE, so two sign-ins sending the same
    code at the same moment (on one server or two) cannot both pass. A `fresh_secret`
    (enrolment) has had no code used yet: the last step belongs to the old secret and
    must not refuse a code of the window the member signed in in.
    """
    step = crypto.totp_matching_step(secret, code.strip().replace(" ", ""), time.time())
    if step is None or (not fresh_secret and step <= member.totp_last_step):
        return False
    claim = db.update(Staff).where(Staff.id == member.id).values(totp_last_step=step)
    if not fresh_secret:
        claim = claim.where(Staff.totp_last_step < step)
    claimed = db.session.execute(claim)
    return int(claimed.rowcount or 0) == 1  # type: ignore[attr-defined]


def authenticate(
    email: str,
    password: str,
    code: str,
    *,
    client: str,
    device: tuple[int, str, int] | None = None,
) -> Unlocked:
    """Check email, password and (once enrolled) TOTP; audit the attempt; commit.

    `client` is the address (only ever hashed, under the rotating secret); `device` the
    (member id, device id, device generation) of
    a browser that signed in before, from its signed cookie. Failures count three ways
    (docs/threat-model.md, "Guessing"): per account and address, and per account from
    every untrusted device together; from a trusted device of this account, per
    device instead. Past a limit that way is locked (AccountLocked) until the window
    passes, so a stranger who knows the email can lock out other strangers, never
    the member's own browser. Members not yet enrolled sign in with the password alone
    and may then only enrol. DerivationBusy (no key-derivation slot in time) leaves no
    trace: nothing was checked.
    """
    config = current_app.config
    subject = email.strip().lower()
    member = find_by_email(subject)
    # A cookie from before the account's last password reset is no longer trusted.
    trusted = (
        device is not None
        and member is not None
        and device[0] == member.id
        and device[2] == member.device_generation
    )
    # (scope, subject, limit) of every budget this attempt draws on.
    budgets = (
        [(DEVICE_SCOPE, f"{device[1]}/{subject}", config["RATELIMIT_STAFF_FAILURES"])]
        if trusted and device is not None
        else [
            (ADDRESS_SCOPE, f"{client}/{subject}", config["RATELIMIT_STAFF_FAILURES"]),
            (ACCOUNT_SCOPE, subject, config["RATELIMIT_STAFF_ACCOUNT_FAILURES"]),
        ]
    )
    # Whatever an anonymous visitor types never reaches the permanent log: an address
    # that is no account is recorded as such, not as typed (a name, a phone number...).
    audited = member.email if member is not None else UNKNOWN_ACCOUNT
    if any(throttle.is_locked(*budget) for budget in budgets):
        audit.record(actor=audited, action="login.locked")
        db.session.commit()
        raise AccountLocked()
    try:
        if member is None or not member.active:
            # Same Argon2id cost as a real check, so timing does not reveal accounts.
            kdf.release_connection()
            crypto.password_keys(
                password, crypto.random_salt(), _current_params(), slots=kdf.slots()
            )
            raise LoginFailed()
        private_key, totp_secret = unlock(member, password)
        if member.totp_enrolled and not accept_totp(member, totp_secret, code):
            raise LoginFailed()
    except (WrongPassword, LoginFailed) as error:
        for budget in budgets:
            throttle.record_failure(*budget)
        audit.record(actor=audited, action="login.failed")
        db.session.commit()
        raise LoginFailed() from error
    # The account-wide budget is not cleared: a success must not hand a stranger who
    # shares it a fresh allowance. It runs out with its window.
    for scope, name, limit in budgets:
        if scope != ACCOUNT_SCOPE:
            throttle.clear(scope, name, limit)
    audit.record(actor=member.email, action="login.ok")
    db.session.commit()
    if member.wrapped_private_key is not None:
        # Migrate to a per-member key pair now that the password is at hand (after the
        # commit: the slow derivation runs outside any transaction).
        _wrap(member, password, private_key, totp_secret)
        audit.record(actor=member.email, action="staff.key_pair_created", target=member.email)
        db.session.commit()
    return Unlocked(member, private_key, totp_secret)


def _current_params() -> crypto.KdfParams:
    return crypto.KdfParams.from_config(current_app.config["PASSWORD_KDF"])


def check_new_password(new_password: str, old_password: str | None = None) -> None:
    """Raise WeakPassword for a password that is too short or unchanged."""
    if len(new_password) < MIN_PASSWORD_LENGTH or new_password == old_password:
        raise WeakPassword()


def change_password(
    member: Staff,
    *,
    private_key: crypto.PrivateKey,
    current: str,
    new: str,
    keep_session_id: int | None = None,
) -> int:
    """Re-wrap the member's keys under a new password (the current one must match).

    Every other session of the member ends: a password changed because it leaked must
    also throw out whoever signed in with it. Returns how many sessions ended.
    """
    check_new_password(new, current)
    _, totp_secret = unlock(member, current)
    _wrap(member, new, private_key, totp_secret)
    member.must_change_password = False
    ended = sessions.end_all_for_staff(member.id, except_id=keep_session_id)
    audit.record(
        actor=member.email,
        action="staff.password_changed",
        target=member.email,
        detail=f"other_sessions_ended={ended}",
    )
    db.session.commit()
    return ended


def enrol(
    member: Staff,
    *,
    private_key: crypto.PrivateKey,
    new_password: str,
    totp_secret: bytes,
    code: str,
) -> bool:
    """First login: set a new password and a confirmed TOTP secret; False if the code is wrong.

    The secret is new, so no code of it can have been used: the step last accepted belongs
    to the old secret and must not refuse a code of the window the member signed in in.
    """
    check_new_password(new_password)
    # The slow derivation first: claiming the code writes, and no write may wait on it.
    _wrap(member, new_password, private_key, totp_secret)
    if not accept_totp(member, totp_secret, code, fresh_secret=True):
        db.session.rollback()
        return False
    member.must_change_password = False
    member.totp_enrolled = True
    audit.record(actor=member.email, action="staff.enrolled", target=member.email)
    db.session.commit()
    return True


def add_member(*, actor: Staff, email: str, role: Role, private_key: crypto.PrivateKey) -> str:
    """An admin adds a member; returns the one-time password to hand over."""
    one_time_password = secrets.token_urlsafe(12)
    create_staff(
        email=email,
        role=role,
        password=one_time_password,
        private_key=private_key,
        vouched_by=actor,
    )
    audit.record(
        actor=actor.email, action="staff.created", target=email.strip().lower(), detail=role
    )
    db.session.commit()
    return one_time_password


def disable(member: Staff, *, actor: Staff) -> None:
    """Disable a member: their sessions end and their wrapped key is deleted."""
    member.active = False
    member.wrapped_private_key = None
    member.sealed_inspectorate_key = None
    member.wrapped_member_key = None
    member.public_key = None
    sessions.end_all_for_staff(member.id)
    audit.record(actor=actor.email, action="staff.disabled", target=member.email)
    db.session.commit()


# --- Admin: members, roles, password resets, sessions; offline recovery ---------------


class DuplicateEmail(ValueError):
    """A staff member with this email already exists."""


class OwnAccount(Exception):
    """An admin tried to disable, demote or reset their own account."""


class LastAdmin(Exception):
    """The change would leave no active admin."""


class NotAnAdmin(Exception):
    """Offline recovery is only for admins; an admin resets everyone else."""


class ResetRequested(Exception):
    """Resetting an admin's account was asked for; a second admin must confirm it."""


class SessionNotFound(LookupError):
    """No live staff session has this id."""


def members() -> list[Staff]:
    """Every staff member, active ones first, then by email."""
    return list(db.session.scalars(db.select(Staff).order_by(Staff.active.desc(), Staff.email)))


def live_sessions() -> list[tuple[PortalSession, Staff]]:
    """Staff sessions within their idle and absolute limits, most recently used first.

    Only ids and times leave here: token hashes and sealed keys stay in the database.
    """
    config = current_app.config
    now = utcnow()
    idle = timedelta(minutes=config["STAFF_SESSION_IDLE_MINUTES"])
    absolute = timedelta(minutes=config["STAFF_SESSION_MAX_MINUTES"])
    rows = db.session.execute(
        db.select(PortalSession, Staff)
        .join(Staff, PortalSession.staff_id == Staff.id)
        .where(
            PortalSession.kind == SessionKind.STAFF,
            PortalSession.last_seen_at >= now - idle,
            PortalSession.created_at >= now - absolute,
        )
        .order_by(PortalSession.last_seen_at.desc(), PortalSession.id.desc())
    )
    return [(row[0], row[1]) for row in rows]


def _active_admins() -> list[Staff]:
    """Active admins, locked for this transaction where the database can lock rows."""
    return list(
        db.session.scalars(
            db.select(Staff)
            .where(Staff.role == Role.ADMIN, Staff.active.is_(True))
            .with_for_update()
        )
    )


def _keeps_an_admin(member: Staff) -> bool:
    """Whether some other active admin remains if `member` stops being one."""
    return any(admin.id != member.id for admin in _active_admins())


def create_member(*, actor: Staff, email: str, role: Role, private_key: crypto.PrivateKey) -> str:
    """Add a member with a one-time password (returned); DuplicateEmail if the email exists."""
    if find_by_email(email) is not None:
        raise DuplicateEmail()
    try:
        return add_member(actor=actor, email=email, role=role, private_key=private_key)
    except IntegrityError as error:  # the same email added at the same moment elsewhere
        db.session.rollback()
        raise DuplicateEmail() from error


def disable_member(member: Staff, *, actor: Staff) -> bool:
    """Disable another member; never oneself, never the last active admin.

    Returns False (and records nothing) if the member was already disabled.
    """
    if member.id == actor.id:
        raise OwnAccount()
    if not member.active:
        return False
    if member.role == Role.ADMIN and not _keeps_an_admin(member):
        raise LastAdmin()
    disable(member, actor=actor)
    return True


def change_role(member: Staff, *, actor: Staff, role: Role) -> bool:
    """Give another member a new role (audited); False if it was already theirs."""
    if member.id == actor.id:
        raise OwnAccount()
    if member.role == role:
        return False
    if member.role == Role.ADMIN and member.active and not _keeps_an_admin(member):
        raise LastAdmin()
    old = member.role
    member.role = role
    if role == Role.ADMIN:
        member.admin_ever = True
    audit.record(
        actor=actor.email,
        action="staff.role_changed",
        target=member.email,
        detail=json.dumps({"old": old, "new": str(role)}),
    )
    db.session.commit()
    return True


def reset_password(member: Staff, *, actor: Staff, private_key: crypto.PrivateKey) -> str:
    """Give another member a one-time password (returned) and a fresh copy of the key.

    They must choose a password and enrol a new authenticator at their next sign-in;
    their sessions end. A disabled member is enabled again this way. The resetting
    admin becomes the account's voucher (services/four_eyes.py).

    An account that is or was an admin is reset only by two admins: the first asks
    (ResetRequested), a second one confirms and receives the one-time password, so no
    admin can take another admin's account over alone.
    """
    if member.id == actor.id:
        raise OwnAccount()
    if member.admin_ever or member.role == Role.ADMIN:
        requester = member.reset_requested_by_id
        if requester is None or requester == actor.id:
            if requester is None:
                member.reset_requested_by_id = actor.id
                audit.record(actor=actor.email, action="staff.reset_requested", target=member.email)
                db.session.commit()
            raise ResetRequested()
        requested_by = db.session.get(Staff, requester)
        if requested_by is None or not requested_by.active or requested_by.role != Role.ADMIN:
            # The asking admin left or lost the role: their request lapses.
            member.reset_requested_by_id = actor.id
            audit.record(actor=actor.email, action="staff.reset_requested", target=member.email)
            db.session.commit()
            raise ResetRequested()
    one_time_password = secrets.token_urlsafe(12)
    reactivated = not member.active
    _wrap(member, one_time_password, private_key, new_totp_secret())
    member.totp_last_step = 0  # a new secret: no code of it has been used yet
    member.active = True
    member.must_change_password = True
    member.totp_enrolled = False
    member.vouched_by_id = actor.id
    requested_by_id, member.reset_requested_by_id = member.reset_requested_by_id, None
    sessions.end_all_for_staff(member.id)
    member.device_generation += 1  # and its browsers are no longer trusted devices
    throttle.clear(
        ACCOUNT_SCOPE, member.email, current_app.config["RATELIMIT_STAFF_ACCOUNT_FAILURES"]
    )
    details = ["reactivated"] if reactivated else []
    if requested_by_id is not None:
        asker = db.session.get(Staff, requested_by_id)
        details.append(f"requested_by={asker.email if asker else requested_by_id}")
    audit.record(
        actor=actor.email,
        action="staff.password_reset",
        target=member.email,
        detail=" ".join(details),
    )
    db.session.commit()
    return one_time_password


def sign_out(member: Staff, session: PortalSession, *, everywhere: bool) -> None:
    """End this session (or every session of the member), audited; committed."""
    if everywhere:
        sessions.end_all_for_staff(member.id)
    else:
        db.session.delete(session)
    audit.record(actor=member.email, action="logout.everywhere" if everywhere else "logout")
    db.session.commit()


def revoke_session(session_id: int, *, actor: Staff) -> Staff:
    """End one staff session (audited); returns whose it was."""
    row = db.session.get(PortalSession, session_id)
    member = db.session.get(Staff, row.staff_id) if row and row.staff_id else None
    if row is None or row.kind != SessionKind.STAFF or member is None:
        raise SessionNotFound()
    db.session.delete(row)
    audit.record(
        actor=actor.email, action="session.revoked", target=member.email, detail=str(session_id)
    )
    db.session.commit()
    return member


def recover_admin(member: Staff, *, private_key: crypto.PrivateKey, new_password: str) -> str:
    """Offline recovery: re-wrap the key for an admin under a new password and TOTP secret.

    `private_key` comes from the recovery key. The admin's sessions end; the new TOTP
    secret is returned once, in base32.
    """
    if member.role != Role.ADMIN:
        raise NotAnAdmin()
    check_new_password(new_password)
    totp_secret = new_totp_secret()
    _wrap(member, new_password, private_key, totp_secret)
    member.totp_last_step = 0  # a new secret: no code of it has been used yet
    member.active = True
    member.must_change_password = False
    member.totp_enrolled = True
    # The shell's recovery key holder set this account up, not a web admin.
    member.vouched_by_id = None
    member.reset_requested_by_id = None
    sessions.end_all_for_staff(member.id)
    throttle.clear(
        ACCOUNT_SCOPE, member.email, current_app.config["RATELIMIT_STAFF_ACCOUNT_FAILURES"]
    )
    audit.record(actor="recover", action="staff.recovered", target=member.email)
    db.session.commit()
    return totp_display(totp_secret)
