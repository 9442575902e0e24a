"""The five reads the front desk and the clinicians hit most send a fixed number of statements:
as many with 20 courses booked (with treatments given and missed) as with 1, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.api.test_progress import give, miss
from tests.factories import book_course, create_patient, local, session_number, signed_in_at

COURSES = 20
FIRST_DAY = "2027-03-01"  # a Monday; course k starts k weekdays later


def start_date(k: int) -> str:
    weeks, day = divmod(k, 5)
    return f"2027-03-{1 + 7 * weeks + day:02d}"


READS = {
    "worklist": lambda course_id: "/api/v1/sites/fullerton/worklist",
    "course progress": lambda course_id: f"/api/v1/courses/{course_id}/progress",
    "course": lambda course_id: f"/api/v1/courses/{course_id}",
    "day board": lambda course_id: "/api/v1/sites/fullerton/schedule?date=2027-03-26",
    "availability": lambda course_id: (
        "/api/v1/sites/fullerton/availability?protocol_id=tms-10hz-standard&start_date=2027-03-29"),
}
ROLES = {"worklist": "clinician", "course progress": "clinician"}


def counted(client, clock, db, role: str, url: str) -> int:
    """The statements one GET sends (sign-in done before), with the clock at Friday 2027-03-26 08:00."""
    reader = signed_in_at(client, clock, local(2027, 3, 26, 8, 0), role)
    engine = db.kw["bind"]
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        answer = reader.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert answer.status_code == 200, answer.json
    return len(statements)


@pytest.mark.parametrize("read", list(READS))
def test_a_read_sends_as_many_statements_for_20_courses_as_for_1(client, clock, db, read):
    desk = signed_in_at(client, clock, local(2027, 2, 20, 10, 0))
    first = book_course(desk, create_patient(desk, first_name="First")["id"], start_date=FIRST_DAY,
                        preferred_time="07:00")
    role, url = ROLES.get(read, "front_desk"), READS[read](first["id"])
    one = counted(client, clock, db, role, url)

    booked = [first]
    for k in range(1, COURSES):
        desk = signed_in_at(client, clock, local(2027, 2, 20, 10, 0))
        booked.append(book_course(desk, create_patient(desk, first_name=f"Patient{k}")["id"],
                                  start_date=start_date(k), preferred_time=f"{7 + k % 10:02d}:00"))
    # Some history, so that every part of the worklist's reads has rows: treatments given, a run of misses.
    for course in booked[:3]:
        give(client, clock, session_number(course, 1))
    miss(client, clock, session_number(booked[0], 2))
    miss(client, clock, session_number(booked[0], 3))
    give(client, clock, session_number(booked[1], 2))

    assert counted(client, clock, db, role, url) == one
