"""Sessions and their history are written through one seam (services.session_changes), nowhere else."""
from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from tests.factories import book_course
from tms_scheduler.db import models
from tms_scheduler.db.write_guard import WriteOutsideSeam

PACKAGE = Path(__file__).resolve().parents[2] / "tms_scheduler"
SEAM = PACKAGE / "services" / "session_changes.py"


@pytest.fixture
def course(front_desk):
    return book_course(front_desk)


def test_a_session_added_outside_the_seam_is_refused(db, course):
    with db() as session, pytest.raises(WriteOutsideSeam):
        first = session.get(models.TreatmentSession, course["sessions"][0]["id"])
        session.add(models.TreatmentSession(course_id=course["id"], number=99, kind="makeup", status="scheduled",
                                            site_id="fullerton", chair_id=first.chair_id,
                                            starts_at=datetime(2027, 6, 1, 16, tzinfo=UTC),
                                            ends_at=datetime(2027, 6, 1, 17, tzinfo=UTC)))
        session.flush()


def test_a_status_changed_outside_the_seam_is_refused(db, course):
    with db() as session, pytest.raises(WriteOutsideSeam):
        session.get(models.TreatmentSession, course["sessions"][0]["id"]).status = "cancelled"
        session.flush()


def test_an_update_statement_on_sessions_outside_the_seam_is_refused(db, course):
    with db() as session, pytest.raises(WriteOutsideSeam):
        session.execute(update(models.TreatmentSession).where(models.TreatmentSession.course_id == course["id"])
                        .values(status="cancelled"))


def test_deleting_a_session_outside_the_seam_is_refused(db, course):
    with db() as session, pytest.raises(WriteOutsideSeam):
        last = course["sessions"][-1]["id"]
        session.execute(delete(models.TreatmentSession).where(models.TreatmentSession.id == last))


def test_a_history_row_written_outside_the_seam_is_refused(db, course):
    with db() as session, pytest.raises(WriteOutsideSeam):
        session.execute(insert(models.SessionEvent).values(session_id=course["sessions"][0]["id"], at=datetime.now(UTC),
                                                           action="forged", to_status="completed"))


def test_reading_sessions_outside_the_seam_is_allowed(db, course):
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)) == len(course["sessions"])


def test_every_booked_session_has_its_booking_in_its_history(db, course):
    with db() as session:
        booked = session.execute(select(models.SessionEvent.session_id, models.SessionEvent.user_id)
                                 .where(models.SessionEvent.action == "book")).all()
    assert sorted(session_id for session_id, _ in booked) == sorted(s["id"] for s in course["sessions"])
    assert len({user_id for _, user_id in booked}) == 1 and booked[0][1] is not None


def _writes_to_guarded_tables(tree: ast.AST) -> list[str]:
    """Code that names a session or history row being built, or opens the guard itself."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name in ("models.TreatmentSession", "models.SessionEvent", "TreatmentSession", "SessionEvent",
                        "guarded_writes") or (
                    name in ("insert", "update", "delete") and node.args
                    and ast.unparse(node.args[0]) in ("models.TreatmentSession", "models.SessionEvent")):
                found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_module_but_the_seam_builds_or_writes_session_rows():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if path in (SEAM, PACKAGE / "db" / "write_guard.py", PACKAGE / "db" / "models.py"):
            continue
        found = _writes_to_guarded_tables(ast.parse(path.read_text()))
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_the_code_reading_check_finds_a_session_built_outside_the_seam():
    sample = ("def f(db):\n"
              "    db.add(models.TreatmentSession(course_id=1))\n"
              "    db.execute(update(models.TreatmentSession))\n")
    assert len(_writes_to_guarded_tables(ast.parse(sample))) == 2
