"""devices have a life: retired, lost, in repair, back in service, each from a time, with
its reason and its person (issue 20); history is kept, never rewritten

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-06 06:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_status_device_id", "device_status", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_device_status_device_id", table_name="device_status")
    op.drop_table("device_status")
