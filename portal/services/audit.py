"""The append-only, hash-chained audit log."""

from __future__ import annotations

import hashlib
import json

from portal.extensions import db
from portal.models import AuditEntry
from portal.models.base import utcnow

GENESIS_HASH = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's fields and the previous entry's hash."""
    canonical = json.dumps(
        [
            entry.id,
            entry.at.isoformat(timespec="microseconds"),
            entry.actor,
            entry.action,
            entry.target,
            entry.detail,
            entry.previous_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(*, actor: str, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Append an entry to the chain in the current transaction (the caller commits).

    Never put report content, receipts or client addresses in `detail`.
    """
    if db.engine.dialect.name == "postgresql":
        # Serialise appenders so two transactions cannot chain onto the same entry.
        db.session.execute(db.text("SELECT pg_advisory_xact_lock(7410001)"))
    last = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=utcnow(),
        actor=actor,
        action=action,
        target=target,
        detail=detail,
        previous_hash=last.entry_hash if last else GENESIS_HASH,
    )
    entry.entry_hash = entry_hash(entry)
    db.session.add(entry)
    return entry
