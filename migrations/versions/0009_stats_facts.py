"""Per-report statistics facts of the quarters not yet published (tables; the timer fills them).

Revision ID: 0009_stats_facts
Revises: 0008_device_generation
Create Date: 2026-12-02

Three tables (portal/models/stats.py): `stats_fact`, one narrow row per report of a
quarter not yet published; `stats_pending`, reports changed since the timer last folded
them; `stats_fold`, what the facts cover and the deadlines they were judged with.

The tables start empty: facts are a cache the daily timer builds (`flask stats publish`
finds no fold row and rebuilds them, about 12 s at a million reports, once), and until it
has, a quarter the facts do not cover is read whole, as before. So this revision carries
no copy of the code that computes them, and a later change to that code cannot change
what the migration did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_stats_facts"
down_revision = "0008_device_generation"
branch_labels = None
depends_on = None

# As portal/models/stats.py indexes the facts at this revision.
FACT_GROUPS = (
    ("status",),
    ("category",),
    ("service",),
    ("unit",),
    ("channel",),
    ("referral",),
    ("demanded",),
    ("refunded",),
    ("verification",),
    ("completion",),
    ("deadlines", "open_stage", "open_due"),
)


def upgrade() -> None:
    """Create the three tables, empty (the timer builds the facts)."""
    op.create_table(
        "stats_fact",
        sa.Column("report_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("referral", sa.String(length=40), nullable=True),
        sa.Column("demanded", sa.BigInteger(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=True),
        sa.Column("verification", sa.Integer(), nullable=True),
        sa.Column("completion", sa.Integer(), nullable=True),
        sa.Column("deadlines", sa.String(length=8), nullable=False),
        sa.Column("open_stage", sa.Integer(), nullable=True),
        sa.Column("open_due", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_stats_fact_report_id_report",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name="pk_stats_fact"),
    )
    for columns in FACT_GROUPS:
        op.create_index(f"ix_stats_fact_month_{columns[0]}", "stats_fact", ["month", *columns])
    op.create_table(
        "stats_pending",
        sa.Column("report_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("report_id", name="pk_stats_pending"),
    )
    op.create_table(
        "stats_fold",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("deadlines", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("folded_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stats_fold"),
    )


def downgrade() -> None:
    """Drop the facts (publishing then reads each quarter's reports whole again)."""
    op.drop_table("stats_fold")
    op.drop_table("stats_pending")
    for columns in FACT_GROUPS:
        op.drop_index(f"ix_stats_fact_month_{columns[0]}", table_name="stats_fact")
    op.drop_table("stats_fact")
