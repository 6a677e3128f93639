"""Reports and their status history.

Only what DESIGN.md names as public facts is in clear; everything the citizen wrote
is in `content_ct` / `contact_ct`, encrypted with the report's own data key.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
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


class Report(db.Model):  # type: ignore[name-defined]
    """One citizen report: public facts in clear, the rest sealed."""

    __table_args__ = (
        # The triage queue's keyset pages: newest first, or by deadline, per status.
        Index("ix_report_status_received", "status", "received_on", "id"),
        Index("ix_report_received_id", "received_on", "id"),
        Index("ix_report_due_id", "due_on", "id"),
        Index("ix_report_assignee_status", "assignee_id", "status"),
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
