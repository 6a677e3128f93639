"""Per-report statistics facts of the quarters not yet published, filled from the reports.

Revision ID: 0009_stats_facts
Revises: 0008_device_generation
Create Date: 2026-12-02

Three tables (portal/models/stats.py): `stats_fact`, one narrow row per report of a
quarter not yet published; `stats_pending`, reports changed since the timer last folded
them; `stats_fold`, what the facts cover and the deadlines they were judged with. The
data migration computes the facts of every report received after the newest published
quarter (every report, if none is published) with portal/services/stats/facts.py, the
code that keeps them: facts are a cache whose row records the rules and deadlines they
were made with, and the timer rebuilds them whenever those differ, so a fill made here
can never publish a different figure than a full read would.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_stats_facts"
down_revision = "0008_device_generation"
branch_labels = None
depends_on = None

# As portal/services/settings.py and stats/figures.py read them at this revision.
DEADLINE_STATUSES = ("received", "needs_info", "verified", "in_progress")
INSPECTORATE_STAGES = ("received", "verified", "in_progress")
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


def _deadlines(connection: Any) -> dict[str, int]:
    """The inspectorate's working days per stage, as `stats.inspectorate_deadlines()`."""
    from flask import current_app

    from portal.config import DefaultConfig

    try:
        configured = dict(current_app.config["DEADLINE_WORKING_DAYS"])
    except RuntimeError:  # migrated without an app (tests, scripts): the shipped defaults
        configured = dict(DefaultConfig.DEADLINE_WORKING_DAYS)
    days = {status: int(configured[status]) for status in DEADLINE_STATUSES if status in configured}
    stored = connection.execute(
        sa.text("SELECT value FROM setting WHERE key = 'deadlines'")
    ).scalar()
    values = json.loads(stored) if stored else None
    if isinstance(values, dict):
        for status in DEADLINE_STATUSES:
            value = values.get(status)
            if isinstance(value, int) and not isinstance(value, bool):
                days[status] = value
    return {stage: days[stage] for stage in INSPECTORATE_STAGES if stage in days}


def upgrade() -> None:
    """Create the three tables and fill the facts of the quarters not yet published."""
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
    from portal.models.base import today
    from portal.services.stats import facts

    connection = op.get_bind()
    facts.fill(connection, facts.first_unpublished(connection), _deadlines(connection), today())


def downgrade() -> None:
    """Drop the facts (publishing then reads each quarter's reports whole again)."""
    op.drop_table("stats_fold")
    op.drop_table("stats_pending")
    for columns in FACT_GROUPS:
        op.drop_index(f"ix_stats_fact_month_{columns[0]}", table_name="stats_fact")
    op.drop_table("stats_fact")
