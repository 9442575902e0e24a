"""Sites, chairs, closures, protocols, patients, courses, sessions, users.

Written by hand: the chair-overlap guard (an exclusion constraint on PostgreSQL, a
trigger on SQLite) is beyond what autogenerate sees.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

from tms_scheduler.db.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HOLDING = "status IN ('scheduled', 'checked_in', 'completed')"


def _created_at() -> sa.Column:
    return sa.Column("created_at", UTCDateTime(), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    calendars = op.create_table(
        "holiday_calendars",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(80), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _created_at(),
        sa.CheckConstraint("role IN ('front_desk', 'technician', 'clinician', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        _created_at(),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_auth_tokens_expires_at", "auth_tokens", ["expires_at"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_sign_in_failures_username_at", "sign_in_failures", ["username", "at"])
    op.create_table(
        "sites",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("offers_tms", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("open_days", sa.JSON(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("holiday_calendar", sa.String(40), sa.ForeignKey("holiday_calendars.id"), nullable=False),
        _created_at(),
        sa.CheckConstraint("closes > opens", name="ck_sites_hours"),
    )
    op.create_table(
        "chairs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("coil", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("site_id", "name"),
        sa.CheckConstraint("coil IN ('figure-8', 'h1')", name="ck_chairs_coil"),
    )
    op.create_index("ix_chairs_site_id", "chairs", ["site_id"])
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        _created_at(),
        sa.UniqueConstraint("site_id", "date"),
    )
    op.create_table(
        "protocols",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("coil", sa.String(20), nullable=False),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("mapping_minutes", sa.Integer(), nullable=False),
        sa.Column("session_minutes", sa.Integer(), nullable=False),
        sa.Column("sessions_per_day", sa.Integer(), nullable=False),
        sa.Column("min_gap_minutes", sa.Integer(), nullable=False),
        sa.Column("total_sessions", sa.Integer(), nullable=False),
        sa.CheckConstraint("coil IN ('figure-8', 'h1')", name="ck_protocols_coil"),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("sms_consent_at", UTCDateTime(), nullable=True),
        sa.Column("sms_opted_out", sa.Boolean(), nullable=False),
        sa.Column("sms_opted_out_at", UTCDateTime(), nullable=True),
        _created_at(),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("language IN ('en', 'es')", name="ck_patients_language"),
    )
    op.create_index("ix_patients_last_first", "patients", ["last_name", "first_name"])
    op.create_index("ix_patients_phone", "patients", ["phone"])
    op.create_table(
        "courses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patients.id"), nullable=False),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("protocol_id", sa.String(60), sa.ForeignKey("protocols.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("preferred_time", sa.Time(), nullable=False),
        sa.Column("payer", sa.String(120), nullable=True),
        sa.Column("authorization_number", sa.String(60), nullable=True),
        sa.Column("authorized_sessions", sa.Integer(), nullable=True),
        sa.Column("authorization_valid_from", sa.Date(), nullable=True),
        sa.Column("authorization_valid_to", sa.Date(), nullable=True),
        sa.Column("authorization_override_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        _created_at(),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('active', 'completed', 'cancelled')", name="ck_courses_status"),
    )
    op.create_index("uq_courses_one_active_per_patient", "courses", ["patient_id"], unique=True,
                    sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
    op.create_index("ix_courses_site_status", "courses", ["site_id", "status"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("site_id", sa.String(60), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("chair_id", sa.Integer(), sa.ForeignKey("chairs.id"), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        _created_at(),
        sa.Column("updated_at", UTCDateTime(), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("course_id", "number"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_sessions_positive_length"),
        sa.CheckConstraint("kind IN ('mapping', 'treatment', 'taper', 'makeup')", name="ck_sessions_kind"),
        sa.CheckConstraint("status IN ('scheduled', 'checked_in', 'completed', 'no_show', 'cancelled')",
                           name="ck_sessions_status"),
    )
    op.create_index("ix_sessions_chair_starts", "sessions", ["chair_id", "starts_at"])
    op.create_index("ix_sessions_site_starts", "sessions", ["site_id", "starts_at"])
    op.create_index("ix_sessions_course_id", "sessions", ["course_id"])

    op.bulk_insert(calendars, [
        {"id": "us-clinic", "name": "US clinic holidays (observed)", "country": "US", "rules": [
            {"name": "New Year's Day", "offset_days": 0}, {"name": "Memorial Day", "offset_days": 0},
            {"name": "Independence Day", "offset_days": 0}, {"name": "Labor Day", "offset_days": 0},
            {"name": "Thanksgiving Day", "offset_days": 0}, {"name": "Thanksgiving Day", "offset_days": 1},
            {"name": "Christmas Day", "offset_days": 0}]},
        {"id": "none", "name": "No holidays", "country": None, "rules": []},
    ])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE sessions ADD CONSTRAINT ex_sessions_chair_overlap EXCLUDE USING gist "
            "(chair_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            f"WHERE ({HOLDING})"
        )
    else:
        # SQLite has no exclusion constraints; these triggers refuse the same rows.
        # Instants are stored as fixed-format UTC text, so text comparison orders them.
        overlap = (
            "SELECT RAISE(ABORT, 'ex_sessions_chair_overlap: chair already booked at that time') "
            "WHERE NEW.status IN ('scheduled', 'checked_in', 'completed') AND EXISTS ("
            "SELECT 1 FROM sessions s WHERE s.chair_id = NEW.chair_id AND s.id IS NOT NEW.id "
            "AND s.status IN ('scheduled', 'checked_in', 'completed') "
            "AND s.starts_at < NEW.ends_at AND NEW.starts_at < s.ends_at);"
        )
        op.execute(f"CREATE TRIGGER tr_sessions_chair_overlap_insert BEFORE INSERT ON sessions "
                   f"BEGIN {overlap} END")
        op.execute(f"CREATE TRIGGER tr_sessions_chair_overlap_update "
                   f"BEFORE UPDATE OF chair_id, starts_at, ends_at, status ON sessions "
                   f"BEGIN {overlap} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS tr_sessions_chair_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS tr_sessions_chair_overlap_insert")
    for table in ("sessions", "courses", "patients", "protocols", "closures", "chairs", "sites",
                  "sign_in_failures", "auth_tokens", "users", "holiday_calendars"):
        op.drop_table(table)
