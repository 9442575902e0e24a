"""Patients found by date of birth; sites' phone numbers in E.164 like patients'.

Registration looks for a patient of the same name among those born that day. The names are
compared in Python (case and accents aside, which SQLite and PostgreSQL cannot do alike), so only
an index on the birth date is needed and no stored copy of the names to keep in step. Plain
CREATE INDEX on both databases; no table is rebuilt.

Sites' phones are from now on kept in E.164; one typed otherwise before is rewritten when it is a
number, and left as it was when it is not (nobody guesses at it here: the next change of the site
refuses it with the reason).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

from tms_scheduler.domain.phones import InvalidPhone, to_e164

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

sites = sa.table("sites", sa.column("id", sa.String), sa.column("phone", sa.String))


def upgrade() -> None:
    op.create_index("ix_patients_date_of_birth", "patients", ["date_of_birth"])
    connection = op.get_bind()
    for site_id, phone in connection.execute(sa.select(sites.c.id, sites.c.phone).where(sites.c.phone != "")).all():
        try:
            e164 = to_e164(phone)
        except InvalidPhone:
            continue
        if e164 != phone:
            connection.execute(sites.update().where(sites.c.id == site_id).values(phone=e164))


def downgrade() -> None:
    # The phones stay in E.164: the same numbers, as the schema before this one accepts them.
    op.drop_index("ix_patients_date_of_birth", table_name="patients")
