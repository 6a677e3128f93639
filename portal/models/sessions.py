"""Server-side sessions: the cookie holds a random token; we keep its hash and a sealed key."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class SessionKind(StrEnum):
    """Who a session belongs to."""

    REPORTER = "reporter"
    STAFF = "staff"


class PortalSession(db.Model):  # type: ignore[name-defined]
    """One signed-in browser. Without the cookie's token, `sealed_key` cannot be opened."""

    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), index=True
    )
    # The report's data key (reporter) or the inspectorate private key (staff),
    # encrypted under a key derived from the token.
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class UsedSubmission(db.Model):  # type: ignore[name-defined]
    """A review step's one-time mark, once its report was sent: the double-submit guard.

    Kept on the server so the browser keeps no trace of having filed; only a keyed hash of
    the mark and a day, no row id (SQLite keeps no rowid order), and swept after the day.
    """

    __tablename__ = "used_submission"
    __table_args__ = {"sqlite_with_rowid": False}

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_on: Mapped[date] = mapped_column(index=True)
