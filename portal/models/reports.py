"""Reports and their status history.

Only what DESIGN.md names as public facts is in clear; everything the citizen wrote
is in `content_ct` / `contact_ct`, encrypted with the report's own data key.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import today
from portal.models.catalog import Category, Service, Unit
from portal.models.staff import Staff


class Status(StrEnum):
    """Lifecycle of a report (DESIGN.md, "Report lifecycle")."""

    RECEIVED = "received"
    NEEDS_INFO = "needs_info"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class Channel(StrEnum):
    """How a report reached the portal."""

    WEB = "web"
    API = "api"
    WALK_IN = "walk_in"
    PHONE = "phone"
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Priority(StrEnum):
    """How urgently the inspectorate handles a report."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Outcome(StrEnum):
    """What the examination found."""

    PROVEN = "proven"
    NOT_PROVEN = "not_proven"


class OutsideBody(StrEnum):
    """Bodies a report can be referred to (DESIGN.md; never Saber Pungli, dissolved 2025)."""

    OMBUDSMAN_BANTEN = "ombudsman_banten"
    POLICE = "polri"
    PROSECUTOR = "kejaksaan"
    KPK = "kpk"
    SP4N_LAPOR = "sp4n_lapor"
    OWN_AGENCY = "instansi_terkait"


class Sanction(StrEnum):
    """The category of sanction imposed after a proven report."""

    NONE = "none"
    VERBAL_WARNING = "verbal_warning"
    WRITTEN_WARNING = "written_warning"
    DISCIPLINARY = "disciplinary"
    DISMISSAL = "dismissal"
    CRIMINAL_REFERRAL = "criminal_referral"
    OTHER = "other"


# Columns the triage queue filters on by equality (services/queue.py).
QUEUE_FILTER_COLUMNS = (
    "category_code",
    "service_code",
    "unit_code",
    "channel",
    "priority",
    "assignee_id",
)


class Report(db.Model):  # type: ignore[name-defined]
    """One citizen report: public facts in clear, the rest sealed."""

    __table_args__ = (
        # The triage queue's keyset pages: newest first, or by deadline, per status.
        Index("ix_report_status_received", "status", "received_on", "id"),
        Index("ix_report_received_id", "received_on", "id"),
        Index("ix_report_due_id", "due_on", "id"),
        Index("ix_report_assignee_status", "assignee_id", "status"),
        # The triage queue filtered on one column, newest first: each index walks that
        # filter's reports in (received_on, id) order, so a page needs no sort, and carries
        # status, so the counts per status under the filter never read the table. (Without
        # them SQLite takes the single-column index and sorts every match: seconds at 1M.)
        *(
            Index(f"ix_report_{column}_received", column, "received_on", "id", "status")
            for column in QUEUE_FILTER_COLUMNS
        ),
        # Overdue reports (a due_on range) newest first, and counted, from the index alone.
        Index("ix_report_due_received", "due_on", "received_on", "id", "status"),
        # Open reports (with a deadline) newest first, deadline included: the overdue
        # page walks it and stops after a page of matches, reading open reports only.
        Index(
            "ix_report_open_received",
            "received_on",
            "id",
            "due_on",
            sqlite_where=text("due_on IS NOT NULL"),
            postgresql_where=text("due_on IS NOT NULL"),
        ),
        # Open reports (those with a deadline) of one status, unit, assignee ... by deadline,
        # and overdue under a filter. Partial, so each holds only the open reports: small,
        # and cheap to keep up. Without them SQLite reads every report of that unit or
        # category (open or closed) to sort the few open ones.
        *(
            Index(
                f"ix_report_{column}_due",
                column,
                "due_on",
                "id",
                *(("status",) if column != "status" else ()),
                sqlite_where=text("due_on IS NOT NULL"),
                postgresql_where=text("due_on IS NOT NULL"),
            )
            for column in ("status", *QUEUE_FILTER_COLUMNS)
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=Status.RECEIVED)
    channel: Mapped[str] = mapped_column(String(16), default=Channel.WEB)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), index=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("service.code"), index=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("unit.code"), index=True)
    # Public facts at deliberately coarse grain (month, rounded Rupiah, day).
    incident_month: Mapped[date]
    amount_demanded_rounded: Mapped[int | None] = mapped_column(BigInteger)
    received_on: Mapped[date] = mapped_column(default=today)

    # Handling by the inspectorate (staff-only; no content).
    status_since: Mapped[date] = mapped_column(default=today)
    # The deadline of the current status (working days), kept so the queue can
    # filter and sort "overdue" with an index instead of computing per row.
    due_on: Mapped[date | None]
    verified_on: Mapped[date | None]
    closed_on: Mapped[date | None]
    # Set when retention crypto-shredded the report: only its public facts remain.
    shredded_on: Mapped[date | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    priority: Mapped[str] = mapped_column(String(8), default=Priority.NORMAL)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    referred_to: Mapped[str | None] = mapped_column(String(40))
    referral_reference: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(16))
    sanction: Mapped[str | None] = mapped_column(String(40))
    refund_rupiah: Mapped[int | None] = mapped_column(BigInteger)

    # Encrypted with the data key; associated data binds each to this tracking code.
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)
    contact_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The data key, twice: sealed to the inspectorate and wrapped under the receipt.
    # Deleting both crypto-shreds the report.
    key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    receipt_salt: Mapped[bytes] = mapped_column(LargeBinary)
    receipt_kdf: Mapped[str] = mapped_column(String(64))
    # The receipt was shown to a staff member (walk-in, phone...): the first inbox sign-in
    # replaces it with one only the reporter sees, and the old one stops working.
    receipt_seen_by_staff: Mapped[bool] = mapped_column(default=False)

    assignee: Mapped[Staff | None] = relationship(foreign_keys=[assignee_id])
    category: Mapped[Category] = relationship()
    service: Mapped[Service] = relationship()
    unit: Mapped[Unit] = relationship()
    history: Mapped[list[StatusChange]] = relationship(
        back_populates="report", order_by="StatusChange.id", cascade="all, delete-orphan"
    )


class StatusChange(db.Model):  # type: ignore[name-defined]
    """One step of a report's status timeline; the public note is shown to everyone."""

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    public_note: Mapped[str] = mapped_column(Text, default="")
    internal_note_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_on: Mapped[date] = mapped_column(default=today)

    report: Mapped[Report] = relationship(back_populates="history")
