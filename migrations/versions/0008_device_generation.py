"""A password reset revokes the member's trusted-device cookies: staff.device_generation.

Revision ID: 0008_device_generation
Revises: 0007_status_counts
Create Date: 2026-12-02

Existing cookies carry no generation and read as 0, the value every account starts with,
so they stay trusted until the account's next reset.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_device_generation"
down_revision = "0007_status_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add staff.device_generation (0)."""
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column(
                "device_generation", sa.Integer(), server_default=sa.text("0"), nullable=False
            )
        )


def downgrade() -> None:
    """Drop staff.device_generation (device cookies then survive a reset again)."""
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("device_generation")
