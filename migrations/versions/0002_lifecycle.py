"""Lifecycle: retention, four eyes, keyed audit chain, per-member key pairs, rotation.

Revision ID: 0002_lifecycle
Revises: 0001_baseline
Create Date: 2026-12-01

Existing rows keep working:
- audit entries written so far are the unkeyed scheme 1 (server default), and still
  verify; entries from now on are keyed (scheme 2);
- staff keep their pre-key-pair wrapped copy and get their own key pair at their next
  sign-in; accounts that exist now have no recorded voucher, so four eyes treats them
  as set up independently (it cannot know better), and admins are marked `admin_ever`;
- the inspectorate key is generation 1 with its legacy recovery wrap; the first
  rotation (from the shell, with the recovery key) gives it a recovery key pair.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_lifecycle"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_anchor",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_audit_anchor")),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("scheme", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
    with op.batch_alter_table("inspectorate_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovery_public_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("recovery_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shredded_on", sa.Date(), nullable=True))
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("wrapped_member_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("sealed_inspectorate_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("vouched_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("admin_ever", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("reset_requested_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_reset_requested_by_id_staff"),
            "staff",
            ["reset_requested_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_staff_vouched_by_id_staff"), "staff", ["vouched_by_id"], ["id"]
        )
    staff = sa.table("staff", sa.column("role", sa.String), sa.column("admin_ever", sa.Boolean))
    op.execute(staff.update().where(staff.c.role == "admin").values(admin_ever=True))


def downgrade() -> None:
    """Undo this revision (keyed audit entries and key pairs are lost with their columns)."""
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_staff_vouched_by_id_staff"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_staff_reset_requested_by_id_staff"), type_="foreignkey"
        )
        batch_op.drop_column("reset_requested_by_id")
        batch_op.drop_column("admin_ever")
        batch_op.drop_column("vouched_by_id")
        batch_op.drop_column("sealed_inspectorate_key")
        batch_op.drop_column("wrapped_member_key")
        batch_op.drop_column("public_key")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("shredded_on")
    with op.batch_alter_table("inspectorate_key", schema=None) as batch_op:
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("generation")
        batch_op.drop_column("recovery_sealed")
        batch_op.drop_column("recovery_public_key")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_column("scheme")
    op.drop_table("audit_head")
    op.drop_table("audit_anchor")
