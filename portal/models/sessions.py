"""Server-side sessions: the cookie holds a random token; we keep its hash and a sealed key."""

from __future__ import annotations

from datetime import datetime
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
