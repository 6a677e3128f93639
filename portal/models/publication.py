"""Publications: a staff-written, redacted public summary of one resolved report.

The summary is public by nature, so it is stored in clear: it is written redacted on
purpose, and a second staff member must approve it before anyone else sees it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import utcnow
from portal.models.reports import Report
from portal.models.staff import Staff

# A headline and a few paragraphs: long enough to say what happened and what followed,
# short enough that a summary stays a summary and not a retelling of the report.
TITLE_MAX = 120
SUMMARY_MAX = 2000
WITHDRAWAL_NOTE_MAX = 500


class PublicationState(StrEnum):
    """Where a summary stands; only PUBLISHED is ever shown to the public."""

    AWAITING_APPROVAL = "awaiting_approval"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class WithdrawalReason(StrEnum):
    """Why a published summary was taken down (audited; the free-text note is not)."""

    IDENTIFIES_SOMEONE = "identifies_someone"
    INACCURATE = "inaccurate"
    CASE_REOPENED = "case_reopened"
    LEGAL_REQUEST = "legal_request"
    OTHER = "other"


def new_public_id() -> str:
    """A random, opaque id for the public URL and the Atom entry id (urn:uuid)."""
    return str(uuid.uuid4())


class Publication(db.Model):  # type: ignore[name-defined]
    """The public summary of one resolved report, its author, approver and withdrawal."""

    # The table keeps the name it was created with (renaming it buys nothing).
    __tablename__ = "published_case"

    __table_args__ = (
        # The public register, the feed and the API: published, newest approval first.
        Index("ix_published_case_state_approved", "state", "approved_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Public URLs use this random id, never the report id or the tracking code:
    # see portal/public/publications.py for why.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(20), default=PublicationState.AWAITING_APPROVAL)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    summary: Mapped[str] = mapped_column(Text)
    # Bumped by every change of the text: an approval names the revision it approves,
    # so nobody approves words they did not see.
    revision: Mapped[int] = mapped_column(default=1)
    # The report's outcome facts when the text was last saved. The public sees the
    # publication only while the report still has exactly these facts (and is still resolved), so an
    # approved summary never stands beside an outcome nobody approved it with.
    outcome: Mapped[str | None] = mapped_column(String(16))
    sanction: Mapped[str | None] = mapped_column(String(40))
    refund_rupiah: Mapped[int | None] = mapped_column(BigInteger)

    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # Whoever saved the current text last: the one member who may not approve it.
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    approved_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    withdrawn_at: Mapped[datetime | None]
    withdrawal_reason: Mapped[str | None] = mapped_column(String(40))
    # Staff only, and kept out of the append-only audit log on purpose: a note about
    # what identified someone may repeat it, and this row can be corrected later.
    withdrawal_note: Mapped[str | None] = mapped_column(String(WITHDRAWAL_NOTE_MAX))

    report: Mapped[Report] = relationship()
    author: Mapped[Staff] = relationship(foreign_keys=[author_id])
    approver: Mapped[Staff | None] = relationship(foreign_keys=[approver_id])
    withdrawn_by: Mapped[Staff | None] = relationship(foreign_keys=[withdrawn_by_id])
