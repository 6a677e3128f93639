"""Appending to the audit chain: keyed entry hashes, the sealed head, daily anchors."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update

from portal import crypto, instance_files
from portal.extensions import db
from portal.models import AuditAnchor, AuditEntry, AuditHead
from portal.models.base import LOCAL_TIMEZONE, utcnow
from portal.transaction import in_atomic

GENESIS_HASH = "0" * 64
# Any constant will do; it only has to be the same for every app server.
POSTGRES_LOCK_KEY = 7410001
# Entries read per query while walking the chain or exporting: bounded memory at any size.
BATCH_SIZE = 1000
# Column widths of AuditEntry; values are cut before hashing so stored == hashed everywhere.
ACTOR_MAX, ACTION_MAX, TARGET_MAX = 254, 64, 128
UNKEYED, KEYED = 1, 2
HEAD_ROW_ID = 1
# Anchors shown on the transparency page (the newest days); older ones stay in the table.
PUBLISHED_ANCHOR_DAYS = 90


def _digest(
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    detail: str,
    previous_hash: str,
    *,
    scheme: int = UNKEYED,
    key: bytes | None = None,
) -> str:
    """The hash of the canonical JSON of an entry's fields (each scheme's format is fixed)."""
    fields: list[Any] = [
        entry_id,
        at.isoformat(timespec="microseconds"),
        actor,
        action,
        target,
        detail,
        previous_hash,
    ]
    if scheme == KEYED:
        fields.insert(0, KEYED)
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
    if scheme == UNKEYED:
        return hashlib.sha256(canonical).hexdigest()
    if key is None:
        return ""  # no key: no keyed entry can match
    return crypto.mac(key, "audit/entry", canonical)


def _key() -> bytes | None:
    return instance_files.audit_key()


def entry_hash(entry: Any, key: bytes | None = None) -> str:
    """The entry's hash under its scheme: HMAC with the audit key, or legacy SHA-256."""
    scheme = getattr(entry, "scheme", None) or UNKEYED
    return _digest(
        entry.id,
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.detail,
        entry.previous_hash,
        scheme=scheme,
        key=key if key is not None else (_key() if scheme == KEYED else None),
    )


def _head_mac(key: bytes, entry_id: int, hash_: str) -> str:
    return crypto.mac(key, "audit/head", f"{entry_id}:{hash_}".encode())


def _anchor_mac(key: bytes, day: date, entry_id: int, hash_: str) -> str:
    return crypto.mac(key, "audit/anchor", f"{day.isoformat()}:{entry_id}:{hash_}".encode())


def local_day(at: datetime) -> date:
    """The WIB day of a stored (naive UTC) time."""
    return at.replace(tzinfo=ZoneInfo("UTC")).astimezone(LOCAL_TIMEZONE).date()


def _lock_chain() -> None:
    """Serialise appenders until this transaction ends, so no two chain onto one entry.

    PostgreSQL: a transaction-scoped advisory lock (READ COMMITTED, the default, then
    lets the following SELECT see the entry committed by whoever held it before).
    SQLite: a write that changes nothing still takes the database's write lock, which
    Python's sqlite3 would otherwise take only at the INSERT, after we read the last
    entry; a second writer then waits here (busy timeout) instead of reading a stale
    head and failing the whole business transaction on the primary key at commit.
    """
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        db.session.execute(
            db.text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK_KEY}
        )
    elif dialect == "sqlite":
        table = AuditEntry.__table__
        db.session.execute(update(table).where(table.c.id < 0).values(id=table.c.id))


def _anchor_if_day_ended(last: AuditEntry | None, key: bytes, now: datetime) -> None:
    """Anchor the head of the last entry's day once that day (WIB) is over."""
    if last is None:
        return
    day = local_day(last.at)
    if day >= local_day(now) or db.session.get(AuditAnchor, day) is not None:
        return
    db.session.add(
        AuditAnchor(
            day=day,
            entry_id=last.id,
            entry_hash=last.entry_hash,
            mac=_anchor_mac(key, day, last.id, last.entry_hash),
        )
    )


def record(
    *, actor: str, action: str, target: str = "", detail: str = "", at: datetime | None = None
) -> AuditEntry:
    """Append a keyed entry to the chain in the open `atomic()` block (which commits it).

    Only inside a block: an entry lands in the same transaction as the change it records,
    or not at all; outside one it would ride on whichever commit came next (RuntimeError,
    a programming error). Never put report content, receipts or client addresses in
    `detail`. Call it late in the block: from here to the commit, other appenders wait
    (see _lock_chain). `at` is for imports and tests; entries are otherwise stamped now.
    """
    if not in_atomic():
        raise RuntimeError("audit.record outside an atomic() block: open one in the caller")
    _lock_chain()
    key = instance_files.require_audit_key()
    moment = at or utcnow()
    last = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    _anchor_if_day_ended(last, key, moment)
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=moment,
        actor=actor[:ACTOR_MAX],
        action=action[:ACTION_MAX],
        target=target[:TARGET_MAX],
        detail=detail,
        previous_hash=last.entry_hash if last else GENESIS_HASH,
        scheme=KEYED,
    )
    entry.entry_hash = entry_hash(entry, key)
    db.session.add(entry)
    _advance_head(key, last, entry)
    return entry


def _advance_head(key: bytes, last: AuditEntry | None, entry: AuditEntry) -> None:
    """Move the sealed head to `entry`, but only from an intact head.

    A head that no longer names the last entry (the tail was cut) or whose MAC fails
    (it was forged) stays as it is: evidence that `flask audit verify` keeps reporting,
    instead of being healed by the next ordinary append.
    """
    row = db.session.get(AuditHead, HEAD_ROW_ID)
    if row is None:
        # First keyed entry of the log (a new or an upgraded, unkeyed log). A keyed log
        # without a head lost it: leave it missing.
        if last is not None and last.scheme == KEYED:
            return
        row = AuditHead(id=HEAD_ROW_ID)
        db.session.add(row)
    elif not (
        last is not None
        and (row.entry_id, row.entry_hash) == (last.id, last.entry_hash)
        and crypto.constant_time_equal(
            row.mac.encode(), _head_mac(key, row.entry_id, row.entry_hash).encode()
        )
    ):
        return
    row.entry_id, row.entry_hash = entry.id, entry.entry_hash
    row.mac = _head_mac(key, entry.id, entry.entry_hash)


def anchor_completed_days() -> int:
    """Anchor the last finished day if its head is not anchored yet (run it daily); flushes.

    Appending anchors the previous day by itself; this covers a quiet day after which
    nothing was appended. Returns how many anchors were added (0 or 1).
    """
    _lock_chain()
    key = instance_files.require_audit_key()
    last = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    before = db.session.scalar(db.select(func.count()).select_from(AuditAnchor)) or 0
    _anchor_if_day_ended(last, key, utcnow())
    db.session.flush()
    after = db.session.scalar(db.select(func.count()).select_from(AuditAnchor)) or 0
    return int(after - before)


@dataclass(frozen=True)
class PublicAnchor:
    """One day's head as the transparency page publishes it: the day and the hash."""

    day: date
    hash: str

    def line(self) -> str:
        """The form `flask audit verify --anchors` reads back."""
        return f"{self.day.isoformat()} {self.hash}"

    @classmethod
    def parse(cls, text: str) -> PublicAnchor:
        """Read "YYYY-MM-DD HASH"; ValueError if it is not that."""
        parts = text.split()
        if len(parts) != 2 or len(parts[1]) != 64:
            raise ValueError(text)
        int(parts[1], 16)
        return cls(date.fromisoformat(parts[0]), parts[1].lower())


def published_anchors(limit: int = PUBLISHED_ANCHOR_DAYS) -> list[PublicAnchor]:
    """The newest daily anchors, newest first, hash only (no entry counts are revealed)."""
    rows = db.session.execute(
        db.select(AuditAnchor.day, AuditAnchor.entry_hash)
        .order_by(AuditAnchor.day.desc())
        .limit(limit)
    )
    return [PublicAnchor(row.day, row.entry_hash) for row in rows]
