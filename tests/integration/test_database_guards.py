"""What the database itself guarantees, with the service bypassed: no double-booked chair, UTC instants."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from tms_scheduler.db import models

PACIFIC_WINTER = timezone(timedelta(hours=-8))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 1, hour, minute, tzinfo=PACIFIC_WINTER)


@pytest.fixture
def db(app):
    """Sessions on the app's database without the service's write guard: these tests bypass the service."""
    return sessionmaker(app.extensions["tms"].engine, expire_on_commit=False)


@pytest.fixture
def course_id(db) -> int:
    with db.begin() as session:
        patient = models.Patient(first_name="Ana", last_name="Lopez", date_of_birth=date(1980, 2, 3),
                                 phone="+17145550100", language="en", sms_consent=True, sms_opted_out=False)
        session.add(patient)
        session.flush()
        course = models.Course(patient_id=patient.id, site_id="fullerton", protocol_id="tms-10hz-standard",
                               status="active", start_date=date(2027, 3, 1), preferred_time=time(9))
        session.add(course)
        session.flush()
        return course.id


@pytest.fixture
def chair_id(db) -> int:
    with db() as session:
        return session.scalar(select(models.Chair.id).where(models.Chair.name == "Fullerton chair 1"))


@pytest.fixture
def add_session(db, course_id, chair_id):
    """add_session(start, end, status=...) inserts one session straight into the table; answers its id."""
    numbers = iter(range(1, 100))

    def add(starts_at: datetime, ends_at: datetime, status: str = "scheduled") -> int:
        with db.begin() as session:
            row = models.TreatmentSession(course_id=course_id, number=next(numbers), kind="treatment", status=status,
                                          site_id="fullerton", chair_id=chair_id, starts_at=starts_at, ends_at=ends_at)
            session.add(row)
            session.flush()
            return row.id

    return add


def test_the_database_refuses_two_scheduled_sessions_overlapping_in_one_chair(add_session):
    add_session(at(9), at(9, 45))

    with pytest.raises(IntegrityError, match="ex_sessions_chair_overlap"):
        add_session(at(9, 30), at(10, 15))


def test_the_database_refuses_a_session_inside_another_in_one_chair(add_session):
    add_session(at(9), at(10))

    with pytest.raises(IntegrityError, match="ex_sessions_chair_overlap"):
        add_session(at(9, 15), at(9, 30))


def test_a_completed_session_holds_its_chair_against_a_new_booking(add_session):
    add_session(at(9), at(9, 45), status="completed")

    with pytest.raises(IntegrityError, match="ex_sessions_chair_overlap"):
        add_session(at(9), at(9, 45))


def test_a_cancelled_session_may_overlap_a_scheduled_one(add_session, db):
    add_session(at(9), at(9, 45), status="cancelled")
    add_session(at(9), at(9, 45))
    add_session(at(9, 15), at(10), status="no_show")

    with db() as session:
        assert session.scalar(select(text("count(*)")).select_from(models.TreatmentSession)) == 3


def test_touching_sessions_in_one_chair_are_allowed(add_session, db):
    add_session(at(9), at(9, 45))
    add_session(at(9, 45), at(10, 30))

    with db() as session:
        assert session.scalar(select(text("count(*)")).select_from(models.TreatmentSession)) == 2


def test_the_same_time_in_another_chair_is_allowed(add_session, db, course_id):
    add_session(at(9), at(9, 45))
    with db.begin() as session:
        other = session.scalar(select(models.Chair.id).where(models.Chair.name == "Fullerton chair 2"))
        session.add(models.TreatmentSession(course_id=course_id, number=50, kind="treatment", status="scheduled",
                                            site_id="fullerton", chair_id=other, starts_at=at(9), ends_at=at(9, 45)))

    with db() as session:
        assert session.scalar(select(text("count(*)")).select_from(models.TreatmentSession)) == 2


def test_an_update_moving_a_session_onto_anothers_time_is_refused(add_session, db):
    add_session(at(9), at(9, 45))
    later = add_session(at(11), at(11, 45))

    with pytest.raises(IntegrityError, match="ex_sessions_chair_overlap"), db.begin() as session:
        session.execute(update(models.TreatmentSession).where(models.TreatmentSession.id == later)
                        .values(starts_at=at(9, 30), ends_at=at(10, 15)))


def test_reinstating_a_cancelled_session_onto_a_taken_time_is_refused(add_session, db):
    cancelled = add_session(at(9), at(9, 45), status="cancelled")
    add_session(at(9), at(9, 45))

    with pytest.raises(IntegrityError, match="ex_sessions_chair_overlap"), db.begin() as session:
        session.execute(update(models.TreatmentSession).where(models.TreatmentSession.id == cancelled)
                        .values(status="scheduled"))


def test_a_session_stored_with_a_minus_eight_hours_instant_reads_back_aware_and_equal_in_utc(add_session, db):
    session_id = add_session(at(9), at(9, 45))

    with db() as session:
        row = session.get(models.TreatmentSession, session_id)
        assert row.starts_at.utcoffset() == timedelta(0)
        assert row.starts_at == datetime(2027, 3, 1, 17, 0, tzinfo=UTC)
        assert row.ends_at == datetime(2027, 3, 1, 17, 45, tzinfo=UTC)
        # And it is found by instant, whatever offset the question is asked in.
        found = session.scalar(select(models.TreatmentSession.id)
                               .where(models.TreatmentSession.starts_at == datetime(2027, 3, 1, 17, tzinfo=UTC)))
        assert found == session_id


def test_a_minus_eight_hours_instant_is_stored_as_its_utc_time(add_session, db, backend):
    session_id = add_session(at(9), at(9, 45))

    with db() as session:
        if backend == "sqlite":
            stored = session.scalar(text("SELECT starts_at FROM sessions WHERE id = :id"), {"id": session_id})
            assert stored.startswith("2027-03-01 17:00:00")
        else:
            stored = session.scalar(text("SELECT to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
                                         "FROM sessions WHERE id = :id"), {"id": session_id})
            assert stored == "2027-03-01 17:00"


def test_a_naive_datetime_is_refused_rather_than_guessed(add_session):
    with pytest.raises(Exception, match="naive datetime"):
        add_session(datetime(2027, 3, 1, 9), datetime(2027, 3, 1, 9, 45))
