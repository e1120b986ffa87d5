"""a dock session names the process that runs it (host, pid, start), so that the next start of
its dock can close a session whose process was killed as 'interrupted' (issue 18)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("owner_pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("owner_start", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.drop_column("owner_start")
        batch_op.drop_column("owner_pid")
        batch_op.drop_column("owner_host")
