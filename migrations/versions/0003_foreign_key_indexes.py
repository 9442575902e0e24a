"""An index on every foreign key that no index, unique constraint or primary key led with.

Neither PostgreSQL nor SQLite indexes the referencing side of a foreign key. Deleting a parent row
(or changing its key) makes the database look for rows still pointing at it, and without an index
that is a scan of the whole child table per deleted row: deleting one course's 36 sessions at 1 M
stored sessions scanned `sessions` 36 times for `makeup_for_id`, ~3 s. Joins and filters on these
columns (a patient's courses, a session's make-ups, what a user recorded) pay the same way.

`courses.patient_id` needs its own index although `uq_courses_one_active_per_patient` leads with
it: that index is partial (active courses only), so it cannot find a patient's completed or
cancelled courses.

Plain CREATE INDEX on both databases, inside the migration's transaction (it holds off writes to
the table while it builds: about a second for `sessions` at 1 M rows). No batch mode: recreating
`sessions` on SQLite would drop its overlap triggers. tests/integration/test_foreign_key_indexes.py
checks that no foreign key is left without one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (index, table, columns): the foreign key each serves is the column of the same name.
INDEXES = (
    ("ix_sessions_makeup_for_id", "sessions", ["makeup_for_id"]),  # -> sessions: a session's delete, its make-ups
    ("ix_courses_patient_id", "courses", ["patient_id"]),  # -> patients: a patient's courses, any status
    ("ix_courses_protocol_id", "courses", ["protocol_id"]),  # -> protocols
    ("ix_courses_created_by", "courses", ["created_by"]),  # -> users
    ("ix_session_events_user_id", "session_events", ["user_id"]),  # -> users
    ("ix_course_events_user_id", "course_events", ["user_id"]),  # -> users
    ("ix_treatment_records_technician_id", "treatment_records", ["technician_id"]),  # -> users
    ("ix_assessments_recorded_by", "assessments", ["recorded_by"]),  # -> users
    ("ix_auth_tokens_user_id", "auth_tokens", ["user_id"]),  # -> users: a user's tokens (sign-out everywhere)
    ("ix_sites_holiday_calendar", "sites", ["holiday_calendar"]),  # -> holiday_calendars
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
