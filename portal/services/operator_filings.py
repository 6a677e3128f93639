"""Auditing operators' filings for walk-in, phone, SMS and WhatsApp reporters, by the day.

An audit entry per filing, stamped to the microsecond (and placed in the chain between
the entries around it), would date a visit: beside the office's CCTV or visitor book it
names the reporter. So the filing transaction only counts (member, day, channel), and
once the day is over `audit_finished_days()` (run by `flask sessions sweep`, every few
minutes from a timer) appends one entry per member and day — "filed 3 walk-in reports on
2 Dec" — and deletes the counts. No tracking code, no time finer than the day; the entry
itself is written after midnight, whatever time the visits were.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.models import Channel, OperatorFiling, Staff
from portal.models.base import today
from portal.services import audit

ACTION = "report.filed_by_operator"


def count_filing(*, actor: Staff, channel: Channel) -> None:
    """Count one report filed by `actor` today through `channel`, in the filing's transaction.

    An upsert, so two filings of one member at the same moment both count instead of one
    failing on the key.
    """
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(OperatorFiling).values(
        staff_id=actor.id, day=today(), channel=str(channel), count=1
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["staff_id", "day", "channel"],
            set_={"count": OperatorFiling.count + 1},
        )
    )


def detail(counts: dict[str, int]) -> str:
    """The audit entry's detail: each channel's count, e.g. `phone=1 walk_in=3`."""
    return " ".join(f"{channel}={counts[channel]}" for channel in sorted(counts))


def audit_finished_days() -> int:
    """One audit entry per member and finished day from the counts, which are then deleted.

    Flushes; the caller's `atomic()` block commits the entries and the deletion together.
    Returns how many entries were appended.
    """
    rows = list(
        db.session.scalars(
            db.select(OperatorFiling)
            .where(OperatorFiling.day < today())
            .order_by(OperatorFiling.day, OperatorFiling.staff_id, OperatorFiling.channel)
            .with_for_update()
        )
    )
    days: dict[tuple[date, int], dict[str, int]] = defaultdict(dict)
    for row in rows:
        days[(row.day, row.staff_id)][row.channel] = row.count
    for (day, staff_id), counts in days.items():
        member = db.session.get(Staff, staff_id)
        audit.record(
            actor=member.email if member is not None else f"staff/{staff_id}",
            action=ACTION,
            target=day.isoformat(),
            detail=detail(counts),
        )
    for row in rows:
        db.session.delete(row)
    db.session.flush()
    return len(days)
