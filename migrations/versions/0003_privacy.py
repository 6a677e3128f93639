"""Privacy (issue 10): frozen quarterly statistics, server-side double-submit guard,
and receipts that staff saw.

Revision ID: 0003_privacy
Revises: 0002_lifecycle
Create Date: 2026-12-01

- stats_publication: one frozen row per closed quarter (the public statistics).
- used_submission: keyed hashes of review-step marks already sent (was a cookie list);
  no rowid on SQLite, so the rows keep no insertion order.
- report.receipt_seen_by_staff: the receipt is replaced at the first inbox sign-in.
  Existing reports filed by an operator (walk-in, phone, SMS, WhatsApp) get it too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_privacy"
down_revision = "0002_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two tables and the column."""
    op.create_table(
        "stats_publication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("deadlines", sa.Text(), nullable=False),
        sa.Column("cells", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_publication"),
        sa.UniqueConstraint("period", name="uq_stats_publication_period"),
    )
    op.create_table(
        "used_submission",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_used_submission"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_used_submission_expires_on", "used_submission", ["expires_on"])
    with op.batch_alter_table("report") as batch:
        batch.add_column(
            sa.Column(
                "receipt_seen_by_staff",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    report = sa.table("report", sa.column("channel"), sa.column("receipt_seen_by_staff"))
    op.execute(
        report.update()
        .where(report.c.channel.in_(["walk_in", "phone", "sms", "whatsapp"]))
        .values(receipt_seen_by_staff=sa.true())
    )


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("report") as batch:
        batch.drop_column("receipt_seen_by_staff")
    op.drop_index("ix_used_submission_expires_on", table_name="used_submission")
    op.drop_table("used_submission")
    op.drop_table("stats_publication")
