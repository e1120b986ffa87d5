"""the log head keeps the frontier of the Merkle tree (the hashes of its perfect subtrees,
largest first), so an append reads everything it needs in the one statement that takes the
append lock, instead of reading sibling nodes while holding it (issue 19)

No backfill: a head without a frontier (NULL, or one written for another size or last leaf)
makes the next append read the frontier from log_node once, and write it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frontier", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_head", schema=None) as batch_op:
        batch_op.drop_column("frontier")
