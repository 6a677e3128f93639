"""Operators' filings counted per member, day and channel, instead of one audit entry each.

Revision ID: 0005_operator_filings
Revises: 0004_api_keys
Create Date: 2026-12-02

One table (portal/models/operator_filings.py). The audit entries already written for
operator filings (one per report, with its second) are part of the hash chain and stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_operator_filings"
down_revision = "0004_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create operator_filing."""
    op.create_table(
        "operator_filing",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name="fk_operator_filing_staff_id_staff"
        ),
        sa.PrimaryKeyConstraint("staff_id", "day", "channel", name="pk_operator_filing"),
    )


def downgrade() -> None:
    """Drop operator_filing (counts of days not yet audited are lost)."""
    op.drop_table("operator_filing")
