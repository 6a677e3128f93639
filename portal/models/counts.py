"""Maintained counts of reports per status, for the triage queue (services/status_counts.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class StatusCount(db.Model):  # type: ignore[name-defined]
    """How many reports are in `status` among those whose `dimension` is `value`.

    `dimension` "all" (value "") counts every report; "category", "service", "unit",
    "channel", "priority" and "assignee" (a member's id, "" for nobody) count under one
    queue filter; "due" counts open reports by deadline (ISO day), so the overdue reports
    of each status are a sum over the days before today. A few hundred rows at most
    besides "due"; kept up in the transaction of every filing and change.
    """

    __tablename__ = "status_count"

    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
