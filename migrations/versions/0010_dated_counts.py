"""Maintained counts of reports with any deadline, per status (the queue's overdue counts).

Revision ID: 0010_dated_counts
Revises: 0009_stats_facts
Create Date: 2026-12-02

The overdue count per status was a sum over every past deadline day (thousands of rows
after a few years); it is now the reports with a deadline less those due from today on.
The new cells are the sums of the per-day cells already maintained, so nothing reads the
report table.
"""

from __future__ import annotations

from alembic import op

revision = "0010_dated_counts"
down_revision = "0009_stats_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ("dated", "", status) cells: the sum of that status's ("due", day) cells."""
    op.execute(
        "INSERT INTO status_count (dimension, value, status, n) "
        "SELECT 'dated', '', status, SUM(n) FROM status_count "
        "WHERE dimension = 'due' GROUP BY status"
    )


def downgrade() -> None:
    """Drop the dated cells (the previous code never reads them)."""
    op.execute("DELETE FROM status_count WHERE dimension = 'dated'")
