"""items remember the inode their bytes were read from and its change time, so a re-docking
can tell an untouched file from another recording under the same name (issue 23)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_inode", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("source_ctime_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.drop_column("source_ctime_ns")
        batch_op.drop_column("source_inode")
