"""When the database goes away: 503 with Retry-After (never 500), no half-written course, and recovery by itself.

The PostgreSQL tests run against a private cluster of this module's own (private_postgres.py), which they
crash and restart; the machine's shared server is never touched. Each test gets a fresh database copied
from a migrated template, so `database_url` here replaces the shared conftest's (no SQLite run: the SQLite
fault, a write lock held past the busy timeout, has a test of its own below).
"""
from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy import exc as sa_exc

from tests.conftest import DEMO_PASSWORDS
from tests.factories import course_body, create_patient, patient_body, row_counts
from tests.integration.private_postgres import PrivatePostgres, private_postgres
from tms_scheduler.api import errors
from tms_scheduler.app import create_app
from tms_scheduler.db import models
from tms_scheduler.db.engine import make_engine
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.services.session_changes import SessionChanges
from tms_scheduler.settings import Settings

TEMPLATE = "tms_template"
CLIENTS = 10
PATIENTS_PER_CLIENT = 25
DOWN_SECONDS = 1.5
# The clients' pause after a 503 before trying the same patient again (a real client waits Retry-After).
BACKOFF_SECONDS = 0.1
SITES = ("fullerton", "laguna-hills")
FIRST_MONDAY = date(2027, 1, 4)  # the test clock's today is 2026-12-01
REFUSALS = {409, 422}  # the clinic's rules saying no: the course does not fit, or may not be booked
_databases = itertools.count()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict | list | str


def call(base_url: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> Reply:
    """One HTTP call, answering the headers too (LiveServer.request keeps only status and body)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, dict(response.headers), _decode(response.read()))
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), _decode(error.read()))


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def assert_unavailable_answer(status: int, headers, body) -> None:
    """The 503 a lost database gets: flask-smorest's JSON error shape and a Retry-After in seconds."""
    assert status == 503, (status, body)
    assert headers.get("Retry-After") == "5", headers
    assert isinstance(body, dict), body
    assert body["code"] == 503 and body["status"] == "Service Unavailable", body
    assert body["message"] == "The database is unavailable; try again shortly", body


# --- the private cluster and a fresh database for each test

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pg = private_postgres(tmp_path_factory.mktemp("private-postgres"))
    pg.create_migrated_database(TEMPLATE)
    yield pg
    pg.destroy()


@pytest.fixture
def database_url(cluster: PrivatePostgres):
    """A migrated database on the private cluster, copied from the template; the cluster is left running."""
    url = cluster.create_database(f"tms_faults_{next(_databases)}", template=TEMPLATE)
    yield url
    if not cluster.is_running():
        cluster.start()


def course_sessions(db) -> dict[int, tuple[int, int]]:
    """Every course: (its sessions, its protocol's total)."""
    with db() as session:
        rows = session.execute(
            select(models.Course.id, func.count(models.TreatmentSession.id), models.Protocol.total_sessions)
            .join(models.Protocol, models.Protocol.id == models.Course.protocol_id)
            .outerjoin(models.TreatmentSession, models.TreatmentSession.course_id == models.Course.id)
            .group_by(models.Course.id, models.Protocol.total_sessions)
        ).all()
    return {course_id: (sessions, total) for course_id, sessions, total in rows}


# --- under load

@dataclass(frozen=True)
class Outcome:
    client: int
    kind: str  # "book" or "board"
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    headers: dict[str, str]
    body: dict | list | str


@pytest.mark.postgres
def test_a_database_crash_under_load_answers_503_never_500_and_leaves_no_half_written_course(
        cluster, live_server, front_desk, db):
    token = live_server.sign_in("front_desk")
    patients = [[create_patient(front_desk, first_name=f"Load{c}x{n}")["id"] for n in range(PATIENTS_PER_CLIENT)]
                for c in range(CLIENTS)]
    outcomes: list[Outcome] = []
    record = threading.Lock()
    stop = threading.Event()

    def timed(client: int, kind: str, method: str, path: str, body: dict | None = None) -> Reply:
        started = time.monotonic()
        try:
            reply = call(live_server.base_url, method, path, body, token)
        except Exception as exc:  # no HTTP answer at all: a failure of its own kind
            reply = Reply(0, {}, repr(exc))
        with record:
            outcomes.append(Outcome(client, kind, started, time.monotonic(), reply.status, reply.headers, reply.body))
        return reply

    def clerk(client: int) -> None:
        mine = iter(patients[client])
        patient = next(mine)
        for n in itertools.count():
            if stop.is_set():
                return
            site = SITES[client % len(SITES)]
            day = FIRST_MONDAY + timedelta(weeks=(client + n) % 20)
            if patient is not None:
                reply = timed(client, "book", "POST", "/api/v1/courses", course_body(
                    patient, site_id=site, start_date=str(day), preferred_time=f"{7 + (client + n) % 11:02d}:00"))
                if reply.status == 503:
                    time.sleep(BACKOFF_SECONDS)  # and the same patient again, as a client would
                else:
                    patient = next(mine, None)
            board = timed(client, "board", "GET", f"/api/v1/sites/{site}/schedule?date={day + timedelta(days=n % 5)}")
            if board.status == 503:
                time.sleep(BACKOFF_SECONDS)

    threads = [threading.Thread(target=clerk, args=(c,), name=f"clerk-{c}") for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: sum(o.status == 201 for o in outcomes) >= CLIENTS, "the load to get going")
        crashed_at = time.monotonic()
        cluster.restart(down_seconds=DOWN_SECONDS, mode="immediate")  # killed, as if it crashed, then started
        back_at = time.monotonic()
        # Every client answered 2xx again since the cluster came back: the pool recovered without an app restart.
        _wait_for(lambda: {o.client for o in outcomes if o.started >= back_at and o.status in (200, 201)}
                  == set(range(CLIENTS)), "every client to be answered 2xx after the restart")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    in_flight = [o for o in outcomes if o.started < crashed_at <= o.ended]
    during = [o for o in outcomes if o.started >= crashed_at and o.started < back_at]
    after = [o for o in outcomes if o.started >= back_at]
    print(f"\nanswers by status: all {_by_status(outcomes)}; in flight at the crash {_by_status(in_flight)} "
          f"(bookings {_by_status([o for o in in_flight if o.kind == 'book'])}); asked while down or starting "
          f"{_by_status(during)}; asked after it was back {_by_status(after)}; down {back_at - crashed_at:.2f} s")

    unexpected = [(o.kind, o.status, o.body) for o in outcomes if o.status not in (200, 201, 503, *REFUSALS)]
    assert not unexpected, unexpected[:5]
    unavailable = [o for o in outcomes if o.status == 503]
    assert unavailable, "nothing met the crash: no 503 while the database was down"
    for o in unavailable:
        assert_unavailable_answer(o.status, o.headers, o.body)
    assert all(o.ended >= crashed_at for o in unavailable)  # the database was fine before the crash
    assert any(o.kind == "book" and o.status == 201 for o in after), "no booking went through after the restart"

    # No half-written course: every course has all its protocol's sessions, and every 201 is such a course.
    sessions = course_sessions(db)
    assert all(count == total for count, total in sessions.values()), \
        {course: pair for course, pair in sessions.items() if pair[0] != pair[1]}
    booked = [o.body for o in outcomes if o.kind == "book" and o.status == 201 and isinstance(o.body, dict)]
    assert booked
    for course in booked:
        assert course["id"] in sessions, course["id"]
        count, total = sessions[course["id"]]
        assert len(course["sessions"]) == count == total
    assert len(sessions) >= len(booked)  # more only where a commit went through as the answer was lost


def _wait_for(condition, what: str, timeout: float = 25) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _by_status(outcomes) -> dict[int, int]:
    return dict(sorted(Counter(o.status for o in outcomes).items()))


# --- one request at a time

@pytest.mark.postgres
def test_while_the_database_is_down_requests_answer_503_with_retry_after_and_readyz_503(cluster, client, front_desk):
    assert front_desk.get("/api/v1/sites").status_code == 200
    patient = create_patient(front_desk)["id"]
    cluster.stop("immediate")

    for answer in (front_desk.get("/api/v1/sites"),
                   front_desk.post("/api/v1/courses", json=course_body(patient)),
                   client.post("/api/v1/auth/tokens", json={"username": "x", "password": "y"})):
        assert_unavailable_answer(answer.status_code, answer.headers, answer.json)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["status"] == "unavailable", ready.json
    assert client.get("/healthz").status_code == 200  # the process is up; only the database is not

    cluster.start()
    assert front_desk.get("/api/v1/sites").status_code == 200
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("mode", ["immediate", "fast"])
@pytest.mark.postgres
def test_the_first_request_after_a_restart_succeeds_as_pre_ping_replaces_the_dead_connections(
        cluster, app, client, front_desk, mode):
    engine = app.extensions["tms"].engine
    # Several connections in the pool, all of which the restart kills.
    with engine.connect() as a, engine.connect() as b, engine.connect() as c:
        for connection in (a, b, c):
            connection.execute(text("SELECT 1"))
    assert front_desk.get("/api/v1/sites").status_code == 200
    idle = engine.pool.checkedin()
    assert idle >= 3

    cluster.restart(mode=mode)

    for _ in range(idle + 1):  # every pooled connection dead, and each request still answered
        answer = front_desk.get("/api/v1/sites")
        assert answer.status_code == 200, answer.json
    assert client.get("/readyz").status_code == 200


@pytest.mark.postgres
def test_a_connection_lost_in_the_middle_of_a_booking_answers_503_and_writes_nothing(
        cluster, front_desk, db, monkeypatch):
    patient = create_patient(front_desk)["id"]
    create = SessionChanges.create

    def create_after_losing_the_connection(self, course, new, *, action):
        # The course row is flushed; now the server ends this backend before the sessions are inserted.
        pid = self.db.execute(text("SELECT pg_backend_pid()")).scalar_one()
        cluster.execute(f"SELECT pg_terminate_backend({pid})")
        return create(self, course, new, action=action)

    before = row_counts(db)
    monkeypatch.setattr(SessionChanges, "create", create_after_losing_the_connection)
    answer = front_desk.post("/api/v1/courses", json=course_body(patient))
    monkeypatch.undo()

    assert_unavailable_answer(answer.status_code, answer.headers, answer.json)
    assert row_counts(db) == before  # rolled back whole: no course, no session, no reminder, no history
    # Asked again (Retry-After), the same booking goes through, whole.
    again = front_desk.post("/api/v1/courses", json=course_body(patient))
    assert again.status_code == 201, again.json
    assert course_sessions(db) == {again.json["id"]: (len(again.json["sessions"]), len(again.json["sessions"]))}


# --- SQLite: a write lock held past the busy timeout

def test_sqlite_locked_past_the_busy_timeout_answers_503_with_retry_after_and_writes_nothing(
        sqlite_template, tmp_path, clock):
    path = tmp_path / "tms.db"
    shutil.copy(sqlite_template, path)
    app = create_app(Settings(database_url=f"sqlite:///{path}", env="test", secret_key="test-secret"), clock=clock)
    try:
        seed_demo(app.extensions["tms"].runtime)
        client = app.test_client()
        username, password = DEMO_PASSWORDS["front_desk"]
        signed_in = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert signed_in.status_code == 201, signed_in.json
        headers = {"Authorization": f"Bearer {signed_in.json['token']}"}
        engine = app.extensions["tms"].engine

        @event.listens_for(engine, "connect")
        def _short_busy_timeout(dbapi_connection, _record):  # after the engine's own: 0.2 s, not 30
            dbapi_connection.execute("PRAGMA busy_timeout = 200")

        engine.dispose()
        before = _sqlite_counts(path)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        try:
            answer = client.post("/api/v1/patients", json=patient_body(), headers=headers)
        finally:
            holder.rollback()
            holder.close()

        assert_unavailable_answer(answer.status_code, answer.headers, answer.json)
        assert _sqlite_counts(path) == before
        assert client.post("/api/v1/patients", json=patient_body(), headers=headers).status_code == 201
    finally:
        app.extensions["tms"].engine.dispose()


def _sqlite_counts(path) -> dict[str, int]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return {t.name: connection.scalar(select(func.count()).select_from(t))
                    for t in models.Base.metadata.sorted_tables}
    finally:
        engine.dispose()


# --- what counts as the database being unavailable, and what stays a 500

def _wrapped(orig: Exception, error_class=sa_exc.OperationalError, invalidated: bool = False) -> sa_exc.DBAPIError:
    return error_class("SELECT 1", {}, orig, connection_invalidated=invalidated)


def _with_sqlstate(error_class: type[psycopg.Error]) -> psycopg.Error:
    return error_class("from the server")  # psycopg's SQLSTATE classes know their code


UNAVAILABLE = {
    "connection refused": _wrapped(psycopg.OperationalError("connection failed: Connection refused")),
    "server closed the connection": _wrapped(psycopg.OperationalError("consuming input failed"), invalidated=True),
    "admin shutdown 57P01": _wrapped(_with_sqlstate(psycopg.errors.AdminShutdown)),
    "crash shutdown 57P02": _wrapped(_with_sqlstate(psycopg.errors.CrashShutdown)),
    "starting up 57P03": _wrapped(_with_sqlstate(psycopg.errors.CannotConnectNow)),
    "connection failure 08006": _wrapped(_with_sqlstate(psycopg.errors.ConnectionFailure)),
    "closed connection": _wrapped(psycopg.InterfaceError("the connection is closed"), sa_exc.InterfaceError,
                                  invalidated=True),
    "disconnection": sa_exc.DisconnectionError("the pooled connection is dead"),
    "pool timed out": sa_exc.TimeoutError("QueuePool limit reached"),
    "sqlite locked": _wrapped(sqlite3.OperationalError("database is locked")),
}
GENUINE = {
    "undefined table": _wrapped(_with_sqlstate(psycopg.errors.UndefinedTable), sa_exc.ProgrammingError),
    "unique violation": _wrapped(_with_sqlstate(psycopg.errors.UniqueViolation), sa_exc.IntegrityError),
    "query cancelled 57014": _wrapped(_with_sqlstate(psycopg.errors.QueryCanceled)),
    "cursor closed": _wrapped(psycopg.InterfaceError("the cursor is closed"), sa_exc.InterfaceError),
    "sqlite no such table": _wrapped(sqlite3.OperationalError("no such table: x")),
    "not a database error": RuntimeError("a bug"),
}


def _app_raising(exc: Exception) -> Flask:
    app = Flask(__name__)
    errors.register(app)

    @app.get("/boom")
    def boom():
        raise exc

    return app


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_a_lost_refused_or_busy_database_is_answered_503(name):
    answer = _app_raising(UNAVAILABLE[name]).test_client().get("/boom")
    assert_unavailable_answer(answer.status_code, answer.headers, answer.json)


@pytest.mark.parametrize("name", GENUINE)
def test_a_statement_the_database_refuses_stays_a_500(name):
    answer = _app_raising(GENUINE[name]).test_client().get("/boom")
    assert answer.status_code == 500, answer.json
    assert "Retry-After" not in answer.headers
    assert answer.json["code"] == 500


def test_the_503_mapping_is_only_for_connection_level_errors():
    assert all(errors.database_unavailable(exc) for exc in UNAVAILABLE.values())
    assert not any(errors.database_unavailable(exc) for exc in GENUINE.values())
