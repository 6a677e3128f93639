"""Frozen statistics keep their own rules; published cases' facts join the protection.

Revision ID: 0006_publication_rules
Revises: 0005_operator_filings
Create Date: 2026-12-02

- stats_publication.k, .labels, .floors: the minimum cell size, the breakdowns' labels and
  what published cases showed, as on publication day (a quarter published before this
  revision keeps k = 5, the default it was published with, and its live labels).
- stats_case_fact: the facts of published cases that count as published in the statistics.
- stats_refresh dropped: nothing takes the rebuild lease any more (requests never build).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_publication_rules"
down_revision = "0005_operator_filings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns and the table, drop the lease table."""
    with op.batch_alter_table("stats_publication") as batch:
        batch.add_column(sa.Column("k", sa.Integer(), nullable=False, server_default="5"))
        batch.add_column(sa.Column("labels", sa.Text(), nullable=True))
        batch.add_column(sa.Column("floors", sa.Text(), nullable=False, server_default="{}"))
    op.create_table(
        "stats_case_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("figure", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_stats_case_fact_report_id_report",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stats_case_fact"),
        sa.UniqueConstraint("report_id", "figure", "key", name="uq_stats_case_fact_report_id"),
    )
    op.create_index("ix_stats_case_fact_period", "stats_case_fact", ["period"])
    op.drop_table("stats_refresh")


def downgrade() -> None:
    """Put the lease table back, drop the new table and columns."""
    op.create_table(
        "stats_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stats_refresh"),
    )
    op.drop_index("ix_stats_case_fact_period", table_name="stats_case_fact")
    op.drop_table("stats_case_fact")
    with op.batch_alter_table("stats_publication") as batch:
        batch.drop_column("floors")
        batch.drop_column("labels")
        batch.drop_column("k")
