"""the custody log holds every compliance fact (issue 14): a catalog that already has events
is marked so that its current facts are recorded once as ``facts_recorded`` events

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facts_pending",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facts_pending")),
    )
    op.execute(
        "INSERT INTO facts_pending (id, since) SELECT 1, CURRENT_TIMESTAMP "
        "WHERE EXISTS (SELECT 1 FROM custody_event)"
    )


def downgrade() -> None:
    op.drop_table("facts_pending")
