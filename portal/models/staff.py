"""Inspectorate staff accounts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class Role(StrEnum):
    """What a staff member may do (DESIGN.md, "Who uses it")."""

    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    AUDITOR = "auditor"


# The one list of roles that handle reports (queue, case pages, operator intake,
# publication, assignment). Where members are listed for assigning, only active ones.
HANDLER_ROLES = frozenset({Role.ADMIN, Role.INVESTIGATOR})
# The roles that read the audit log.
OVERSIGHT_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})


class Staff(db.Model):  # type: ignore[name-defined]
    """A staff member; the password unlocks their wrapped copy of the inspectorate key."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=True)
    # Set once the member has confirmed an authenticator code at enrolment.
    totp_enrolled: Mapped[bool] = mapped_column(default=False)
    # The last TOTP time step accepted: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(default=0)
    # Argon2id(password) feeds two HKDF subkeys: a verifier and a wrapping key.
    password_salt: Mapped[bytes] = mapped_column(LargeBinary)
    password_kdf: Mapped[str] = mapped_column(String(64))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary)
    # Before per-member key pairs: the inspectorate private key wrapped directly under the
    # wrapping key. Migrated to the three columns below at the member's next sign-in.
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The member's own X25519 key pair: the private half wrapped under the wrapping key,
    # and the inspectorate private key sealed to the public half. Rotation seals a new
    # inspectorate key to every active member's public key, without anyone's password.
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_member_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_inspectorate_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_totp_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Four eyes (services/four_eyes.py). The admin who last created, re-enabled or reset
    # this account, and so held its one-time password: None for accounts made from the
    # server's shell (setup, `flask staff add`, recover). Whoever set an account up may
    # have enrolled it themselves, so it never counts as a second pair of eyes for them.
    vouched_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Ever an admin: resetting such an account needs a second admin, even after a
    # demotion (demote, reset, promote would otherwise take an admin account over).
    admin_ever: Mapped[bool] = mapped_column(default=False, server_default=false())
    # An admin's request to reset this (admin) account, awaiting another admin.
    reset_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Raised by every password reset: a device cookie (inspectorate/devices.py) made under
    # an older value no longer makes its browser a trusted device of this account.
    device_generation: Mapped[int] = mapped_column(default=0, server_default=text("0"))
