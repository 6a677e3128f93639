"""Verifying the audit chain: every entry, the sealed head, stored and published anchors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from portal import crypto
from portal.extensions import db
from portal.models import AuditAnchor, AuditEntry, AuditHead
from portal.services.audit.chain import (
    BATCH_SIZE,
    GENESIS_HASH,
    HEAD_ROW_ID,
    KEYED,
    UNKEYED,
    PublicAnchor,
    _anchor_mac,
    _digest,
    _head_mac,
    _key,
    entry_hash,
    local_day,
)


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
