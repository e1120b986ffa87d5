"""the console's item search by flag through indexes (issue 16): the late items
(offload_check.late_flag_seq) and the items with any flag (evidence_item.flags), so a search
for late or damaged items at 1M items reads the few flagged ones, not every item

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 07:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offload_check", schema=None) as batch_op:
        batch_op.create_index("ix_offload_check_late_flag_seq", ["late_flag_seq"], unique=False)
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.create_index("ix_item_flags", ["flags"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.drop_index("ix_item_flags")
    with op.batch_alter_table("offload_check", schema=None) as batch_op:
        batch_op.drop_index("ix_offload_check_late_flag_seq")
