"""an item's (device, path, sha256) is unique by the SHA-256 of its path, not by the path
itself: PostgreSQL's btree holds at most about 2.7 KB an entry, and a path of long CJK names
that does not compress is longer, so its item could not be recorded (issue 18, hostile input)

The new column original_path_sha256 is filled for the items already there, ``BATCH`` rows at
a time; then uq_item_device_path_digest_sha replaces uq_item_device_path_sha, and
ix_item_device_path (device, raw path) goes: the new constraint's index starts with
(device, digest) and serves the lookup of a path's items. On SQLite the table is rebuilt
(batch mode), with foreign keys off: see ``storage.catalog.engine.migrate``.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 1000
"""Items read and updated at a time while filling the digests (flat memory at 1M items)."""

_items = sa.table(
    "evidence_item",
    sa.column("id", sa.Integer()),
    sa.column("original_path", sa.LargeBinary()),
    sa.column("original_path_sha256", sa.LargeBinary()),
)


def upgrade() -> None:
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("original_path_sha256", sa.LargeBinary(length=32), nullable=True)
        )
    _fill_digests(op.get_bind())
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.alter_column(
            "original_path_sha256", existing_type=sa.LargeBinary(length=32), nullable=False
        )
        batch_op.drop_constraint("uq_item_device_path_sha", type_="unique")
        batch_op.drop_index("ix_item_device_path")
        batch_op.create_unique_constraint(
            "uq_item_device_path_digest_sha", ["device_id", "original_path_sha256", "sha256"]
        )


def _fill_digests(conn: sa.Connection) -> None:
    """Every item's path digest (the same as ``catalog.models.path_digest``), in id order."""
    after = 0
    update = (
        _items.update()
        .where(_items.c.id == sa.bindparam("item_id"))
        .values(original_path_sha256=sa.bindparam("digest"))
    )
    while True:
        rows = conn.execute(
            sa.select(_items.c.id, _items.c.original_path)
            .where(_items.c.id > after)
            .order_by(_items.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [{"item_id": i, "digest": hashlib.sha256(path).digest()} for i, path in rows],
        )
        after = rows[-1][0]


def downgrade() -> None:
    """Back to the index on the raw path: on PostgreSQL this fails (and changes nothing)
    while an item's path is too long for it."""
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.drop_constraint("uq_item_device_path_digest_sha", type_="unique")
        batch_op.create_index("ix_item_device_path", ["device_id", "original_path"], unique=False)
        batch_op.create_unique_constraint(
            "uq_item_device_path_sha", ["device_id", "original_path", "sha256"]
        )
        batch_op.drop_column("original_path_sha256")
