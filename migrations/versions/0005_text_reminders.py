"""Text reminders: sites' policies, the reminders outbox, messages to and from patients, the call-back list.

Sessions gain `confirmed_at` (the patient's C reply) and patients `phone_invalid_at` (Twilio's
21211), both by plain ALTER TABLE ADD COLUMN: recreating `sessions` on SQLite would drop its
overlap triggers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

from tms_scheduler.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
DIGEST = sa.text("kind = 'digest'")


def upgrade() -> None:
    op.add_column("sessions", sa.Column("confirmed_at", UTCDateTime(), nullable=True))
    op.add_column("patients", sa.Column("phone_invalid_at", UTCDateTime(), nullable=True))
    op.create_table(
        "reminder_policies",
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), primary_key=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("digest_weekday", sa.Integer(), nullable=True),
        sa.Column("digest_time", sa.Time(), nullable=True),
        sa.Column("quiet_start", sa.Time(), nullable=False),
        sa.Column("quiet_end", sa.Time(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("digest_weekday IS NULL OR digest_weekday BETWEEN 1 AND 7",
                           name="ck_reminder_policies_weekday"),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id"), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("minutes_before", sa.Integer(), nullable=True),
        sa.Column("digest_week", sa.Date(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("send_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(80), nullable=True),
        sa.Column("twilio_sid", sa.String(64), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('first', 'every', 'makeup', 'moved', 'taper', 'digest')",
                           name="ck_reminders_kind"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled', "
                           "'expired', 'suppressed')", name="ck_reminders_status"),
    )
    op.create_index("ix_reminders_pending_send_at", "reminders", ["send_at"], sqlite_where=PENDING,
                    postgresql_where=PENDING)
    for column in ("session_id", "course_id", "patient_id", "site_id", "twilio_sid"):
        op.create_index(f"ix_reminders_{column}", "reminders", [column])
    op.create_index("uq_reminders_digest", "reminders", ["patient_id", "digest_week"], unique=True,
                    sqlite_where=DIGEST, postgresql_where=DIGEST)
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=True),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("twilio_sid", sa.String(64), nullable=True, unique=True),
        sa.Column("reminder_id", sa.Integer(), sa.ForeignKey("reminders.id"), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("direction IN ('out', 'in')", name="ck_messages_direction"),
    )
    op.create_index("ix_messages_patient_at", "messages", ["patient_id", "at"])
    op.create_index("ix_messages_reminder_id", "messages", ["reminder_id"])
    op.create_table(
        "callbacks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=True),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
    )
    op.create_index("ix_callbacks_site_open", "callbacks", ["site_id", "done_at"])
    for column in ("patient_id", "message_id", "done_by"):
        op.create_index(f"ix_callbacks_{column}", "callbacks", [column])


def downgrade() -> None:
    for table in ("callbacks", "messages", "reminders", "reminder_policies"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "sqlite":
        # ALTER TABLE DROP COLUMN keeps the sessions table (and its overlap triggers).
        op.execute("ALTER TABLE patients DROP COLUMN phone_invalid_at")
        op.execute("ALTER TABLE sessions DROP COLUMN confirmed_at")
    else:
        op.drop_column("patients", "phone_invalid_at")
        op.drop_column("sessions", "confirmed_at")
