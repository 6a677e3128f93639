"""Staff sign-in: password and TOTP with failure budgets, enrolment, password change, sign-out.

Each function flushes in the caller's `atomic()` block. A refused sign-in is a
RecordedRefusal: the block keeps its trace (the failure counted, the attempt audited).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from portal import crypto, kdf
from portal.extensions import db
from portal.models import PortalSession, Staff
from portal.services import audit, sessions, throttle
from portal.services.staff.credentials import (
    PasswordRecord,
    WrongPassword,
    accept_totp,
    check_new_password,
    current_params,
    derive_record,
    find_by_email,
    rewrap,
    unlock,
)
from portal.transaction import RecordedRefusal

# Failed-login budgets: per account from untrusted devices, per account and address,
# per account and trusted device.
ACCOUNT_SCOPE = "staff-login-account"
ADDRESS_SCOPE = "staff-login-address"
DEVICE_SCOPE = "staff-login-device"
# The audit log's actor for a sign-in attempt on an address that is no staff account.
UNKNOWN_ACCOUNT = "unknown account"


class LoginFailed(RecordedRefusal):
    """Email, password or code is wrong (which one is not said)."""


class AccountLocked(RecordedRefusal):
    """Too many failed logins for this account; it unlocks by itself later."""


@dataclass(frozen=True)
class Unlocked:
    """A staff member whose password opened their wrapped keys."""

    member: Staff
    private_key: crypto.PrivateKey
    totp_secret: bytes


def authenticate(
    email: str,
    password: str,
    code: str,
    *,
    client: str,
    device: tuple[int, str, int] | None = None,
) -> Unlocked:
    """Check email, password and (once enrolled) TOTP; audit the attempt.

    `client` is the address (only ever hashed, under the rotating secret); `device` the
    (member id, device id, device generation) of a browser that signed in before, from its
    signed cookie.
    Failures count three ways (docs/threat-model.md, "Guessing"): per account and
    address, and per account from every untrusted device together; from a trusted device
    of this account, per device instead. Past a limit that way is locked (AccountLocked)
    until the window passes, so a stranger who knows the email can lock out other
    strangers, never the member's own browser. Members not yet enrolled sign in with the
    password alone and may then only enrol. DerivationBusy (no key-derivation slot in
    time) leaves no trace: nothing was checked, and the block rolls back.
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
        raise AccountLocked()
    upgrade: PasswordRecord | None = None
    try:
        if member is None or not member.active:
            # Same Argon2id cost as a real check, so timing does not reveal accounts.
            kdf.release_connection()
            crypto.password_keys(
                password, crypto.random_salt(), current_params(), slots=kdf.slots()
            )
            raise LoginFailed()
        private_key, totp_secret = unlock(member, password)
        if member.wrapped_private_key is not None:
            # From before per-member key pairs: derive the member's pair now that the
            # password is at hand, before anything is written (no write may wait on a
            # derivation); it is stored only if the sign-in succeeds.
            upgrade = derive_record(member, password, private_key, totp_secret)
        if member.totp_enrolled and not accept_totp(member, totp_secret, code):
            raise LoginFailed()
    except (WrongPassword, LoginFailed) as error:
        for budget in budgets:
            throttle.record_failure(*budget)
        audit.record(actor=audited, action="login.failed")
        raise LoginFailed() from error
    # The account-wide budget is not cleared: a success must not hand a stranger who
    # shares it a fresh allowance. It runs out with its window.
    for scope, name, limit in budgets:
        if scope != ACCOUNT_SCOPE:
            throttle.clear(scope, name, limit)
    audit.record(actor=member.email, action="login.ok")
    if upgrade is not None:
        upgrade.store(member)
        audit.record(actor=member.email, action="staff.key_pair_created", target=member.email)
    return Unlocked(member, private_key, totp_secret)


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
    WrongPassword or WeakPassword if refused.
    """
    check_new_password(new, current)
    _, totp_secret = unlock(member, current)
    rewrap(member, new, private_key, totp_secret)
    member.must_change_password = False
    ended = sessions.end_all_for_staff(member.id, except_id=keep_session_id)
    audit.record(
        actor=member.email,
        action="staff.password_changed",
        target=member.email,
        detail=f"other_sessions_ended={ended}",
    )
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
    record = derive_record(member, new_password, private_key, totp_secret)
    if not accept_totp(member, totp_secret, code, fresh_secret=True):
        return False  # nothing was written: a wrong code claims no step
    record.store(member)
    member.must_change_password = False
    member.totp_enrolled = True
    audit.record(actor=member.email, action="staff.enrolled", target=member.email)
    return True


def sign_out(member: Staff, session: PortalSession, *, everywhere: bool) -> None:
    """End this session (or every session of the member), audited."""
    if everywhere:
        sessions.end_all_for_staff(member.id)
    else:
        db.session.delete(session)
    audit.record(actor=member.email, action="logout.everywhere" if everywhere else "logout")
