"""Attendance: status history, treatment records, PHQ-9 assessments, make-up links, pausing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

from tms_scheduler.db.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("courses", sa.Column("paused_at", UTCDateTime(), nullable=True))
    op.add_column("chairs", sa.Column("out_of_service_from", sa.Date(), nullable=True))
    # Plain ALTER TABLE ADD COLUMN on both databases: recreating `sessions` on SQLite
    # would drop its overlap triggers.
    op.add_column("sessions", sa.Column("cancelled_by", sa.String(20), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE sessions ADD COLUMN makeup_for_id INTEGER REFERENCES sessions (id)")
    else:
        op.add_column("sessions", sa.Column("makeup_for_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_sessions_makeup_for_id", "sessions", "sessions", ["makeup_for_id"], ["id"])
    op.create_table(
        "session_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("from_starts_at", UTCDateTime(), nullable=True),
        sa.Column("to_starts_at", UTCDateTime(), nullable=True),
        sa.Column("from_chair_id", sa.Integer(), nullable=True),
        sa.Column("to_chair_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_session_events_session_id", "session_events", ["session_id"])
    op.create_table(
        "course_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_course_events_course_id", "course_events", ["course_id"])
    op.create_table(
        "treatment_records",
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id"), primary_key=True),
        sa.Column("motor_threshold", sa.Integer(), nullable=False),
        sa.Column("intensity", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Float(), nullable=True),
        sa.Column("pulses", sa.Integer(), nullable=True),
        sa.Column("coil_position", sa.String(200), nullable=True),
        sa.Column("side_effects", sa.JSON(), nullable=False),
        sa.Column("discomfort", sa.Integer(), nullable=True),
        sa.Column("technician_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("supervising_physician", sa.String(200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("discomfort IS NULL OR discomfort BETWEEN 0 AND 10", name="ck_treatment_discomfort"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("instrument", sa.String(20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 27", name="ck_assessments_phq9_range"),
    )
    op.create_index("ix_assessments_course_id", "assessments", ["course_id"])
    # The no-show sweep looks for sessions still scheduled after their end.
    op.create_index("ix_sessions_status_ends", "sessions", ["status", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_status_ends", "sessions")
    for table in ("assessments", "treatment_records", "course_events", "session_events"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops columns by rebuilding the table; do it by hand for `sessions` so
        # its overlap triggers survive (ALTER TABLE DROP COLUMN keeps triggers).
        op.execute("ALTER TABLE sessions DROP COLUMN makeup_for_id")
        op.execute("ALTER TABLE sessions DROP COLUMN cancelled_by")
        op.execute("ALTER TABLE courses DROP COLUMN paused_at")
        op.execute("ALTER TABLE chairs DROP COLUMN out_of_service_from")
    else:
        op.drop_column("chairs", "out_of_service_from")
        op.drop_column("sessions", "makeup_for_id")
        op.drop_column("sessions", "cancelled_by")
        op.drop_column("courses", "paused_at")
