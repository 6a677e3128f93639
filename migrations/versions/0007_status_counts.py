"""Maintained reports per status for the triage queue, filled from the existing reports.

Revision ID: 0007_status_counts
Revises: 0006_publication_rules
Create Date: 2026-12-02

One small table (portal/models/counts.py, kept up by portal/services/status_counts.py);
the data migration counts the reports once, exactly as `flask counts check --repair` does.
And one partial index, open reports by (received_on, id, due_on), for the overdue page.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007_status_counts"
down_revision = "0006_publication_rules"
branch_labels = None
depends_on = None

# As in portal/services/status_counts.py at this revision (a migration keeps its own copy).
DIMENSIONS = {
    "category": "category_code",
    "service": "service_code",
    "unit": "unit_code",
    "channel": "channel",
    "priority": "priority",
    "assignee": "assignee_id",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def upgrade() -> None:
    """Create status_count and count the reports into it; index the open reports by date."""
    op.create_index(
        "ix_report_open_received",
        "report",
        ["received_on", "id", "due_on"],
        sqlite_where=sa.text("due_on IS NOT NULL"),
        postgresql_where=sa.text("due_on IS NOT NULL"),
    )
    table = op.create_table(
        "status_count",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "value", "status", name="pk_status_count"),
    )
    connection = op.get_bind()
    report = sa.table(
        "report",
        sa.column("status"),
        sa.column("due_on", sa.Date()),
        *(sa.column(column) for column in DIMENSIONS.values()),
    )
    cells: Counter[tuple[str, str, str]] = Counter()
    groups = [("all", None), *DIMENSIONS.items(), ("due", "due_on")]
    for dimension, column in groups:
        keys = [report.c.status] + ([report.c[column]] if column else [])
        statement = sa.select(*keys, sa.func.count()).group_by(*keys)
        if dimension == "due":
            statement = statement.where(report.c.due_on.is_not(None))
        for row in connection.execute(statement):
            value = _text(row[1]) if column else ""
            cells[(dimension, value, _text(row[0]))] += int(row[-1])
    if cells:
        op.bulk_insert(
            table,
            [
                {"dimension": dimension, "value": value, "status": status, "n": n}
                for (dimension, value, status), n in sorted(cells.items())
            ],
        )


def downgrade() -> None:
    """Drop status_count (the queue then counts on every view again) and the index."""
    op.drop_table("status_count")
    op.drop_index("ix_report_open_received", table_name="report")
