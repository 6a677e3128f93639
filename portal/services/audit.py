"""The append-only, hash-chained audit log: appending, verifying, browsing, exporting.

Each entry's `entry_hash` is SHA-256 over its own fields and the previous entry's hash,
so editing, deleting or reordering an entry breaks the chain at that entry. The hash is
not keyed: someone who can write the database could recompute every hash after their
edit. That, and a cut-off tail, only show against a head (last id and hash) noted
outside the database; `head()` gives it and `flask audit verify` prints it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, update

from portal.extensions import db
from portal.models import AuditEntry
from portal.models.base import utcnow

GENESIS_HASH = "0" * 64
# Any constant will do; it only has to be the same for every app server.
POSTGRES_LOCK_KEY = 7410001
# Entries read per query while walking the chain or exporting: bounded memory at any size.
BATCH_SIZE = 1000
# Column widths of AuditEntry; values are cut before hashing so stored == hashed everywhere.
ACTOR_MAX, ACTION_MAX, TARGET_MAX = 254, 64, 128


def _digest(
    entry_id: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    detail: str,
    previous_hash: str,
) -> str:
    """SHA-256 of the canonical JSON of an entry's fields (the format is fixed forever)."""
    canonical = json.dumps(
        [
            entry_id,
            at.isoformat(timespec="microseconds"),
            actor,
            action,
            target,
            detail,
            previous_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def entry_hash(entry: Any) -> str:
    """SHA-256 over the entry's fields and the previous entry's hash."""
    return _digest(
        entry.id,
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.detail,
        entry.previous_hash,
    )


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


def record(*, actor: str, action: str, target: str = "", detail: str = "") -> AuditEntry:
    """Append an entry to the chain in the current transaction (the caller commits).

    Never put report content, receipts or client addresses in `detail`. Call it late
    in the transaction: from here to the commit, other appenders wait (see _lock_chain).
    """
    _lock_chain()
    last = db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).first()
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=utcnow(),
        actor=actor[:ACTOR_MAX],
        action=action[:ACTION_MAX],
        target=target[:TARGET_MAX],
        detail=detail,
        previous_hash=last.entry_hash if last else GENESIS_HASH,
    )
    entry.entry_hash = entry_hash(entry)
    db.session.add(entry)
    return entry


# --- verification ----------------------------------------------------------------------


class Problem(StrEnum):
    """What is wrong with the first bad entry of the chain."""

    ALTERED = "altered"  # its fields no longer give its hash
    MOVED = "moved"  # it holds the entry of another position (entries reordered/swapped)
    MISSING = "missing"  # a gap in the ids: the entry was deleted
    BROKEN_LINK = "broken_link"  # its previous hash is not the previous entry's hash
    HEAD_CHANGED = "head_changed"  # a head noted earlier is gone or differs (cut/rewritten)


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

    def describe(self) -> str:
        """One English line for operators (the web page words it through translations)."""
        other = self.other_id
        return {
            Problem.ALTERED: f"entry {self.entry_id} was altered: its fields do not match its hash",
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
        }[self.kind]


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of walking the chain: entries found intact, the head, the first problem."""

    checked: int
    head: Head | None
    problem: ChainProblem | None

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


def _original_position(row: Any) -> int | None:
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
            )
            == row.entry_hash
        ):
            return candidate
    return None


def _check(row: Any, previous: Any | None) -> ChainProblem | None:
    """The problem with `row`, given the intact entry before it (None at the start)."""
    expected_id = previous.id + 1 if previous is not None else 1
    if row.id != expected_id:
        return ChainProblem(expected_id, Problem.MISSING, row.id)
    if entry_hash(row) != row.entry_hash:
        moved_from = _original_position(row)
        if moved_from is not None:
            return ChainProblem(row.id, Problem.MOVED, moved_from)
        return ChainProblem(row.id, Problem.ALTERED)
    expected_previous = previous.entry_hash if previous is not None else GENESIS_HASH
    if row.previous_hash != expected_previous:
        return ChainProblem(row.id, Problem.BROKEN_LINK, previous.id if previous else None)
    return None


def verify_chain(*, noted_head: Head | None = None) -> VerifyResult:
    """Walk the entries in id order and report the FIRST problem precisely.

    Detected: an altered entry (its fields do not give its hash), a deleted entry (a
    gap in the ids, named by the missing id), reordered or swapped entries (an entry
    whose fields hash under another id is reported as moved; otherwise as altered),
    and a previous hash that is not the previous entry's hash (an entry before it was
    altered and re-hashed).

    NOT detectable from the chain alone: a cut-off tail (deleting the newest entries
    leaves a valid, shorter chain), and a rewrite that recomputes every hash from the
    edited entry onwards. Both show only against a head noted outside the database:
    keep `head()` (printed by `flask audit verify` and `flask audit head`) somewhere
    else, e.g. in a daily operator log, and pass it back as `noted_head`.
    """
    previous: Any | None = None
    checked = 0
    head_seen = noted_head is None
    for row in _rows_in_order():
        problem = _check(row, previous)
        if problem is not None:
            return VerifyResult(checked, head(), problem)
        if noted_head is not None and row.id == noted_head.id:
            if row.entry_hash != noted_head.hash:
                return VerifyResult(
                    checked, head(), ChainProblem(row.id, Problem.HEAD_CHANGED, None)
                )
            head_seen = True
        previous = row
        checked += 1
    if not head_seen and noted_head is not None:
        return VerifyResult(checked, head(), ChainProblem(noted_head.id, Problem.HEAD_CHANGED))
    last = Head(previous.id, previous.entry_hash) if previous is not None else None
    return VerifyResult(checked, last, None)


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
    """Audit an export of the log and commit; returns the last id the export may include.

    The export stops at the head as it was before this entry, so it shows exactly
    what the log held when it was asked for.
    """
    current = head()
    record(actor=actor, action="audit.exported", detail=filters.describe())
    db.session.commit()
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
