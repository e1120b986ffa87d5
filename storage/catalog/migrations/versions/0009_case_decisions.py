"""Art. 32 internal approval as recorded decisions (case_decision), a case's current stage
(Art. 4) and activities marked as likely to cause an administrative dispute (Art. 21), each
backed by a custody event (issue 14)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("opinion", sa.Text(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["enforcement_case.id"],
                                name=op.f("fk_case_decision_case_id_enforcement_case")),
        sa.ForeignKeyConstraint(["officer_id"], ["officer.id"],
                                name=op.f("fk_case_decision_officer_id_officer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_decision")),
    )  # fmt: skip
    op.create_index(op.f("ix_case_decision_case_id"), "case_decision", ["case_id"])
    with op.batch_alter_table("enforcement_case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stage", sa.String(length=32), nullable=False,
                      server_default="initiation")
        )  # fmt: skip
    with op.batch_alter_table("case_activity", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disputed", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("case_activity", schema=None) as batch_op:
        batch_op.drop_column("disputed")
    with op.batch_alter_table("enforcement_case", schema=None) as batch_op:
        batch_op.drop_column("stage")
    op.drop_index(op.f("ix_case_decision_case_id"), table_name="case_decision")
    op.drop_table("case_decision")
