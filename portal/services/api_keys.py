"""Trusted intake gateways: create (shown once), find by key, revoke; every change audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from portal.extensions import db
from portal.models import ApiKey, Channel, Staff
from portal.models.base import today, utcnow
from portal.services import audit

# Channels a gateway may file under; walk-in and phone are staff-entered (operator form).
GATEWAY_CHANNELS = (Channel.SMS, Channel.WHATSAPP, Channel.API)
KEY_PREFIX = "lpk_"
MAX_REPORTS_PER_HOUR = 100_000


class ApiKeyNotFound(LookupError):
    """No key with this id."""


@dataclass(frozen=True)
class NewKey:
    """A key just made: `secret` is shown this once and exists nowhere else."""

    row: ApiKey
    secret: str


def digest(secret: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def create(*, actor: Staff, name: str, channel: Channel, reports_per_hour: int) -> NewKey:
    """Make a key for a gateway; audited (the caller's `atomic()` block commits)."""
    if channel not in GATEWAY_CHANNELS:
        raise ValueError(channel)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        channel=channel,
        reports_per_hour=reports_per_hour,
        prefix=secret[: len(KEY_PREFIX) + 6],
        key_hash=digest(secret),
        created_by=actor.id,
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        actor=actor.email,
        action="api_key.created",
        target=name,
        detail=f"{row.prefix} {channel} {reports_per_hour}/h",
    )
    return NewKey(row, secret)


def revoke(key_id: int, *, actor: Staff) -> ApiKey:
    """Stop a key from filing reports, at once (when the block commits); audited."""
    row = db.session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyNotFound()
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            actor=actor.email, action="api_key.revoked", target=row.name, detail=row.prefix
        )
    return row


def find_active(secret: str) -> ApiKey | None:
    """The live key matching `secret`, if any."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 100:
        return None
    row = db.session.scalars(db.select(ApiKey).where(ApiKey.key_hash == digest(secret))).first()
    return row if row is not None and row.active else None


def mark_used(row: ApiKey) -> None:
    """Remember the day the key was last used (flushed with the report it filed)."""
    if row.last_used_on != today():
        row.last_used_on = today()


def all_keys() -> list[ApiKey]:
    """Every key, live first, newest first."""
    return list(
        db.session.scalars(
            db.select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.id.desc())
        )
    )
