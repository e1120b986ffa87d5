"""cases, activities, links, excuses and offload checks (issue 6)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enforcement_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("enforcement_type", sa.String(length=32), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=False),
        sa.Column("handler_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("approver_id", sa.Integer(), nullable=True),
        sa.Column("confidentiality", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("archive_due_at", sa.DateTime(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("archived_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["officer.id"], name=op.f("fk_enforcement_case_approver_id_officer")
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["officer.id"], name=op.f("fk_enforcement_case_handler_id_officer")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["officer.id"], name=op.f("fk_enforcement_case_reviewer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enforcement_case")),
        sa.UniqueConstraint("number", name=op.f("uq_enforcement_case_number")),
    )
    op.create_index(
        op.f("ix_enforcement_case_archive_due_at"),
        "enforcement_case",
        ["archive_due_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_enforcement_case_archived_at"), "enforcement_case", ["archived_at"], unique=False
    )
    op.create_index(
        op.f("ix_enforcement_case_status"), "enforcement_case", ["status"], unique=False
    )
    op.create_table(
        "case_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=False),
        sa.Column("no_av_reason", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["enforcement_case.id"],
            name=op.f("fk_case_activity_case_id_enforcement_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_activity")),
    )
    op.create_index(op.f("ix_case_activity_case_id"), "case_activity", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_activity_end_at"), "case_activity", ["end_at"], unique=False)
    op.create_table(
        "case_activity_officer",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["case_activity.id"],
            name=op.f("fk_case_activity_officer_activity_id_case_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_case_activity_officer_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("activity_id", "officer_id", name=op.f("pk_case_activity_officer")),
    )
    op.create_index(
        op.f("ix_case_activity_officer_officer_id"),
        "case_activity_officer",
        ["officer_id"],
        unique=False,
    )
    op.create_table(
        "case_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=40), nullable=True),
        sa.Column("how", sa.String(length=64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.Column("linked_seq", sa.BigInteger(), nullable=False),
        sa.Column("retired", sa.Integer(), nullable=False),
        sa.Column("unlinked_at", sa.DateTime(), nullable=True),
        sa.Column("unlinked_by", sa.String(length=200), nullable=True),
        sa.Column("unlink_reason", sa.Text(), nullable=True),
        sa.Column("unlinked_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["case_activity.id"],
            name=op.f("fk_case_link_activity_id_case_activity"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["enforcement_case.id"], name=op.f("fk_case_link_case_id_enforcement_case")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["evidence_item.id"], name=op.f("fk_case_link_item_id_evidence_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_link")),
        sa.UniqueConstraint("case_id", "item_id", "retired", name="uq_case_link_live"),
    )
    op.create_index(op.f("ix_case_link_activity_id"), "case_link", ["activity_id"], unique=False)
    op.create_index(op.f("ix_case_link_item_id"), "case_link", ["item_id"], unique=False)
    op.create_table(
        "offload_check",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reference_end", sa.DateTime(), nullable=True),
        sa.Column("reference_source", sa.String(length=32), nullable=False),
        sa.Column("clock_problem", sa.String(length=200), nullable=False),
        sa.Column("durable_at", sa.DateTime(), nullable=True),
        sa.Column("delay_s", sa.Float(), nullable=True),
        sa.Column("late_flag_seq", sa.BigInteger(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["evidence_item.id"], name=op.f("fk_offload_check_item_id_evidence_item")
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_offload_check")),
    )
    op.create_index(
        op.f("ix_offload_check_clock_problem"), "offload_check", ["clock_problem"], unique=False
    )
    op.create_index(op.f("ix_offload_check_delay_s"), "offload_check", ["delay_s"], unique=False)
    op.create_index(
        op.f("ix_offload_check_reference_source"),
        "offload_check",
        ["reference_source"],
        unique=False,
    )
    op.create_table(
        "offload_excuse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["evidence_item.id"], name=op.f("fk_offload_excuse_item_id_evidence_item")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["dock_session.id"],
            name=op.f("fk_offload_excuse_session_id_dock_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offload_excuse")),
    )
    op.create_index(op.f("ix_offload_excuse_item_id"), "offload_excuse", ["item_id"], unique=False)
    op.create_index(
        "ix_dock_session_device_started", "dock_session", ["device_id", "started_at"], unique=False
    )
    op.create_index("ix_item_acquired_at", "evidence_item", ["acquired_at"], unique=False)
    op.create_index("ix_item_durable_at", "evidence_item", ["durable_at"], unique=False)
    op.create_index(
        "ix_item_officer_recorded", "evidence_item", ["officer_id", "recorded_start"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_item_officer_recorded", table_name="evidence_item")
    op.drop_index("ix_item_durable_at", table_name="evidence_item")
    op.drop_index("ix_item_acquired_at", table_name="evidence_item")
    op.drop_index("ix_dock_session_device_started", table_name="dock_session")
    op.drop_index(op.f("ix_offload_excuse_item_id"), table_name="offload_excuse")
    op.drop_table("offload_excuse")
    op.drop_index(op.f("ix_offload_check_reference_source"), table_name="offload_check")
    op.drop_index(op.f("ix_offload_check_delay_s"), table_name="offload_check")
    op.drop_index(op.f("ix_offload_check_clock_problem"), table_name="offload_check")
    op.drop_table("offload_check")
    op.drop_index(op.f("ix_case_link_item_id"), table_name="case_link")
    op.drop_index(op.f("ix_case_link_activity_id"), table_name="case_link")
    op.drop_table("case_link")
    op.drop_index(op.f("ix_case_activity_officer_officer_id"), table_name="case_activity_officer")
    op.drop_table("case_activity_officer")
    op.drop_index(op.f("ix_case_activity_end_at"), table_name="case_activity")
    op.drop_index(op.f("ix_case_activity_case_id"), table_name="case_activity")
    op.drop_table("case_activity")
    op.drop_index(op.f("ix_enforcement_case_status"), table_name="enforcement_case")
    op.drop_index(op.f("ix_enforcement_case_archived_at"), table_name="enforcement_case")
    op.drop_index(op.f("ix_enforcement_case_archive_due_at"), table_name="enforcement_case")
    op.drop_table("enforcement_case")
