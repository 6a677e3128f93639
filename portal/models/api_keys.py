"""API keys of trusted intake gateways (SMS, WhatsApp) and partner apps: only a hash is kept."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class ApiKey(db.Model):  # type: ignore[name-defined]
    """One gateway's key: its channel and limit; the key itself was shown once, never stored."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # The channel every report it files is recorded with (sms, whatsapp, api).
    channel: Mapped[str] = mapped_column(String(16))
    # Reports this key may file per hour, across every address it sends from.
    reports_per_hour: Mapped[int] = mapped_column(default=1000)
    # The key's first characters, shown to admins so they can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole key: the key has 256 random bits, so no stretching is needed.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The day it was last used (a day, not a time: no request is traced through it).
    last_used_on: Mapped[date | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def active(self) -> bool:
        """Whether the key still files reports."""
        return self.revoked_at is None
