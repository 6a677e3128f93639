"""The audit log read and written the way an auditor or an attacker with the database would."""

from __future__ import annotations

import re
from datetime import datetime

from portal.extensions import db
from portal.models import AuditEntry
from portal.services import audit
from portal.transaction import atomic

FAILED = re.compile(r"FAILED: entry (\d+): (\w+):")


def entries(app) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id)))
        db.session.expunge_all()
        return rows


def append(app, count: int, *, at: datetime | None = None, **fields: str) -> list[int]:
    """Append `count` real entries (optionally dated `at`)."""
    ids = []
    with app.app_context():
        for number in range(count):
            values = {
                "actor": "staff@inspektorat.example",
                "action": "report.viewed",
                "target": f"SRG-TEST-{number:04d}",
                "detail": f"step {number}",
                **fields,
            }
            with atomic():
                entry = audit.record(**values, at=at)
            ids.append(entry.id)
    return ids


def verify(app, *args: str):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def first_problem(app) -> tuple[int, str]:
    result = verify(app)
    assert result.exit_code == 1, result.output
    match = FAILED.search(result.output)
    assert match, result.output
    return int(match.group(1)), match.group(2)


COLUMNS = ("at", "actor", "action", "target", "detail", "previous_hash", "entry_hash")


def fields(entry: AuditEntry) -> dict:
    return {name: getattr(entry, name) for name in COLUMNS}
