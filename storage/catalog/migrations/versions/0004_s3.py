"""S3: what the object store reported for each object, legal holds, released local copies,
checkpoints published to the bucket, jobs pinned to the node whose spool holds their input
(issue 8)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="original", nullable=False)
        )
        batch_op.add_column(sa.Column("checksum", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("lock_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("legal_hold", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("released_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_column("node")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_column("published_at")
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.drop_column("released_at")
        batch_op.drop_column("legal_hold")
        batch_op.drop_column("lock_mode")
        batch_op.drop_column("checksum")
        batch_op.drop_column("role")
