"""witness cosignatures and refusals of checkpoints, RFC 3161 timestamps (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witness_cosignature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
            name=op.f("fk_witness_cosignature_checkpoint_id_checkpoint"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witness_cosignature")),
        sa.UniqueConstraint(
            "checkpoint_id", "witness", name=op.f("uq_witness_cosignature_checkpoint_id")
        ),
    )
    with op.batch_alter_table("witness_cosignature", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_witness_cosignature_checkpoint_id"), ["checkpoint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_witness_cosignature_witness"), ["witness"], unique=False
        )
    op.create_table(
        "witness_refusal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("witness_size", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("refused_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
            name=op.f("fk_witness_refusal_checkpoint_id_checkpoint"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_witness_refusal")),
    )
    with op.batch_alter_table("witness_refusal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_witness_refusal_checkpoint_id"), ["checkpoint_id"], unique=False
        )

    op.create_table(
        "checkpoint_timestamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("gen_time", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoint.id"],
            name=op.f("fk_checkpoint_timestamp_checkpoint_id_checkpoint"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_timestamp")),
        sa.UniqueConstraint("checkpoint_id", name=op.f("uq_checkpoint_timestamp_checkpoint_id")),
    )


def downgrade() -> None:
    op.drop_table("checkpoint_timestamp")
    with op.batch_alter_table("witness_refusal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_witness_refusal_checkpoint_id"))
    op.drop_table("witness_refusal")
    with op.batch_alter_table("witness_cosignature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_witness_cosignature_witness"))
        batch_op.drop_index(batch_op.f("ix_witness_cosignature_checkpoint_id"))
    op.drop_table("witness_cosignature")
