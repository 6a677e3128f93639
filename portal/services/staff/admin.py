"""Staff administration: adding, disabling, roles, password resets, sessions, recovery.

The web admin's operations take the acting admin (`actor`), check what the admin may not
do (their own account, the last admin, an admin reset without a second admin) and audit;
each flushes in the caller's `atomic()` block. `create_staff` is the one unchecked,
unaudited insert, for the shell and the tests, whose callers audit themselves.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy.exc import IntegrityError

from portal import crypto, kdf
from portal.extensions import db
from portal.models import PortalSession, Role, SessionKind, Staff
from portal.models.base import utcnow
from portal.services import audit, sessions, throttle
from portal.services.staff.auth import ACCOUNT_SCOPE
from portal.services.staff.credentials import (
    check_new_password,
    find_by_email,
    new_member,
    new_totp_secret,
    rewrap,
    totp_display,
)
from portal.transaction import RecordedRefusal


class DuplicateEmail(ValueError):
    """A staff member with this email already exists."""


class OwnAccount(Exception):
    """An admin tried to disable, demote or reset their own account."""


class LastAdmin(Exception):
    """The change would leave no active admin."""


class NotAnAdmin(Exception):
    """Offline recovery is only for admins; an admin resets everyone else."""


class ResetRequested(RecordedRefusal):
    """Resetting an admin's account was asked for; a second admin must confirm it.

    The request itself is kept (and audited) although the reset is refused.
    """


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
    """Insert a member whose password wraps the private key; returns the TOTP secret.

    Unchecked and unaudited: the shell (`flask staff add`) and tests call it and audit
    themselves; the web admin goes through `add_member`. The TOTP secret is returned in
    base32 for an authenticator app and stored only wrapped under the member's
    password-derived key. `vouched_by` is the admin who receives the one-time password
    (None from the server's shell). The read transaction ends before the slow derivation,
    so this comes before the block's first write.
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


def add_member(*, actor: Staff, email: str, role: Role, private_key: crypto.PrivateKey) -> str:
    """An admin adds a member; returns the one-time password to hand over; audited.

    DuplicateEmail if the email exists, also when it was added elsewhere a moment ago.
    """
    if find_by_email(email) is not None:
        raise DuplicateEmail()
    one_time_password = secrets.token_urlsafe(12)
    create_staff(
        email=email,
        role=role,
        password=one_time_password,
        private_key=private_key,
        vouched_by=actor,
    )
    try:
        db.session.flush()
    except IntegrityError as error:  # the same email added at the same moment elsewhere
        raise DuplicateEmail() from error
    audit.record(
        actor=actor.email, action="staff.created", target=email.strip().lower(), detail=role
    )
    return one_time_password


def disable_member(member: Staff, *, actor: Staff) -> bool:
    """Disable another member: their sessions end and their wrapped keys are deleted.

    Never oneself (OwnAccount), never the last active admin (LastAdmin). Returns False
    (and records nothing) if the member was already disabled.
    """
    if member.id == actor.id:
        raise OwnAccount()
    if not member.active:
        return False
    if member.role == Role.ADMIN and not _keeps_an_admin(member):
        raise LastAdmin()
    member.active = False
    member.wrapped_private_key = None
    member.sealed_inspectorate_key = None
    member.wrapped_member_key = None
    member.public_key = None
    sessions.end_all_for_staff(member.id)
    audit.record(actor=actor.email, action="staff.disabled", target=member.email)
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
    return True


def _request_reset(member: Staff, actor: Staff) -> ResetRequested:
    """Note that `actor` asks for the member's reset (audited); the refusal to raise."""
    member.reset_requested_by_id = actor.id
    audit.record(actor=actor.email, action="staff.reset_requested", target=member.email)
    return ResetRequested()


def reset_password(member: Staff, *, actor: Staff, private_key: crypto.PrivateKey) -> str:
    """Give another member a one-time password (returned) and a fresh copy of the key.

    They must choose a password and enrol a new authenticator at their next sign-in;
    their sessions end. A disabled member is enabled again this way. The resetting
    admin becomes the account's voucher (services/four_eyes.py).

    An account that is or was an admin is reset only by two admins: the first asks
    (ResetRequested, the request kept), a second one confirms and receives the one-time
    password, so no admin can take another admin's account over alone.
    """
    if member.id == actor.id:
        raise OwnAccount()
    if member.admin_ever or member.role == Role.ADMIN:
        requester = member.reset_requested_by_id
        if requester is None:
            raise _request_reset(member, actor)
        if requester == actor.id:
            raise ResetRequested()  # asked already; a second admin must confirm
        requested_by = db.session.get(Staff, requester)
        if requested_by is None or not requested_by.active or requested_by.role != Role.ADMIN:
            # The asking admin left or lost the role: their request lapses.
            raise _request_reset(member, actor)
    one_time_password = secrets.token_urlsafe(12)
    reactivated = not member.active
    rewrap(member, one_time_password, private_key, new_totp_secret())
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
    return one_time_password


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
    rewrap(member, new_password, private_key, totp_secret)
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
    return totp_display(totp_secret)
