"""The no-show sweep: sessions still scheduled a grace period after their end become no-shows
with make-ups, sessions of cancelled courses are left alone, and two real scheduler processes
against one PostgreSQL database mark each overdue session exactly once."""
from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Clock
from tests.factories import book_course, create_patient, local, session_number, signed_in, signed_in_at
from tests.integration.conftest import FLASK, cli_environment
from tms_scheduler.app import create_app
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine, make_session_factory
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.services.no_shows import mark_overdue_no_shows
from tms_scheduler.services.runtime import Runtime
from tms_scheduler.settings import PROJECT_ROOT, Settings


def sweep(factory, *, now: datetime, grace: timedelta) -> int:
    """The scheduler's no-show sweep, run with the clock at `now`."""
    return mark_overdue_no_shows(Runtime(factory, lambda: now), grace=grace)


FULLERTON = ZoneInfo("America/Los_Angeles")
SWEEP_DEADLINE_SECONDS = 30
EXIT_DEADLINE_SECONDS = 10
STARTUP_SECONDS = 4


def statuses(db, ids) -> dict[int, str]:
    with db() as session:
        return dict(session.execute(select(models.TreatmentSession.id, models.TreatmentSession.status)
                                    .where(models.TreatmentSession.id.in_(list(ids)))).all())


def no_show_events(db) -> dict[int, list[int | None]]:
    """The user ids of each session's no_show events."""
    events: dict[int, list[int | None]] = {}
    with db() as session:
        for session_id, user_id in session.execute(select(models.SessionEvent.session_id, models.SessionEvent.user_id)
                                                   .where(models.SessionEvent.action == "no_show")):
            events.setdefault(session_id, []).append(user_id)
    return events


def makeups_for(db) -> dict[int, int]:
    """How many make-ups were booked for each session."""
    with db() as session:
        return dict(session.execute(
            select(models.TreatmentSession.makeup_for_id, func.count())
            .where(models.TreatmentSession.makeup_for_id.is_not(None))
            .group_by(models.TreatmentSession.makeup_for_id)).all())


# --- the sweep function, on SQLite and PostgreSQL

@pytest.fixture
def three_courses(front_desk, client, clock) -> dict:
    """At 2027-03-02 12:00 in Fullerton: `due` (09:00 from 03-01) has sessions 1 and 2 overdue;
    `cancelled` (13:00 from 03-01, cancelled at that moment) has session 1 past and still scheduled;
    `running` (11:00 from 03-02) has session 1 (11:00-12:00) just ended."""
    due = book_course(front_desk, create_patient(front_desk, first_name="Due")["id"])
    cancelled = book_course(front_desk, create_patient(front_desk, first_name="Gone")["id"], preferred_time="13:00")
    running = book_course(front_desk, create_patient(front_desk, first_name="Run")["id"],
                          preferred_time="11:00", start_date="2027-03-02")
    desk = signed_in_at(client, clock, local(2027, 3, 2, 12, 0))
    answer = desk.post(f"/api/v1/courses/{cancelled['id']}/cancel", json={"reason": "moved away"})
    assert answer.status_code == 200, answer.json
    assert session_number(answer.json, 1)["status"] == "scheduled"
    return {"due": due, "cancelled": cancelled, "running": running}


def test_the_sweep_marks_overdue_sessions_no_show_with_one_make_up_each(db, three_courses):
    overdue = [session_number(three_courses["due"], n)["id"] for n in (1, 2)]

    marked = sweep(db, now=local(2027, 3, 2, 12, 0), grace=timedelta(minutes=30))

    assert marked == 2
    assert statuses(db, overdue) == dict.fromkeys(overdue, "no_show")
    assert {i: no_show_events(db).get(i) for i in overdue} == {i: [None] for i in overdue}, \
        "one no_show event each, by the scheduler (no user)"
    made_up = makeups_for(db)
    assert {i: made_up.get(i) for i in overdue} == dict.fromkeys(overdue, 1)
    with db() as session:
        makeups = session.scalars(select(models.TreatmentSession)
                                  .where(models.TreatmentSession.makeup_for_id.in_(overdue))).all()
    assert all(m.status == "scheduled" and m.kind == "makeup" for m in makeups)
    assert all(m.starts_at.astimezone(FULLERTON).date() > date(2027, 4, 9) for m in makeups)


def test_the_sweep_leaves_the_sessions_of_a_cancelled_course_alone(db, three_courses):
    left = session_number(three_courses["cancelled"], 1)["id"]

    sweep(db, now=local(2027, 3, 2, 12, 0), grace=timedelta(minutes=30))

    assert statuses(db, [left]) == {left: "scheduled"}
    assert left not in no_show_events(db)
    assert left not in makeups_for(db)


def test_the_sweep_waits_for_the_grace_period_after_a_sessions_end(db, three_courses):
    just_ended = session_number(three_courses["running"], 1)["id"]

    sweep(db, now=local(2027, 3, 2, 12, 0), grace=timedelta(minutes=30))
    assert statuses(db, [just_ended]) == {just_ended: "scheduled"}

    marked = sweep(db, now=local(2027, 3, 2, 12, 31), grace=timedelta(minutes=30))

    assert marked == 1
    assert statuses(db, [just_ended]) == {just_ended: "no_show"}


def test_sweeping_again_marks_nothing_more(db, three_courses):
    sweep(db, now=local(2027, 3, 2, 12, 0), grace=timedelta(minutes=30))
    events, made_up = no_show_events(db), makeups_for(db)

    assert sweep(db, now=local(2027, 3, 2, 12, 5), grace=timedelta(minutes=30)) == 0

    assert (no_show_events(db), makeups_for(db)) == (events, made_up)



def test_a_course_the_sweep_cannot_handle_does_not_hold_up_the_others(db, three_courses, monkeypatch):
    from tms_scheduler.services import no_shows

    broken = three_courses["due"]["id"]
    real_load = no_shows.load_course

    def load_course(session, course_id, **kwargs):
        if course_id == broken:
            raise RuntimeError("a course the sweep cannot read")
        return real_load(session, course_id, **kwargs)

    monkeypatch.setattr(no_shows, "load_course", load_course)
    marked = sweep(db, now=local(2027, 3, 3, 12, 0), grace=timedelta(minutes=30))

    running = session_number(three_courses["running"], 1)["id"]
    assert statuses(db, [running]) == {running: "no_show"}
    assert marked == 1

# --- two scheduler processes against one PostgreSQL database

def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture
def overdue_database(fresh_database_url) -> dict:
    """A fresh PostgreSQL database with three courses started three weeks ago, booked with the app clock
    set back then, and a fourth cancelled now; the ids of the sessions overdue at real time now.

    The three running courses are held back (status `completed`) until `release()` makes them
    active again in one statement, so that both schedulers are up and polling when the work appears.
    """
    url = fresh_database_url
    migrate.upgrade(url)
    real_now = datetime.now(UTC)
    start = _monday_of(real_now.astimezone(FULLERTON).date()) - timedelta(days=21)
    clock = Clock(now=datetime.combine(start - timedelta(days=1), datetime.min.time(), FULLERTON).astimezone(UTC))
    app = create_app(Settings(database_url=url, env="test", secret_key="test-secret"), clock=clock)
    factory = app.extensions["tms"].runtime.sessions
    seed_demo(app.extensions["tms"].runtime)
    client = app.test_client()
    desk = signed_in(client, "front_desk")
    courses = [book_course(desk, create_patient(desk, first_name=f"Sweep{i}")["id"], start_date=str(start),
                           preferred_time=at) for i, at in enumerate(("07:00", "09:00", "11:00", "13:00"))]
    clock.now = real_now
    desk = signed_in(client, "front_desk")
    answer = desk.post(f"/api/v1/courses/{courses[3]['id']}/cancel", json={"reason": "moved away"})
    assert answer.status_code == 200, answer.json
    app.extensions["tms"].engine.dispose()

    engine = make_engine(url)
    factory = make_session_factory(engine)
    cutoff = datetime.now(UTC) - timedelta(minutes=1)
    with factory() as session:
        rows = session.execute(select(models.TreatmentSession.id, models.TreatmentSession.course_id)
                               .where(models.TreatmentSession.status == "scheduled",
                                      models.TreatmentSession.ends_at < cutoff)).all()
    overdue = {i for i, course_id in rows if course_id != courses[3]["id"]}
    left_alone = {i for i, course_id in rows if course_id == courses[3]["id"]}
    assert len(overdue) >= 30, f"only {len(overdue)} overdue sessions to sweep"
    assert left_alone, "the cancelled course should keep past sessions still scheduled"
    running = [c["id"] for c in courses[:3]]

    def set_running_courses(status: str) -> None:
        with factory.begin() as session:
            session.execute(update(models.Course).where(models.Course.id.in_(running)).values(status=status))

    set_running_courses("completed")
    yield {"url": url, "db": factory, "overdue": overdue, "left_alone": left_alone, "running": set(running),
           "release": lambda: set_running_courses("active")}
    engine.dispose()


@pytest.fixture
def two_schedulers(overdue_database, tmp_path):
    env = cli_environment(DATABASE_URL=overdue_database["url"], SCHEDULER_POLL_SECONDS="1",
                          NO_SHOW_GRACE_MINUTES="1")
    processes = []
    for n in (1, 2):
        log = open(tmp_path / f"scheduler-{n}.log", "w+")
        process = subprocess.Popen([str(FLASK), "--app", "wsgi", "scheduler"], cwd=PROJECT_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
        process.log = log
        processes.append(process)
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=EXIT_DEADLINE_SECONDS)
        process.log.close()


def output_of(processes) -> str:
    texts = []
    for n, process in enumerate(processes, 1):
        process.log.flush()
        process.log.seek(0)
        texts.append(f"--- scheduler {n}:\n{process.log.read()[-3000:]}")
    return "\n".join(texts)


@pytest.mark.parametrize("fresh_database_url", ["postgresql"], indirect=True)
def test_two_scheduler_processes_mark_each_overdue_session_exactly_once(overdue_database, two_schedulers):
    db, overdue = overdue_database["db"], overdue_database["overdue"]
    time.sleep(STARTUP_SECONDS)  # both processes up and polling, finding nothing yet
    assert statuses(db, overdue) == dict.fromkeys(overdue, "scheduled")
    overdue_database["release"]()
    deadline = time.monotonic() + SWEEP_DEADLINE_SECONDS
    while set(statuses(db, overdue).values()) != {"no_show"}:
        for process in two_schedulers:
            assert process.poll() is None, f"a scheduler died:\n{output_of(two_schedulers)}"
        left = sum(s != "no_show" for s in statuses(db, overdue).values())
        assert time.monotonic() < deadline, \
            f"{left} of {len(overdue)} still not no_show after {SWEEP_DEADLINE_SECONDS}s:\n{output_of(two_schedulers)}"
        time.sleep(0.5)
    time.sleep(2.5)  # a few more polls of both: a double mark would show now
    for process in two_schedulers:
        assert process.poll() is None, f"a scheduler died:\n{output_of(two_schedulers)}"
        process.send_signal(signal.SIGTERM)
    for process in two_schedulers:
        try:
            assert process.wait(timeout=EXIT_DEADLINE_SECONDS) == 0, output_of(two_schedulers)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a scheduler ignored SIGTERM:\n{output_of(two_schedulers)}")

    events = no_show_events(db)
    made_up = makeups_for(db)
    no_shows = {i for i, s in statuses(db, events.keys() | overdue).items() if s == "no_show"}
    assert overdue <= no_shows
    assert {i: len(events.get(i, [])) for i in no_shows} == dict.fromkeys(no_shows, 1), \
        "exactly one no_show event per session"
    assert all(events[i] == [None] for i in no_shows), "marked by the scheduler"
    assert {i: made_up.get(i, 0) for i in no_shows} == dict.fromkeys(no_shows, 1), "exactly one make-up per miss"
    left_alone = overdue_database["left_alone"]
    assert statuses(db, left_alone) == dict.fromkeys(left_alone, "scheduled")
    with db() as session:
        holding = session.execute(
            select(models.TreatmentSession.course_id, func.count())
            .where(models.TreatmentSession.status.in_(("scheduled", "checked_in", "completed")))
            .group_by(models.TreatmentSession.course_id)).all()
    running = overdue_database["running"]
    still_held = {course_id: count for course_id, count in holding if course_id in running}
    assert still_held == dict.fromkeys(running, 36), "each running course still holds its 36 sessions"
