"""The conversation between reporter and inspectorate, and evidence files; all encrypted."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import today


class Side(StrEnum):
    """Which side wrote a message or added a file."""

    REPORTER = "reporter"
    INSPECTORATE = "inspectorate"


class Message(db.Model):  # type: ignore[name-defined]
    """One message; the body is encrypted with the report's data key."""

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    body_ct: Mapped[bytes] = mapped_column(LargeBinary)
    # Day precision on purpose: an exact time could be matched against network logs.
    created_on: Mapped[date] = mapped_column(default=today)


class Attachment(db.Model):  # type: ignore[name-defined]
    """One evidence file, cleaned of metadata, then encrypted with the report's data key.

    The uploaded file name is not kept: it can name the reporter or date the photo.

    Stored in the database so every app server can serve it and a backup holds it all.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(default=today)
