"""initial catalog

Revision ID: 0001
Revises:
Create Date: 2026-11-27 00:02:57.900008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "custody_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("dock", sa.String(length=100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_custody_event")),
    )
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_event_item_id"), ["item_id"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_docked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("serial", name=op.f("uq_device_serial")),
    )
    op.create_table(
        "dock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dock")),
        sa.UniqueConstraint("name", name=op.f("uq_dock_name")),
    )
    op.create_table(
        "log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_leaf", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_head")),
    )
    op.create_table(
        "log_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_log_node")),
    )
    op.create_table(
        "officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("certificate_no", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officer")),
        sa.UniqueConstraint("badge", name=op.f("uq_officer_badge")),
    )
    op.create_table(
        "stored_object",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.String(length=255), nullable=True),
        sa.Column("retention_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_object")),
        sa.UniqueConstraint("backend", "sha256", name="uq_stored_object_backend_sha"),
    )
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_object_sha256"), ["sha256"], unique=False)

    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dock_id"], ["dock.id"], name=op.f("fk_checkpoint_dock_id_dock")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint")),
    )
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkpoint_dock_id"), ["dock_id"], unique=False)

    op.create_table(
        "device_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.DateTime(), nullable=False),
        sa.Column("end_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_device_assignment_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_device_assignment_officer_id_officer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_assignment")),
    )
    with op.batch_alter_table("device_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_assignment_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_assignment_officer_id"), ["officer_id"], unique=False
        )

    op.create_table(
        "dock_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dock_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_dock_session_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["dock_id"], ["dock.id"], name=op.f("fk_dock_session_dock_id_dock")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dock_session")),
    )
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dock_session_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dock_session_dock_id"), ["dock_id"], unique=False)

    op.create_table(
        "evidence_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("original_path", sa.LargeBinary(), nullable=False),
        sa.Column("original_path_display", sa.Text(), nullable=False),
        sa.Column("source_mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("durable_at", sa.DateTime(), nullable=True),
        sa.Column("confidentiality", sa.String(length=32), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=True),
        sa.Column("recorded_start", sa.DateTime(), nullable=True),
        sa.Column("recorded_end", sa.DateTime(), nullable=True),
        sa.Column("time_source", sa.String(length=32), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("video_codec", sa.String(length=64), nullable=True),
        sa.Column("audio_codec", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("make", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("camera_serial", sa.String(length=200), nullable=True),
        sa.Column("gps_lat", sa.Float(), nullable=True),
        sa.Column("gps_lon", sa.Float(), nullable=True),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("probe_errors", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_evidence_item_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"], ["officer.id"], name=op.f("fk_evidence_item_officer_id_officer")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["dock_session.id"],
            name=op.f("fk_evidence_item_session_id_dock_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_item")),
        sa.UniqueConstraint("device_id", "original_path", "sha256", name="uq_item_device_path_sha"),
    )
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_item_officer_id"), ["officer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_item_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_evidence_item_sha256"), ["sha256"], unique=False)
        batch_op.create_index("ix_item_device_path", ["device_id", "original_path"], unique=False)
        batch_op.create_index("ix_item_recorded_start", ["recorded_start"], unique=False)
        batch_op.create_index("ix_item_state_acquired", ["state", "acquired_at"], unique=False)

    op.create_table(
        "derived_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["evidence_item.id"], name=op.f("fk_derived_media_item_id_evidence_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_derived_media")),
    )
    with op.batch_alter_table("derived_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_derived_media_item_id"), ["item_id"], unique=False)

    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["evidence_item.id"], name=op.f("fk_job_item_id_evidence_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_claim", ["state", "not_before"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_claim")

    op.drop_table("job")
    with op.batch_alter_table("derived_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_derived_media_item_id"))

    op.drop_table("derived_media")
    with op.batch_alter_table("evidence_item", schema=None) as batch_op:
        batch_op.drop_index("ix_item_state_acquired")
        batch_op.drop_index("ix_item_recorded_start")
        batch_op.drop_index("ix_item_device_path")
        batch_op.drop_index(batch_op.f("ix_evidence_item_sha256"))
        batch_op.drop_index(batch_op.f("ix_evidence_item_session_id"))
        batch_op.drop_index(batch_op.f("ix_evidence_item_officer_id"))

    op.drop_table("evidence_item")
    with op.batch_alter_table("dock_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dock_session_dock_id"))
        batch_op.drop_index(batch_op.f("ix_dock_session_device_id"))

    op.drop_table("dock_session")
    with op.batch_alter_table("device_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_assignment_officer_id"))
        batch_op.drop_index(batch_op.f("ix_device_assignment_device_id"))

    op.drop_table("device_assignment")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoint_dock_id"))

    op.drop_table("checkpoint")
    with op.batch_alter_table("stored_object", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_object_sha256"))

    op.drop_table("stored_object")
    op.drop_table("officer")
    op.drop_table("log_node")
    op.drop_table("log_head")
    op.drop_table("dock")
    op.drop_table("device")
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_event_item_id"))

    op.drop_table("custody_event")
