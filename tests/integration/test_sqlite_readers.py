"""Readers on SQLite take no lock: a read opens a deferred BEGIN (WAL mode), so another connection holding
the write lock does not hold it up; only writing transactions open with BEGIN IMMEDIATE. The audit rows a
read notes are still written, after its snapshot, in a short write transaction of their own, and the read
answers only once they are. On PostgreSQL a read stays one transaction with its audit rows.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from datetime import date

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from tests.factories import book_course, create_patient
from tms_scheduler.db import models
from tms_scheduler.db.engine import WriteInRead
from tms_scheduler.services import catalog, courses, patients, progress
from tms_scheduler.services.actor import Actor

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SHORT_BUSY_TIMEOUT_MS = 200  # a statement that waited for the write lock fails after this, instead of 30 s
QUIET_DAY = date(2027, 6, 1)  # no sessions on it: a day board noting no audit rows


@pytest.fixture
def rt(app):
    return app.extensions["tms"].runtime


@pytest.fixture
def desk_actor(db) -> Actor:
    with db() as session:
        user_id = session.scalar(select(models.User.id).where(models.User.role == "front_desk"))
    return Actor(user_id, "front_desk", username="frontdesk", request_id="readers-test")


@pytest.fixture
def short_busy_timeout(app):
    """The app's SQLite connections give up on a lock after 0.2 s (so waiting for one shows as an error)."""
    engine = app.extensions["tms"].engine

    @event.listens_for(engine, "connect")
    def _short(dbapi_connection, _record):  # runs after the engine's own PRAGMAs
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SHORT_BUSY_TIMEOUT_MS}")

    engine.dispose()
    yield
    event.remove(engine, "connect", _short)
    engine.dispose()


@pytest.fixture
def sqlite_path(database_url):
    return make_url(database_url).database


class WriteLockHolder:
    """Another connection to the same file holding SQLite's write lock (BEGIN IMMEDIATE) until released."""

    def __init__(self, path: str):
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN IMMEDIATE")

        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.connection.rollback()
            self.connection.close()


@pytest.fixture
def hold_write_lock(sqlite_path):
    holders: list[WriteLockHolder] = []

    def hold() -> WriteLockHolder:
        holders.append(WriteLockHolder(sqlite_path))
        return holders[-1]

    yield hold
    for holder in holders:
        holder.release()


@pytest.fixture
def statements(app):
    """Every statement the app's engine sends (BEGIN and COMMIT included), with the thread that sent it."""
    engine = app.extensions["tms"].engine
    sent: list[tuple[str, str]] = []

    def _record(_conn, _cursor, statement, _parameters, _context, _executemany):
        sent.append((threading.current_thread().name, statement.split()[0].upper() if statement.strip() else ""))
        if statement.startswith("BEGIN"):
            sent[-1] = (sent[-1][0], statement.strip())

    def _commit(_conn):  # the driver's commit(), not a statement of ours
        sent.append((threading.current_thread().name, "COMMIT"))

    event.listen(engine, "before_cursor_execute", _record)
    event.listen(engine, "commit", _commit)
    yield sent
    event.remove(engine, "before_cursor_execute", _record)
    event.remove(engine, "commit", _commit)


def audit_rows(db, patient_id: int | None = None) -> int:
    with db() as session:
        query = select(func.count()).select_from(models.AuditEvent)
        if patient_id is not None:
            query = query.where(models.AuditEvent.patient_id == patient_id)
        return session.scalar(query)


def sqlite_audit_rows(path: str, patient_id: int) -> int:
    """Counted on a connection of its own, outside the app."""
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM audit_events WHERE patient_id = ?", (patient_id,)).fetchone()[0]


# --- SQLite: readers do not wait for the writer


@SQLITE_ONLY
def test_a_read_noting_no_audit_rows_completes_while_another_connection_holds_the_write_lock(
        rt, desk_actor, short_busy_timeout, hold_write_lock, statements):
    hold_write_lock()

    # Had either waited for the lock, it would have failed with "database is locked" after 0.2 s.
    board = courses.day_board(rt, "fullerton", QUIET_DAY, desk_actor)
    sites = catalog.list_sites(rt)

    assert board.chairs and all(not entries for _chair, entries in board.chairs)
    assert {s.id for s in sites} >= {"fullerton"}
    begins = [s for _thread, s in statements if s.startswith("BEGIN")]
    assert begins and all(b == "BEGIN" for b in begins), begins  # deferred, never IMMEDIATE


@SQLITE_ONLY
def test_the_token_check_and_a_read_answer_while_another_connection_holds_the_write_lock(
        front_desk, short_busy_timeout, hold_write_lock):
    hold_write_lock()

    answer = front_desk.get("/api/v1/sites")  # the bearer token is checked, then the sites are read

    assert answer.status_code == 200, answer.json


@SQLITE_ONLY
def test_a_read_fetches_its_data_while_the_lock_is_held_and_writes_its_audit_row_once_it_is_released(
        rt, db, front_desk, desk_actor, hold_write_lock, sqlite_path, statements):
    patient_id = create_patient(front_desk, first_name="Lucia")["id"]
    before = sqlite_audit_rows(sqlite_path, patient_id)
    fetched = threading.Event()
    engine = rt.sessions.kw["bind"]

    def _after(_conn, _cursor, statement, _parameters, _context, _executemany):
        if threading.current_thread().name == "reader" and statement.lstrip().upper().startswith("SELECT"):
            fetched.set()

    event.listen(engine, "after_cursor_execute", _after)
    holder = hold_write_lock()
    result: dict = {}

    def read():
        try:
            result["patient"] = patients.get_patient(rt, patient_id, desk_actor)
        except Exception as exc:  # pragma: no cover - reported by the assertions below
            result["error"] = exc
        result["done_at"] = time.monotonic()

    reader = threading.Thread(target=read, name="reader")
    try:
        reader.start()
        assert fetched.wait(timeout=5), "the read did not fetch the patient while the write lock was held"
        time.sleep(0.3)
        # The data is read; the read now waits for the lock only to write its audit row, and has not answered.
        assert reader.is_alive()
        assert sqlite_audit_rows(sqlite_path, patient_id) == before
        released_at = time.monotonic()
        holder.release()
        reader.join(timeout=10)
    finally:
        event.remove(engine, "after_cursor_execute", _after)

    assert not reader.is_alive()
    assert "error" not in result, result.get("error")
    assert result["patient"].first_name == "Lucia"
    assert result["done_at"] >= released_at
    assert sqlite_audit_rows(sqlite_path, patient_id) == before + 1
    # The read's own transaction was deferred and committed before the audit row's BEGIN IMMEDIATE began.
    reader_statements = [s for thread, s in statements if thread == "reader"]
    assert reader_statements[0] == "BEGIN"
    first_commit = reader_statements.index("COMMIT")
    assert "SELECT" in reader_statements[:first_commit]
    assert reader_statements[first_commit + 1:] == ["BEGIN IMMEDIATE", "INSERT", "COMMIT"]


@SQLITE_ONLY
def test_a_read_sees_one_snapshot_even_when_a_writer_commits_between_its_statements(
        rt, front_desk, desk_actor, sqlite_path):
    course = book_course(front_desk)
    engine = rt.sessions.kw["bind"]
    selects = 0

    def _commit_a_change_after_the_first_select(_conn, _cursor, statement, *_args):
        nonlocal selects
        if statement.lstrip().upper().startswith("SELECT"):
            selects += 1
            if selects == 1:  # a writer on another connection commits while the read is between statements
                with sqlite3.connect(sqlite_path, isolation_level=None) as writer:
                    writer.execute("BEGIN IMMEDIATE")
                    writer.execute("UPDATE sessions SET status = 'cancelled' WHERE course_id = ?", (course["id"],))
                    writer.execute("COMMIT")

    event.listen(engine, "after_cursor_execute", _commit_a_change_after_the_first_select)
    try:
        read = courses.get_course(rt, course["id"], desk_actor)  # the course, then its sessions
    finally:
        event.remove(engine, "after_cursor_execute", _commit_a_change_after_the_first_select)

    assert selects >= 2
    assert {s.status for s in read.sessions} == {"scheduled"}  # as of the read's first statement
    assert {s.status for s in courses.get_course(rt, course["id"], desk_actor).sessions} == {"cancelled"}


@SQLITE_ONLY
def test_writing_transactions_still_take_the_write_lock_first(rt, front_desk, statements):
    create_patient(front_desk)

    begins = [s for _thread, s in statements if s.startswith("BEGIN")]
    # the token check (deferred), then the registration (BEGIN IMMEDIATE)
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"], begins


@SQLITE_ONLY
def test_a_writer_waits_for_the_lock_a_reader_does_not(rt, desk_actor, short_busy_timeout, hold_write_lock):
    from sqlalchemy.exc import OperationalError

    hold_write_lock()
    courses.day_board(rt, "fullerton", QUIET_DAY, desk_actor)  # answers
    with pytest.raises(OperationalError, match="locked"):
        patients.create_patient(rt, {"first_name": "Ana", "last_name": "Wait", "date_of_birth": date(1980, 1, 2),
                                     "phone": "+17145550188"}, desk_actor)


# --- both databases: reads still leave their audit rows; a read unit of work refuses to write


def test_reads_note_their_audit_rows_on_both_databases(rt, db, front_desk, desk_actor):
    course = book_course(front_desk)
    patient_id = course["patient_id"]
    before = audit_rows(db, patient_id)

    patients.get_patient(rt, patient_id, desk_actor)
    courses.get_course(rt, course["id"], desk_actor)
    progress.course_progress(rt, course["id"], desk_actor)
    board = courses.day_board(rt, "fullerton", date.fromisoformat(course["sessions"][0]["starts_at"][:10]),
                              desk_actor)

    assert any(entries for _chair, entries in board.chairs)
    assert audit_rows(db, patient_id) == before + 4
    with db() as session:
        noted = session.execute(select(models.AuditEvent.action, models.AuditEvent.entity)
                                .where(models.AuditEvent.patient_id == patient_id)
                                .order_by(models.AuditEvent.id.desc()).limit(4)).all()
    assert sorted(noted) == sorted([("read", "patient"), ("read", "course"), ("read", "course"), ("read", "session")])


def test_a_read_that_fails_writes_no_audit_row(rt, db, desk_actor):
    before = audit_rows(db)
    with pytest.raises(Exception, match="99999"):
        patients.get_patient(rt, 99999, desk_actor)
    assert audit_rows(db) == before


def test_a_read_unit_of_work_refuses_to_write(rt, db):
    with pytest.raises(WriteInRead), rt.reading() as session:
        session.add(models.HolidayCalendarRow(id="never", name="Never written"))
        session.flush()
    with db() as session:
        assert session.get(models.HolidayCalendarRow, "never") is None
