"""Baseline: the schema as `db.create_all()` made it before migrations existed.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-01

Equal to the models at commit b72724e. The tables are written out here, frozen, rather
than imported from portal.models: the models will change, this revision must not. The
same definitions let `portal.schema` check that an instance made before migrations
existed has exactly this schema before stamping it (see README, "Upgrading").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# The naming convention of portal.extensions.Base, copied so this file stays frozen.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def baseline_metadata() -> sa.MetaData:
    """The baseline tables, with their constraints and indexes."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table(
        "audit_entry",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
        sa.UniqueConstraint("entry_hash", name="uq_audit_entry_entry_hash"),
        sa.Index("ix_audit_entry_action", "action"),
    )
    sa.Table(
        "category",
        metadata,
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_id", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_category"),
    )
    sa.Table(
        "inspectorate_key",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("recovery_salt", sa.LargeBinary(), nullable=False),
        sa.Column("recovery_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspectorate_key"),
    )
    sa.Table(
        "service",
        metadata,
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_id", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("fee_rupiah", sa.BigInteger(), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("standard_time_id", sa.String(length=200), nullable=False),
        sa.Column("standard_time_en", sa.String(length=200), nullable=False),
        sa.Column("requirements_id", sa.Text(), nullable=False),
        sa.Column("requirements_en", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("penalty_basis", sa.String(length=200), nullable=False),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_service"),
    )
    sa.Table(
        "setting",
        metadata,
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_setting"),
    )
    sa.Table(
        "staff",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("totp_enrolled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=False),
        sa.Column("password_salt", sa.LargeBinary(), nullable=False),
        sa.Column("password_kdf", sa.String(length=64), nullable=False),
        sa.Column("password_verifier", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_private_key", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_totp_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff"),
        sa.UniqueConstraint("email", name="uq_staff_email"),
    )
    sa.Table(
        "stats_refresh",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_stats_refresh"),
    )
    sa.Table(
        "stats_snapshot",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=True),
        sa.Column("deadlines", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stats_snapshot"),
        sa.Index("ix_stats_snapshot_built_at", "built_at"),
    )
    sa.Table(
        "unit",
        metadata,
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_id", sa.String(length=160), nullable=False),
        sa.Column("name_en", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("hours_id", sa.String(length=200), nullable=False),
        sa.Column("hours_en", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_unit"),
    )
    sa.Table(
        "report",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracking_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("category_code", sa.String(length=40), nullable=False),
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.Column("incident_month", sa.Date(), nullable=False),
        sa.Column("amount_demanded_rounded", sa.BigInteger(), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("status_since", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("referred_to", sa.String(length=40), nullable=True),
        sa.Column("referral_reference", sa.String(length=80), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("sanction", sa.String(length=40), nullable=True),
        sa.Column("refund_rupiah", sa.BigInteger(), nullable=True),
        sa.Column("content_ct", sa.LargeBinary(), nullable=False),
        sa.Column("contact_ct", sa.LargeBinary(), nullable=True),
        sa.Column("key_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("receipt_salt", sa.LargeBinary(), nullable=False),
        sa.Column("receipt_kdf", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["staff.id"], name="fk_report_assignee_id_staff"),
        sa.ForeignKeyConstraint(
            ["category_code"], ["category.code"], name="fk_report_category_code_category"
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"], ["report.id"], name="fk_report_duplicate_of_id_report"
        ),
        sa.ForeignKeyConstraint(
            ["service_code"], ["service.code"], name="fk_report_service_code_service"
        ),
        sa.ForeignKeyConstraint(["unit_code"], ["unit.code"], name="fk_report_unit_code_unit"),
        sa.PrimaryKeyConstraint("id", name="pk_report"),
        sa.UniqueConstraint("tracking_code", name="uq_report_tracking_code"),
        sa.Index(
            "ix_report_assignee_id_due",
            "assignee_id",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_assignee_id_received", "assignee_id", "received_on", "id", "status"),
        sa.Index("ix_report_assignee_status", "assignee_id", "status"),
        sa.Index("ix_report_category_code", "category_code"),
        sa.Index(
            "ix_report_category_code_due",
            "category_code",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index(
            "ix_report_category_code_received", "category_code", "received_on", "id", "status"
        ),
        sa.Index(
            "ix_report_channel_due",
            "channel",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_channel_received", "channel", "received_on", "id", "status"),
        sa.Index("ix_report_due_id", "due_on", "id"),
        sa.Index("ix_report_due_received", "due_on", "received_on", "id", "status"),
        sa.Index(
            "ix_report_priority_due",
            "priority",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_priority_received", "priority", "received_on", "id", "status"),
        sa.Index("ix_report_received_id", "received_on", "id"),
        sa.Index("ix_report_service_code", "service_code"),
        sa.Index(
            "ix_report_service_code_due",
            "service_code",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_service_code_received", "service_code", "received_on", "id", "status"),
        sa.Index(
            "ix_report_status_due",
            "status",
            "due_on",
            "id",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_status_received", "status", "received_on", "id"),
        sa.Index("ix_report_unit_code", "unit_code"),
        sa.Index(
            "ix_report_unit_code_due",
            "unit_code",
            "due_on",
            "id",
            "status",
            sqlite_where=sa.text("due_on IS NOT NULL"),
            postgresql_where=sa.text("due_on IS NOT NULL"),
        ),
        sa.Index("ix_report_unit_code_received", "unit_code", "received_on", "id", "status"),
    )
    sa.Table(
        "service_unit",
        metadata,
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("unit_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_code"],
            ["service.code"],
            name="fk_service_unit_service_code_service",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["unit.code"], name="fk_service_unit_unit_code_unit", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("service_code", "unit_code", name="pk_service_unit"),
    )
    sa.Table(
        "stats_cell",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("figure", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["stats_snapshot.id"],
            name="fk_stats_cell_snapshot_id_stats_snapshot",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stats_cell"),
        sa.Index("ix_stats_cell_snapshot_month", "snapshot_id", "month"),
    )
    sa.Table(
        "attachment",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name="fk_attachment_report_id_report", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attachment"),
        sa.Index("ix_attachment_report_id", "report_id"),
    )
    sa.Table(
        "message",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name="fk_message_report_id_report", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_message_staff_id_staff"),
        sa.PrimaryKeyConstraint("id", name="pk_message"),
        sa.Index("ix_message_report_id", "report_id"),
    )
    sa.Table(
        "portal_session",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_portal_session_report_id_report",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name="fk_portal_session_staff_id_staff", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_portal_session"),
        sa.UniqueConstraint("token_hash", name="uq_portal_session_token_hash"),
        sa.Index("ix_portal_session_report_id", "report_id"),
        sa.Index("ix_portal_session_staff_id", "staff_id"),
    )
    sa.Table(
        "published_case",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("sanction", sa.String(length=40), nullable=True),
        sa.Column("refund_rupiah", sa.BigInteger(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=40), nullable=True),
        sa.Column("withdrawal_note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["staff.id"], name="fk_published_case_approver_id_staff"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["staff.id"], name="fk_published_case_author_id_staff"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff.id"], name="fk_published_case_created_by_id_staff"
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name="fk_published_case_report_id_report",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"], ["staff.id"], name="fk_published_case_withdrawn_by_id_staff"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_published_case"),
        sa.UniqueConstraint("public_id", name="uq_published_case_public_id"),
        sa.UniqueConstraint("report_id", name="uq_published_case_report_id"),
        sa.Index("ix_published_case_state_approved", "state", "approved_at", "id"),
    )
    sa.Table(
        "status_change",
        metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("public_note", sa.Text(), nullable=False),
        sa.Column("internal_note_ct", sa.LargeBinary(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["report.id"], name="fk_status_change_report_id_report"
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name="fk_status_change_staff_id_staff"),
        sa.PrimaryKeyConstraint("id", name="pk_status_change"),
        sa.Index("ix_status_change_report_id", "report_id"),
    )
    return metadata


def upgrade() -> None:
    """Create every baseline table with its indexes (also in `--sql` mode)."""
    impl = op.get_context().impl
    for table in baseline_metadata().sorted_tables:
        impl.create_table(table)


def downgrade() -> None:
    """Drop every baseline table, dependents first."""
    impl = op.get_context().impl
    for table in reversed(baseline_metadata().sorted_tables):
        impl.drop_table(table)
