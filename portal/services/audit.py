"""The append-only, keyed hash-chained audit log: appending, verifying, browsing, exporting.

Each entry's `entry_hash` is an HMAC-SHA256, under a key kept outside the database
(instance file `audit_key`, see portal/instance_files.py), over its own fields and the
previous entry's hash: editing, deleting, reordering or forging an entry breaks the chain,
and someone who can only write the database cannot recompute it. Entries written before
the chain was keyed (scheme 1, plain SHA-256) still verify; once a keyed entry exists,
an unkeyed one after it is a forgery.

Two more records make a cut-off tail and a rewrite provable:
- the head (newest id and hash, MACed) is rewritten with every append, so deleting the
  newest entries leaves a head that names an entry that is gone;
- each day's head (WIB) is anchored when the day is over and published on the
  transparency page (hash only), where anyone can copy it: `flask audit verify
  --anchors FILE` then proves a later rewrite of that day, even by someone with the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, update

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


# --- verification ----------------------------------------------------------------------


class Problem(StrEnum):
    """What is wrong with the first bad entry of the chain."""

    ALTERED = "altered"  # its fields no longer give its hash (or it was forged without the key)
    MOVED = "moved"  # it holds the entry of another position (entries reordered/swapped)
    MISSING = "missing"  # a gap in the ids: the entry was deleted
    BROKEN_LINK = "broken_link"  # its previous hash is not the previous entry's hash
    HEAD_CHANGED = "head_changed"  # a head noted earlier is gone or differs (cut/rewritten)
    UNKEYED = "unkeyed"  # an unkeyed entry after a keyed one: forged without the key
    TAIL_CUT = "tail_cut"  # the sealed head names an entry that is gone or differs
    ANCHOR_MISMATCH = "anchor_mismatch"  # a day's anchored head is not in the chain


@dataclass(frozen=True)
class Head:
    """The last entry's id and hash: note it outside the database to detect truncation."""

    id: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Head:
        """Read "ID:HASH" (or "ID HASH"), as `flask audit head` prints it; ValueError if not."""
        parts = text.replace(":", " ").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
            raise ValueError(text)
        return cls(int(parts[0]), parts[1].lower())


@dataclass(frozen=True)
class ChainProblem:
    """The first bad entry: its id, what is wrong, and the other id involved, if any."""

    entry_id: int
    kind: Problem
    other_id: int | None = None
    day: date | None = None

    def describe(self) -> str:
        """One English line for operators (the web page words it through translations)."""
        other = self.other_id
        day = self.day.isoformat() if self.day else "?"
        return {
            Problem.ALTERED: (
                f"entry {self.entry_id} was altered or forged: its fields do not match its hash"
            ),
            Problem.MOVED: (
                f"entry {self.entry_id} was moved: it holds the entry that belongs at id {other}"
                " (entries reordered or swapped)"
            ),
            Problem.MISSING: (
                f"entry {self.entry_id} is missing (deleted): the next entry present is {other}"
            ),
            Problem.BROKEN_LINK: (
                f"entry {self.entry_id} does not chain to entry {other}: its previous hash differs"
                f" (entry {other} was altered and re-hashed, or entries were removed)"
                if other is not None
                else f"entry {self.entry_id} does not start from the genesis hash"
            ),
            Problem.HEAD_CHANGED: (
                f"entry {self.entry_id}, noted as the head earlier, is gone or has another hash"
                " (the log was cut off or rewritten)"
            ),
            Problem.UNKEYED: (
                f"entry {self.entry_id} is unkeyed but follows keyed entries: it was written"
                " without the audit key (forged)"
            ),
            Problem.TAIL_CUT: (
                f"the log's sealed head names entry {other}, but the log ends at entry"
                f" {self.entry_id} or that entry differs (the newest entries were deleted)"
            ),
            Problem.ANCHOR_MISMATCH: (
                f"the head anchored for {day} (entry {self.entry_id}) is not in the chain as"
                " anchored (that day was rewritten)"
            ),
        }[self.kind]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of walking the chain: entries found intact, the head, the first problem."""

    checked: int
    head: Head | None
    problem: ChainProblem | None
    anchors_checked: int = 0  # published anchors given and found
    anchors_stored: int = 0  # daily anchors in the database, all found

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problem is None


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.detail,
    AuditEntry.previous_hash,
    AuditEntry.entry_hash,
    AuditEntry.scheme,
)


def _rows_in_order() -> Iterator[Any]:
    """Every entry as a plain row, oldest first, one keyset batch at a time."""
    last_id = 0
    while True:
        batch = db.session.execute(
            db.select(*_COLUMNS)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(BATCH_SIZE)
        ).all()
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        last_id = batch[-1].id


def _original_position(row: Any, key: bytes | None) -> int | None:
    """The id a mismatching entry's fields do hash under, if a likely one does (a move)."""
    candidates = {row.id - 1, row.id + 1}
    if row.previous_hash == GENESIS_HASH:
        candidates.add(1)
    else:
        before = db.session.scalar(
            db.select(AuditEntry.id).where(AuditEntry.entry_hash == row.previous_hash)
        )
        if before is not None:
            candidates.add(before + 1)
    for candidate in sorted(candidates - {row.id}):
        if candidate > 0 and (
            _digest(
                candidate,
                row.at,
                row.actor,
                row.action,
                row.target,
                row.detail,
                row.previous_hash,
                scheme=row.scheme or UNKEYED,
                key=key,
            )
            == row.entry_hash
        ):
            return candidate
    return None


def _check(
    row: Any, previous: Any | None, key: bytes | None, keyed_seen: bool
) -> ChainProblem | None:
    """The problem with `row`, given the intact entry before it (None at the start)."""
    expected_id = previous.id + 1 if previous is not None else 1
    if row.id != expected_id:
        return ChainProblem(expected_id, Problem.MISSING, row.id)
    if keyed_seen and (row.scheme or UNKEYED) != KEYED:
        return ChainProblem(row.id, Problem.UNKEYED)
    if entry_hash(row, key) != row.entry_hash:
        moved_from = _original_position(row, key)
        if moved_from is not None:
            return ChainProblem(row.id, Problem.MOVED, moved_from)
        return ChainProblem(row.id, Problem.ALTERED)
    expected_previous = previous.entry_hash if previous is not None else GENESIS_HASH
    if row.previous_hash != expected_previous:
        return ChainProblem(row.id, Problem.BROKEN_LINK, previous.id if previous else None)
    return None


def _stored_anchors(key: bytes | None) -> tuple[dict[int, AuditAnchor], ChainProblem | None]:
    """The anchors by entry id, or the first one whose MAC does not hold (forged)."""
    anchors: dict[int, AuditAnchor] = {}
    for anchor in db.session.scalars(db.select(AuditAnchor).order_by(AuditAnchor.day)):
        valid = key is not None and crypto.constant_time_equal(
            anchor.mac.encode(),
            _anchor_mac(key, anchor.day, anchor.entry_id, anchor.entry_hash).encode(),
        )
        if not valid:
            return anchors, ChainProblem(anchor.entry_id, Problem.ANCHOR_MISMATCH, day=anchor.day)
        anchors[anchor.entry_id] = anchor
    return anchors, None


def _check_published(published: Iterable[PublicAnchor]) -> tuple[int, ChainProblem | None]:
    """Each anchor copied from the transparency page must be the last entry of its day."""
    count = 0
    for anchor in published:
        row = db.session.execute(
            db.select(AuditEntry.id, AuditEntry.at).where(AuditEntry.entry_hash == anchor.hash)
        ).first()
        later = (
            db.session.execute(db.select(AuditEntry.at).where(AuditEntry.id == row.id + 1)).scalar()
            if row is not None
            else None
        )
        if (
            row is None
            or local_day(row.at) != anchor.day
            or (later is not None and local_day(later) <= anchor.day)
        ):
            return count, ChainProblem(
                row.id if row else 0, Problem.ANCHOR_MISMATCH, day=anchor.day
            )
        count += 1
    return count, None


def verify_chain(
    *, noted_head: Head | None = None, published: Iterable[PublicAnchor] = ()
) -> VerifyResult:
    """Walk the entries in id order and report the FIRST problem precisely.

    Detected from the database and the audit key alone: an altered or forged entry
    (its fields do not give its HMAC), a deleted entry (a gap in the ids, named by the
    missing id), reordered or swapped entries (an entry whose fields hash under another
    id is reported as moved), a previous hash that is not the previous entry's hash, an
    unkeyed entry after keyed ones, a cut-off tail (the sealed head names an entry that
    is gone), and a stored daily anchor that the chain no longer holds.

    Against copies kept elsewhere: `noted_head` (from `flask audit head`) and
    `published` anchors (from the transparency page) also catch a rewrite by someone
    who holds the audit key, or a restored older head.
    """
    key = _key()
    anchors, problem = _stored_anchors(key)
    if problem is not None:
        return VerifyResult(0, head(), problem)
    stored_count = len(anchors)
    previous: Any | None = None
    checked = 0
    keyed_seen = False
    head_seen = noted_head is None
    for row in _rows_in_order():
        problem = _check(row, previous, key, keyed_seen)
        if problem is not None:
            return VerifyResult(checked, head(), problem)
        keyed_seen = keyed_seen or row.scheme == KEYED
        if noted_head is not None and row.id == noted_head.id:
            if row.entry_hash != noted_head.hash:
                return VerifyResult(
                    checked, head(), ChainProblem(row.id, Problem.HEAD_CHANGED, None)
                )
            head_seen = True
        anchor = anchors.pop(row.id, None)
        if anchor is not None and (
            anchor.entry_hash != row.entry_hash or local_day(row.at) != anchor.day
        ):
            return VerifyResult(
                checked, head(), ChainProblem(row.id, Problem.ANCHOR_MISMATCH, day=anchor.day)
            )
        previous = row
        checked += 1
    if anchors:  # anchored entries that are no longer in the chain
        anchor = min(anchors.values(), key=lambda item: item.day)
        return VerifyResult(
            checked, head(), ChainProblem(anchor.entry_id, Problem.ANCHOR_MISMATCH, day=anchor.day)
        )
    if not head_seen and noted_head is not None:
        return VerifyResult(checked, head(), ChainProblem(noted_head.id, Problem.HEAD_CHANGED))
    last = Head(previous.id, previous.entry_hash) if previous is not None else None
    problem = _check_sealed_head(last, key, keyed_seen)
    if problem is not None:
        return VerifyResult(checked, last, problem)
    published_count, problem = _check_published(published)
    return VerifyResult(
        checked, last, problem, anchors_checked=published_count, anchors_stored=stored_count
    )


def _check_sealed_head(
    last: Head | None, key: bytes | None, keyed_seen: bool
) -> ChainProblem | None:
    """The sealed head must name the last entry; required once the chain is keyed."""
    row = db.session.get(AuditHead, HEAD_ROW_ID)
    if row is None:
        # Once the instance has an audit key, every append rewrites the head: a chain
        # without one was cut to nothing or downgraded wholesale.
        if keyed_seen or (key is not None and last is not None):
            return ChainProblem(last.id if last else 0, Problem.TAIL_CUT, None)
        return None
    valid = key is not None and crypto.constant_time_equal(
        row.mac.encode(), _head_mac(key, row.entry_id, row.entry_hash).encode()
    )
    if not valid or last is None or (row.entry_id, row.entry_hash) != (last.id, last.hash):
        return ChainProblem(last.id if last else 0, Problem.TAIL_CUT, row.entry_id)
    return None


def head() -> Head | None:
    """The newest entry's id and hash (None for an empty log)."""
    row = db.session.execute(
        db.select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return Head(row.id, row.entry_hash) if row is not None else None


# --- browsing and export ---------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to; empty values mean "any". Dates are days in WIB."""

    actor: str = ""
    action: str = ""
    target: str = ""
    since: date | None = None
    until: date | None = None

    def describe(self) -> str:
        """The filters in a compact form for the export's own audit entry."""
        parts = [
            f"{name}={value}"
            for name, value in (
                ("actor", self.actor),
                ("action", self.action),
                ("target", self.target),
                ("since", self.since.isoformat() if self.since else ""),
                ("until", self.until.isoformat() if self.until else ""),
            )
            if value
        ]
        return "; ".join(parts)


@dataclass(frozen=True)
class AuditPage:
    """One keyset page, newest first, with cursors for the neighbouring pages."""

    entries: list[AuditEntry]
    newer: int | None  # pass as `after` to see the page before this one
    older: int | None  # pass as `before` to see the page after this one


def _utc_start_of(day: date) -> datetime:
    """Midnight of a WIB day as the naive UTC value entries are stored with."""
    local = datetime.combine(
        day, time(), tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    )
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _terms(filters: AuditFilter) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters (portable: LIKE with escaping, lower())."""
    terms: list[ColumnElement[bool]] = []
    if filters.actor:
        terms.append(
            func.lower(AuditEntry.actor).contains(filters.actor.strip().lower(), autoescape=True)
        )
    if filters.action:
        terms.append(AuditEntry.action == filters.action)
    if filters.target:
        terms.append(
            func.lower(AuditEntry.target).contains(filters.target.strip().lower(), autoescape=True)
        )
    if filters.since:
        terms.append(AuditEntry.at >= _utc_start_of(filters.since))
    if filters.until:
        terms.append(AuditEntry.at < _utc_start_of(filters.until + timedelta(days=1)))
    return terms


def known_actions() -> list[str]:
    """Every action name present in the log, for the filter's select (index-only scan)."""
    return list(
        db.session.scalars(db.select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )


def page(
    filters: AuditFilter, *, before: int | None = None, after: int | None = None, size: int = 50
) -> AuditPage:
    """A page of matching entries, newest first: below `before`, or just above `after`."""
    statement: Select[Any] = db.select(AuditEntry).where(*_terms(filters))
    if after is not None:
        rows = list(
            db.session.scalars(
                statement.where(AuditEntry.id > after).order_by(AuditEntry.id).limit(size + 1)
            )
        )
        more_newer = len(rows) > size
        entries = list(reversed(rows[:size]))
        return AuditPage(
            entries,
            newer=entries[0].id if more_newer and entries else None,
            older=entries[-1].id if entries else after + 1,
        )
    if before is not None:
        statement = statement.where(AuditEntry.id < before)
    rows = list(db.session.scalars(statement.order_by(AuditEntry.id.desc()).limit(size + 1)))
    entries = rows[:size]
    more_older = len(rows) > size
    return AuditPage(
        entries,
        newer=(entries[0].id if entries else before - 1) if before is not None else None,
        older=entries[-1].id if more_older else None,
    )


def start_export(*, actor: str, filters: AuditFilter) -> int:
    """Audit an export of the log; returns the last id the export may include.

    The export stops at the head as it was before this entry, so it shows exactly
    what the log held when it was asked for.
    """
    current = head()
    record(actor=actor, action="audit.exported", detail=filters.describe())
    return current.id if current is not None else 0


def export_entries(filters: AuditFilter, *, upto: int) -> Iterator[AuditEntry]:
    """Matching entries with id <= upto, newest first, in bounded batches."""
    below = upto + 1
    while True:
        batch = list(
            db.session.scalars(
                db.select(AuditEntry)
                .where(*_terms(filters), AuditEntry.id < below)
                .order_by(AuditEntry.id.desc())
                .limit(BATCH_SIZE)
            )
        )
        yield from batch
        if len(batch) < BATCH_SIZE:
            return
        below = batch[-1].id
