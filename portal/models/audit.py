"""Append-only, keyed hash-chained audit log of staff and admin actions, its head and anchors."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """One audited action. `entry_hash` covers the fields and the previous entry's hash."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # 1: SHA-256 (entries written before the chain was keyed); 2: HMAC-SHA256 under the
    # instance's audit key. Once a keyed entry exists, every later one must be keyed.
    scheme: Mapped[int] = mapped_column(default=2, server_default=text("1"))


class AuditHead(db.Model):  # type: ignore[name-defined]
    """The newest entry's id and hash, MACed: deleting the newest entries shows (one row)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class AuditAnchor(db.Model):  # type: ignore[name-defined]
    """The chain's head at the end of one day (WIB), published on the transparency page."""

    day: Mapped[date] = mapped_column(primary_key=True)
    entry_id: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
