"""people and their roles (issue 16): who uses evidock, as which OS user, with which password
hash; an index for the access log (custody events by type, newest first)

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("badge", sa.String(length=64), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("os_user", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("username", name=op.f("uq_person_username")),
        sa.UniqueConstraint("os_user", name=op.f("uq_person_os_user")),
    )
    op.create_index(op.f("ix_person_badge"), "person", ["badge"], unique=False)
    op.create_table(
        "person_role",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_person_role_person_id_person")
        ),
        sa.PrimaryKeyConstraint("person_id", "role", name=op.f("pk_person_role")),
    )
    op.create_index("ix_custody_event_type_seq", "custody_event", ["type", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_custody_event_type_seq", table_name="custody_event")
    op.drop_table("person_role")
    op.drop_index(op.f("ix_person_badge"), table_name="person")
    op.drop_table("person")
