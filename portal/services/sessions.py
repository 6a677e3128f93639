"""Server-side sessions that carry a key without the database being able to open it.

The cookie holds a random token. The database holds the token's SHA-256 and the
unlocked key encrypted under a key derived from the token: a copy of the database
alone opens nothing, and deleting the row ends the session everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select

from portal import crypto
from portal.extensions import db
from portal.models import PortalSession, SessionKind, Staff, UsedSubmission
from portal.models.base import today, utcnow

TOKEN_BYTES = 32


@dataclass(frozen=True)
class OpenSession:
    """A live session and the key it carries."""

    row: PortalSession
    key: bytes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _wrapping_key(token: str, kind: str) -> bytes:
    return crypto.expand_key(token.encode(), b"", f"session/{kind}")


def _limits(kind: str) -> tuple[timedelta, timedelta]:
    config = current_app.config
    prefix = "REPORTER" if kind == SessionKind.REPORTER else "STAFF"
    return (
        timedelta(minutes=config[f"{prefix}_SESSION_IDLE_MINUTES"]),
        timedelta(minutes=config[f"{prefix}_SESSION_MAX_MINUTES"]),
    )


def start(
    *, kind: SessionKind, key: bytes, report_id: int | None = None, staff_id: int | None = None
) -> str:
    """Store a new session in the current transaction; returns the token for the cookie.

    Abandoned sessions are swept here too: a row left behind would keep saying that
    someone opened this report around that time, long after the session died.
    """
    _delete_expired()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    token_hash = _hash(token)
    db.session.add(
        PortalSession(
            token_hash=token_hash,
            kind=kind,
            report_id=report_id,
            staff_id=staff_id,
            sealed_key=crypto.encrypt(
                _wrapping_key(token, kind), key, f"session/{kind}/{token_hash}".encode()
            ),
        )
    )
    return token


def replace(
    old_token: str | None,
    *,
    kind: SessionKind,
    key: bytes,
    report_id: int | None = None,
    staff_id: int | None = None,
) -> str:
    """Sign-in: end the browser's old session (never reuse a token), start one."""
    end(old_token)
    return start(kind=kind, key=key, report_id=report_id, staff_id=staff_id)


# A live session's last-seen time is written at most once per this interval, so most page
# views of a signed-in member write nothing. A session then ends up to this much before its
# idle limit (counted from the last write), never after it.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class FoundSession:
    """A cookie's session row as read, before anything is written.

    `key` is None when the session is over (expired, or its key does not open); `stale`
    when it is live but its last-seen time is due to be written (`settle`); `member` is a
    staff session's member, read with the row.
    """

    row: PortalSession
    key: bytes | None
    stale: bool
    member: Staff | None = None

    @property
    def live(self) -> OpenSession | None:
        """The live session, or None."""
        return OpenSession(self.row, self.key) if self.key is not None else None

    @property
    def needs_write(self) -> bool:
        """Whether `settle` has anything to do (delete an ended row, move last-seen)."""
        return self.key is None or self.stale


# The lookup of a cookie's row, built once: every signed-in page runs it, and building the
# statement (joins, comparisons, coercions) cost as much again as running it. A staff
# session's member is read in the same query, not by a second one on every staff page.
_WHERE = (
    PortalSession.token_hash == bindparam("token_hash"),
    PortalSession.kind == bindparam("kind"),
)
_FIND_STAFF = (
    select(PortalSession, Staff).outerjoin(Staff, Staff.id == PortalSession.staff_id).where(*_WHERE)
)
_FIND_OTHER = select(PortalSession).where(*_WHERE)


def find(token: str | None, kind: SessionKind) -> FoundSession | None:
    """The session row of a cookie token and whether it is live; reads only.

    None when there is no such session. A caller that gets `needs_write` settles it in a
    transaction (`settle`); one that does not has nothing to commit. Read anew on every
    request: a deleted row or an expired one ends the session at once, on every server.
    """
    if not token or len(token) > 128:
        return None
    token_hash = _hash(token)
    staff = kind == SessionKind.STAFF
    found = db.session.execute(
        _FIND_STAFF if staff else _FIND_OTHER, {"token_hash": token_hash, "kind": kind}
    ).first()
    if found is None:
        return None
    row = found[0]
    member = found[1] if staff else None
    idle, absolute = _limits(kind)
    now = utcnow()
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        return FoundSession(row, None, stale=False)
    try:
        key = crypto.decrypt(
            _wrapping_key(token, kind), row.sealed_key, f"session/{kind}/{token_hash}".encode()
        )
    except crypto.DecryptionError:
        return FoundSession(row, None, stale=False)
    return FoundSession(row, key, stale=now - row.last_seen_at >= TOUCH_INTERVAL, member=member)


def settle(found: FoundSession) -> OpenSession | None:
    """In the current transaction: delete an expired row, move a live one's last-seen time.

    A row whose key does not open is left as it is (the cookie is wrong, not the row).
    """
    idle, absolute = _limits(found.row.kind)
    now = utcnow()
    if now - found.row.last_seen_at > idle or now - found.row.created_at > absolute:
        db.session.delete(found.row)
        return None
    if found.key is None:
        return None
    if found.stale:
        found.row.last_seen_at = now
    return found.live


def resume(token: str | None, kind: SessionKind) -> OpenSession | None:
    """The live session for a cookie token, refreshed; None if absent, expired or revoked."""
    found = find(token, kind)
    return settle(found) if found is not None else None


# Deletes every sign-in runs, built once and run on the table (no ORM bookkeeping: no
# session object of the rows they delete is used after them).
_SESSIONS = PortalSession.__table__.c
_END = delete(PortalSession.__table__).where(_SESSIONS.token_hash == bindparam("token_hash"))
_EXPIRED = delete(PortalSession.__table__).where(
    or_(
        *(
            (_SESSIONS.kind == kind.value)
            & (
                (_SESSIONS.last_seen_at < bindparam(f"{kind.value}_idle"))
                | (_SESSIONS.created_at < bindparam(f"{kind.value}_absolute"))
            )
            for kind in SessionKind
        )
    )
)


def end(token: str | None) -> None:
    """Delete the session of this token, if any (logout)."""
    if token:
        db.session.execute(_END, {"token_hash": _hash(token)})


def end_others_for_report(report_id: int, token: str) -> int:
    """End every reporter session of a report but this token's (after a new receipt)."""
    result = db.session.execute(
        db.delete(PortalSession).where(
            PortalSession.report_id == report_id,
            PortalSession.kind == SessionKind.REPORTER,
            PortalSession.token_hash != _hash(token),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_all_for_staff(staff_id: int, *, except_id: int | None = None) -> int:
    """Revoke every session of a staff member (but `except_id`); returns how many ended."""
    statement = db.delete(PortalSession).where(PortalSession.staff_id == staff_id)
    if except_id is not None:
        statement = statement.where(PortalSession.id != except_id)
    result = db.session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _delete_expired() -> int:
    """Delete expired sessions of every kind in the current transaction; returns how many."""
    now = utcnow()
    cutoffs = {}
    for kind in SessionKind:
        idle, absolute = _limits(kind)
        cutoffs[f"{kind.value}_idle"] = now - idle
        cutoffs[f"{kind.value}_absolute"] = now - absolute
    result = db.session.execute(_EXPIRED, cutoffs)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def sweep() -> int:
    """Delete every expired session and used submission mark now; returns how many sessions.

    Run by `flask sessions sweep` from a timer (README), and at every sign-in: a row left
    behind would keep saying that someone opened this report around that time.
    """
    removed = _delete_expired()
    db.session.execute(db.delete(UsedSubmission).where(UsedSubmission.expires_on < today()))
    return removed


# A review step's mark guards against sending the same report twice (back button, double
# click) for this long; after that the row is swept.
SUBMISSION_DAYS = 1


def _submission_digest(mark: str) -> str:
    """A keyed hash of a review step's mark: the row alone cannot be matched to a page."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    key = crypto.expand_key(secret, b"", "submission-guard")
    return hmac.new(key, mark.encode(), hashlib.sha256).hexdigest()


def submission_used(mark: str) -> bool:
    """Whether a report was already sent from the review step that carried this mark."""
    return db.session.get(UsedSubmission, _submission_digest(mark)) is not None


def use_submission(mark: str) -> None:
    """Remember, in the current transaction, that this review step's report was sent."""
    db.session.add(
        UsedSubmission(
            digest=_submission_digest(mark),
            expires_on=today() + timedelta(days=SUBMISSION_DAYS),
        )
    )
