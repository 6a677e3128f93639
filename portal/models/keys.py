"""The inspectorate's key pair: public half in clear, private half only wrapped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import utcnow


class InspectorateKey(db.Model):  # type: ignore[name-defined]
    """The single inspectorate X25519 key pair, made by `flask setup`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # Before rotation existed: the private key wrapped under a key expanded from the
    # offline recovery key (empty once the key was rotated).
    recovery_salt: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # The private key sealed to a key pair derived from the recovery key, so rotation
    # can keep recovery working without the printed secret.
    recovery_public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    recovery_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # 1 at setup, +1 at every rotation.
    generation: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None]
