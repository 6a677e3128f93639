"""Operators' filings for reporters, counted per member, day and channel: never which report."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class OperatorFiling(db.Model):  # type: ignore[name-defined]
    """How many reports one member filed on one day (WIB) through one channel.

    Counted in the filing's transaction, then turned into one audit entry per member and
    finished day (`services/operator_filings.py`) and deleted: the audit log learns that
    a member filed walk-in reports on a day, not when, and not which tracking codes.
    """

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
