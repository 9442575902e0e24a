"""Drills: the service run as a chain runs it, under a booking load, on a PostgreSQL the drills restart.

One deployment for the module, as config/ describes it: a private cluster (private_postgres.py: the machine's
shared server is never touched) with a database migrated to head, the demo clinic seeded and each TMS site
given a reminder policy of one text 24 h before a course's first visit and before each taper visit, without
quiet hours or a digest; gunicorn as config/gunicorn.conf.py runs it, with 2 worker processes; 2 scheduler
processes (`flask --app wsgi scheduler`, SMS_BACKEND=twilio) sending through Twilio's SDK to the project's
Twilio peer (tests/peers/twilio_peer.py). Each drill puts CLERKS client threads on it, each creating new
patients over HTTP and booking each a course at one of two sites, one of the open days of WINDOW_WEEKS weeks
of the drill's own and one of ten preferred times, so bookings collide in the chairs; every third patient
booked is asked a second course (refused: one active course), and each course booked and the day board are
read back. The drills run in any order (or on separate xdist workers, each with a deployment of its own):
each judges the courses, reminders and texts of its own load, and the invariants of the whole database.

The bookings plan their reminders days ahead (the outbox); the test plays the clock for them as
test_reminder_processes does: every RELEASE_SECONDS a thread makes each pending reminder no scheduler holds
due now, so texts go out while the bookings go on. When the load stops, the rest are made due and the drill
waits until none is pending.

1. Under the load: no answer but 200, 201, 409 and 422 (never a 500), both web workers answered bookings, no
   two chair-holding sessions overlap in a chair (a self-join), no patient has two active courses, every
   course has all its protocol's sessions, each with its `book` event and the reminders the policy owes it,
   every 201 is such a course, and every reminder was sent exactly once, by both schedulers (the peer's
   accepted messages against the reminders' rows and sids).
2. PostgreSQL stopped (`pg_ctl stop -m fast`: every session ended) and started again mid-load, once a
   scheduler holds claimed texts, each send taking SLOW_PEER_SECONDS as Twilio's often do, so texts are in
   flight when the database goes: every answer meanwhile is a 503 with Retry-After (test_database_faults'
   shape), never a 500 and never a dropped connection; the same gunicorn workers and schedulers answer 2xx
   and send again without a restart; no half-written course; still every reminder sent exactly once.
3. A scheduler SIGKILLed under the load while it holds a claimed batch (the peer as slow as in 2), another
   started: nothing lost, and
   only a text claimed by the killed one and in flight at the kill may go twice (at most IN_FLIGHT).
   test_reminder_processes' SIGKILL test is the precise version of this (1,000 reminders, the kill landing
   mid-batch); this one shows the same with bookings, their reminders and two web workers going on.
"""
from __future__ import annotations

import contextlib
import itertools
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, update

from tests.conftest import DEMO_PASSWORDS
from tests.factories import course_body, patient_body
from tests.integration.conftest import GunicornServer, cli_environment
from tests.integration.test_booking_races import OVERLAPPING_CHAIR_HOLDERS
from tests.integration.test_database_faults import (  # noqa: F401  (the cluster fixture, reused)
    TEMPLATE,
    Outcome,
    Reply,
    assert_unavailable_answer,
    call,
    cluster,
)
from tests.integration.test_reminder_processes import (
    EXIT_DEADLINE_SECONDS,
    IN_FLIGHT,
    SETTLE_SECONDS,
    CountingPeer,
    Database,
    Schedulers,
    scheduler_environment,
    wait_for,
)
from tms_scheduler.bootstrap import bootstrap
from tms_scheduler.db import models
from tms_scheduler.domain import reminders as rules
from tms_scheduler.domain.calendar import US_CLINIC
from tms_scheduler.domain.planning import MAPPING, TAPER
from tms_scheduler.services.actor import OPERATOR
from tms_scheduler.services.demo import PROTOCOLS, seed_demo
from tms_scheduler.services.reminders import put_policy
from tms_scheduler.settings import Settings

# One worker runs the three drills, so their set-up (a cluster, gunicorn, two schedulers) is built once.
pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("drills")]

CLERKS = 20
SITES = ("fullerton", "laguna-hills")
BOOKED_PROTOCOLS = ("tms-10hz-standard", "itbs")  # figure-8 chairs, 36 and 30 sessions
TOTALS = {p["id"]: sum(phase["sessions"] for phase in p["phases"]) for p in PROTOCOLS}
TIMES = tuple(f"{hour:02d}:00" for hour in range(8, 18))
# Each drill's start days: the open days of WINDOW_WEEKS weeks of its own (drill n's from 3 + 7 * WINDOW_WEEKS
# * (n - 1) days ahead), so the chairs fill and collide within a drill while a booking still fits often.
WINDOW_WEEKS = 12
SECOND_COURSE_EVERY = 3
RELEASE_SECONDS = 0.5
LOAD_SECONDS = 15  # drill 1
HALF_RESTART_LOAD_SECONDS = 4  # drill 2: the load before the restart, and after the recovery
KILL_LOAD_SECONDS = 8  # drill 3
DOWN_SECONDS = 1.5
BACKOFF_SECONDS = 0.2  # a clerk's pause after a 503 before asking again (a real one waits Retry-After)
# Drills 2 and 3: each send as slow as Twilio's often are, so the restart or the kill lands while texts are in flight.
SLOW_PEER_SECONDS = 0.1
DRAIN_SECONDS = 60
# One rule for the first visit (a mapping session) and one for each taper visit; no quiet hours, no digest.
POLICY = rules.Policy(rules=(rules.Rule(rules.FIRST, 24 * 60), rules.Rule(rules.TAPER, 24 * 60)), digest=None,
                      quiet_start=clock_time(0), quiet_end=clock_time(0))
REMINDED_KINDS = (MAPPING, TAPER)


# --- the deployment

class DrillDatabase(Database):
    """test_reminder_processes' view of the reminders, plus what the drills check of the bookings."""

    def make_due(self) -> int:
        """Every pending reminder no scheduler holds and not yet due, due now (the test's clock)."""
        R = models.Reminder
        now = datetime.now(UTC)
        with self.engine.begin() as db:
            return db.execute(update(R).where(R.status == "pending", R.send_at > now, R.lease_until.is_(None))
                              .values(send_at=now - timedelta(seconds=1))).rowcount

    def rows(self, statement) -> list:
        with self.engine.connect() as db:
            return db.execute(statement).all()

    def last_id(self, model) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(func.coalesce(func.max(model.id), 0)))

    # the invariants of the whole database

    def overlapping_chair_holders(self) -> list:
        return self.rows(OVERLAPPING_CHAIR_HOLDERS)

    def patients_with_two_active_courses(self) -> list:
        C = models.Course
        return self.rows(select(C.patient_id, func.count()).where(C.status == "active")
                         .group_by(C.patient_id).having(func.count() > 1))

    def courses_without_all_their_sessions(self) -> list:
        C, S, P = models.Course, models.TreatmentSession, models.Protocol
        return self.rows(select(C.id, func.count(S.id), P.total_sessions).join(P, P.id == C.protocol_id)
                         .outerjoin(S, S.course_id == C.id).group_by(C.id, P.total_sessions)
                         .having(func.count(S.id) != P.total_sessions))

    def sessions_without_one_book_event(self) -> list:
        S, E = models.TreatmentSession, models.SessionEvent
        book = func.count(E.id).filter(E.action == "book")
        return self.rows(select(S.id, book).outerjoin(E, E.session_id == S.id).group_by(S.id).having(book != 1))

    def sessions_not_reminded_as_the_policy_says(self) -> list:
        """Sessions with a number of reminders other than the policy's: one for a first or taper visit, else none."""
        S, R = models.TreatmentSession, models.Reminder
        owed = func.max(S.kind).in_(REMINDED_KINDS)
        count = func.count(R.id)
        return self.rows(select(S.id, func.max(S.kind), count).outerjoin(R, R.session_id == S.id).group_by(S.id)
                         .having(((count != 1) & owed) | ((count != 0) & ~owed)))

    # a drill's own

    def courses_since(self, after_id: int) -> dict[int, int]:
        """The courses booked since: their sessions, by course id."""
        C, S = models.Course, models.TreatmentSession
        return dict(self.rows(select(C.id, func.count(S.id)).outerjoin(S, S.course_id == C.id)
                              .where(C.id > after_id).group_by(C.id)))

    def reminders_since(self, after_id: int) -> list:
        R, P = models.Reminder, models.Patient
        return self.rows(select(R.id, R.status, R.twilio_sid, R.leased_by, R.lease_until, P.phone)
                         .join(P, P.id == R.patient_id).where(R.id > after_id).order_by(R.id))


@dataclass
class Deployment:
    """The database, the web, the schedulers running now (`live`), the peer and a front desk's token."""

    url: str
    database: DrillDatabase
    web: GunicornServer
    schedulers: Schedulers
    live: list[subprocess.Popen]
    peer: CountingPeer
    token: str

    def check_running(self) -> None:
        assert self.web.process.poll() is None, f"gunicorn exited:\n{self.web.output()}"
        self.schedulers.check_alive(*self.live)


def seed(url: str) -> None:
    """The demo clinic, and the drills' reminder policy at both TMS sites (through the service, as an operator)."""
    components = bootstrap(Settings(database_url=url, env="test", secret_key="drill-secret"))
    try:
        seed_demo(components.runtime)
        for site in SITES:
            put_policy(components.runtime, site, POLICY, OPERATOR)
    finally:
        components.dispose()


@pytest.fixture(scope="module")
def deployment(cluster, tmp_path_factory):  # noqa: F811
    url = cluster.create_database("tms_drills", template=TEMPLATE)
    tmp_path = tmp_path_factory.mktemp("drills")
    database = DrillDatabase(url)
    with CountingPeer() as peer:
        web = GunicornServer(tmp_path, cli_environment(DATABASE_URL=url, SECRET_KEY="drill-secret-" + "k" * 32),
                             workers=2, threads=4, name="web")
        schedulers = Schedulers(tmp_path, scheduler_environment(url, peer.url))
        try:
            web.start()
            live = [schedulers.start(), schedulers.start()]
            seed(url)  # while the processes start
            web.wait_ready()
            schedulers.wait_started(*live)
            username, password = DEMO_PASSWORDS["front_desk"]
            signed_in = call(web.base_url, "POST", "/api/v1/auth/tokens",
                             {"username": username, "password": password})
            assert signed_in.status == 201, signed_in
            yield Deployment(url, database, web, schedulers, live, peer, signed_in.body["token"])
        finally:
            schedulers.close()
            web.stop()
            database.engine.dispose()


@dataclass
class Drill:
    """One drill on the deployment: where the database and the peer stood when it began."""

    on: Deployment
    course_before: int
    reminder_before: int
    messages_before: int
    began: float = field(default_factory=time.monotonic)

    def courses(self) -> dict[int, int]:
        return self.on.database.courses_since(self.course_before)

    def reminders(self) -> list:
        return self.on.database.reminders_since(self.reminder_before)

    def messages(self) -> list[dict]:
        """The texts the peer accepted during this drill."""
        return self.on.peer.messages()[self.messages_before:]


@pytest.fixture
def drill(deployment, cluster):  # noqa: F811
    if not cluster.is_running():  # a drill before this one failed while the server was down
        cluster.start()
    deployment.check_running()
    database = deployment.database
    yield Drill(deployment, database.last_id(models.Course), database.last_id(models.Reminder),
                len(deployment.peer.messages()))
    deployment.peer.control(delay_seconds=0.0)
    if not cluster.is_running():
        cluster.start()


# --- the load

def start_days(window: int) -> list[date]:
    """The sites' open days (Monday to Friday, no us-clinic holiday) in the `window`th WINDOW_WEEKS weeks from 3
    days ahead."""
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    first = today + timedelta(days=3 + 7 * WINDOW_WEEKS * (window - 1))
    last = first + timedelta(weeks=WINDOW_WEEKS)
    closed = US_CLINIC.closed_dates(first, last)
    return [day for n in range((last - first).days) if (day := first + timedelta(days=n)).isoweekday() <= 5
            and day not in closed]


class Load:
    """CLERKS threads booking through gunicorn until stopped, every answer kept as an Outcome
    (test_database_faults'; status 0: no HTTP answer at all). A booking answered 503 is asked again, the same
    one, after BACKOFF_SECONDS, as a client would; after any other 503 the clerk goes on to a new patient."""

    def __init__(self, deployment: Deployment, seed: int):
        """`seed`: the drill's number, which picks its start days and its random choices."""
        self.base_url, self.token = deployment.web.base_url, deployment.token
        self.seed = seed
        self.days = start_days(seed)
        self.outcomes: list[Outcome] = []
        self._record = threading.Lock()
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._clerk, args=(n,), name=f"clerk-{n}") for n in range(CLERKS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _ask(self, clerk: int, kind: str, method: str, path: str, body: dict | None = None) -> Reply:
        started = time.monotonic()
        try:
            reply = call(self.base_url, method, path, body, self.token)
        except Exception as exc:  # no HTTP answer at all: a failure of its own kind
            reply = Reply(0, {}, repr(exc))
        with self._record:
            self.outcomes.append(Outcome(clerk, kind, started, time.monotonic(), reply.status, reply.headers,
                                         reply.body))
        return reply

    def _book(self, clerk: int, kind: str, body: dict) -> Reply:
        while True:
            reply = self._ask(clerk, kind, "POST", "/api/v1/courses", body)
            if reply.status != 503 or self.stopping.is_set():
                return reply
            time.sleep(BACKOFF_SECONDS)

    def _clerk(self, clerk: int) -> None:
        rng = random.Random(self.seed * 1000 + clerk)
        for n in itertools.count():
            if self.stopping.is_set():
                return
            created = self._ask(clerk, "patient", "POST", "/api/v1/patients",
                                patient_body(first_name=f"Drill{self.seed}x{clerk}x{n}", last_name="Load"))
            if created.status != 201:
                time.sleep(BACKOFF_SECONDS)
                continue
            site, day = rng.choice(SITES), rng.choice(self.days)
            course = course_body(created.body["id"], site_id=site, protocol_id=rng.choice(BOOKED_PROTOCOLS),
                                 start_date=str(day), preferred_time=rng.choice(TIMES))
            booked = self._book(clerk, "book", course)
            if booked.status == 201:
                self._ask(clerk, "course", "GET", f"/api/v1/courses/{booked.body['id']}")
                if n % SECOND_COURSE_EVERY == 0:
                    later = TIMES[(TIMES.index(course["preferred_time"]) + 5) % len(TIMES)]
                    self._book(clerk, "second", {**course, "preferred_time": later})
            self._ask(clerk, "board", "GET", f"/api/v1/sites/{site}/schedule?date={day}")

    # what the clerks were answered

    def of(self, kind: str | None = None, *, since: float = 0.0) -> list[Outcome]:
        with self._record:
            return [o for o in self.outcomes if (kind is None or o.kind == kind) and o.started >= since]

    def by_status(self, kind: str | None = None) -> dict[int, int]:
        return dict(sorted(Counter(o.status for o in self.of(kind)).items()))

    def summary(self) -> str:
        return "; ".join(f"{kind} {self.by_status(kind)}" for kind in ("patient", "book", "second", "course", "board"))


# Each kind of request, the answers it may have: 2xx, or the clinic's rules saying no.
EXPECTED = {"patient": {201}, "book": {201, 409, 422}, "second": {409}, "course": {200}, "board": {200}}


def unexpected_answers(load: Load, *, also: frozenset[int] = frozenset()) -> list[tuple[str, int, object]]:
    return [(o.kind, o.status, o.body) for o in load.of() if o.status not in EXPECTED[o.kind] | also]


class ReminderClock:
    """A thread making the pending reminders due every RELEASE_SECONDS (test_reminder_processes' release, over
    and over); a failure while the database is down is the test's, not the service's, and is tried again."""

    def __init__(self, database: DrillDatabase):
        self.database = database
        self.released = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reminder-clock", daemon=True)

    def __enter__(self) -> ReminderClock:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(RELEASE_SECONDS):
            with contextlib.suppress(sa_exc.DBAPIError):
                self.released += self.database.make_due()


def drain(drill: Drill) -> None:
    """The load over: the rest of the reminders made due, and every one settled by the schedulers running."""
    on = drill.on
    on.database.make_due()
    wait_for(lambda: on.database.count(models.Reminder.status == "pending") == 0, seconds=DRAIN_SECONDS,
             schedulers=on.schedulers, what="every reminder settled", live=on.live)
    time.sleep(SETTLE_SECONDS)  # more polls of every scheduler: a text sent again would show now
    on.check_running()


# --- what every drill must leave

def assert_nothing_double_booked_or_half_written(drill: Drill, load: Load) -> dict[int, int]:
    """The invariants of the whole database, and the drill's 201s against its courses; the courses."""
    database = drill.on.database
    assert database.overlapping_chair_holders() == [], "two chair-holding sessions overlap in a chair"
    assert database.patients_with_two_active_courses() == [], "a patient has two active courses"
    assert database.courses_without_all_their_sessions() == [], "(course, its sessions, its protocol's total)"
    assert database.sessions_without_one_book_event() == [], "a session without its one `book` event"
    assert database.sessions_not_reminded_as_the_policy_says() == [], "(session, kind, reminders) not as owed"
    courses = drill.courses()
    booked = [o.body for o in load.of("book") + load.of("second") if o.status == 201]
    for course in booked:
        assert courses.get(course["id"]) == len(course["sessions"]) == TOTALS[course["protocol_id"]], course["id"]
    for answer in load.of("course"):
        if answer.status == 200:
            assert len(answer.body["sessions"]) == TOTALS[answer.body["protocol_id"]], answer.body["id"]
    return courses


def texts_sent_twice(messages: list[dict]) -> dict[tuple[str, str], int]:
    return {key: n for key, n in Counter((m["to"], m["body"]) for m in messages).items() if n > 1}


def assert_each_reminder_sent_exactly_once(drill: Drill) -> list:
    rows, messages = drill.reminders(), drill.messages()
    assert rows, "no reminder was planned"
    assert Counter(r.status for r in rows) == {"sent": len(rows)}, "every reminder sent, none lost"
    sids = [r.twilio_sid for r in rows]
    assert len(set(sids)) == len(rows), "a sid of its own each"
    accepted = [m["sid"] for m in messages]
    assert sorted(accepted) == sorted(sids), \
        f"the peer accepted {len(accepted)} texts for {len(rows)} reminders: {len(set(accepted) - set(sids))} " \
        f"sent and not on record (sent again: {texts_sent_twice(messages)}), {len(set(sids) - set(accepted))} " \
        "on record and never accepted"
    assert sorted(m["to"] for m in messages) == sorted(r.phone for r in rows), "each to its patient's phone"
    assert texts_sent_twice(messages) == {}
    return rows


def answered_by(web: GunicornServer, path: str) -> Counter:
    """How many of `path`'s requests each gunicorn worker (pid) answered."""
    return Counter(line["pid"] for line in web.access_log() if line.get("path") == path)


# --- drill 1: the load, with reminders flowing

def test_under_a_booking_load_two_web_and_two_scheduler_processes_double_book_nothing_and_send_each_text_once(
        drill):
    on = drill.on
    with ReminderClock(on.database) as reminder_clock, Load(on, seed=1) as load:
        wait_for(lambda: len(drill.messages()) > 0 and len(load.of("book")) >= CLERKS, seconds=30,
                 schedulers=on.schedulers, what="bookings answered and texts going out", live=on.live)
        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - drill.began)))
        load.stop()
        sent_under_load = len(drill.messages())
    drain(drill)

    print(f"\ndrill 1: {time.monotonic() - drill.began:.1f} s; answers: {load.summary()}; "
          f"{reminder_clock.released} reminders made due, {sent_under_load} sent under the load")
    assert not unexpected_answers(load), unexpected_answers(load)[:5]
    booked = load.by_status("book").get(201, 0)
    assert booked >= CLERKS and load.by_status("book").get(409, 0) > 0, "bookings went through, and collided"
    assert load.of("second"), "a patient was asked a second course"
    workers = answered_by(on.web, "/api/v1/courses")
    assert len(workers) == 2, f"both web workers answered bookings: {dict(workers)}"
    courses = assert_nothing_double_booked_or_half_written(drill, load)
    assert len(courses) == booked, "every course is one answered 201, and every 201 a course"
    rows = assert_each_reminder_sent_exactly_once(drill)
    by_scheduler = Counter(r.leased_by for r in rows)
    assert set(by_scheduler) == {p.worker for p in on.live}, f"both schedulers sent: {dict(by_scheduler)}"
    print(f"{len(courses)} courses; {len(rows)} reminders, each sent once, by scheduler {dict(by_scheduler)}; "
          f"bookings by web worker {dict(workers)}")


# --- drill 2: PostgreSQL restarted mid-load

def test_postgresql_restarted_mid_load_answers_503_with_retry_after_recovers_without_a_restart_and_loses_nothing(
        drill, cluster):  # noqa: F811
    on = drill.on
    on.peer.control(delay_seconds=SLOW_PEER_SECONDS)
    workers_before, schedulers_before = on.web.worker_pids(), list(on.live)
    R = models.Reminder

    def texts_in_flight() -> bool:
        """A scheduler holds claimed reminders it has not sent yet."""
        return on.database.count(R.id > drill.reminder_before, R.status == "pending", R.lease_until.is_not(None)) > 0

    with ReminderClock(on.database) as reminder_clock, Load(on, seed=2) as load:
        wait_for(lambda: len(drill.messages()) > 0 and len(load.of("book")) >= CLERKS, seconds=30,
                 schedulers=on.schedulers, what="bookings answered and texts going out", live=on.live)
        time.sleep(max(0.0, HALF_RESTART_LOAD_SECONDS - (time.monotonic() - drill.began)))
        wait_for(texts_in_flight, seconds=30, schedulers=on.schedulers, what="texts in flight", live=on.live,
                 poll=0.005)
        sent_before = len(drill.messages())
        stopped_at = time.monotonic()
        cluster.restart(down_seconds=DOWN_SECONDS, mode="fast")  # every session ended, then started again
        back_at = time.monotonic()
        sent_by_then = len(drill.messages())
        wait_for(lambda: {o.client for o in load.of(since=back_at) if o.status in (200, 201)} == set(range(CLERKS))
                 and any(o.status == 201 for o in load.of("book", since=back_at)), seconds=30,
                 schedulers=on.schedulers, what="every clerk answered 2xx, and a booking 201, after the restart",
                 live=on.live)
        recovered_at = time.monotonic()
        time.sleep(HALF_RESTART_LOAD_SECONDS)
        load.stop()
    assert on.web.worker_pids() == workers_before, "gunicorn's workers are the same processes"
    assert on.live == schedulers_before
    drain(drill)

    during = [o for o in load.of() if o.started < back_at and o.ended >= stopped_at]
    print(f"\ndrill 2: {time.monotonic() - drill.began:.1f} s; down {back_at - stopped_at:.2f} s, every clerk "
          f"answered 2xx {recovered_at - back_at:.2f} s later; answers: {load.summary()}; in flight or asked "
          f"during the restart {dict(Counter(o.status for o in during))}; {reminder_clock.released} reminders made "
          f"due, {sent_before} sent before the restart")
    also_503 = frozenset({503})
    assert not unexpected_answers(load, also=also_503), unexpected_answers(load, also=also_503)[:5]
    unavailable = [o for o in load.of() if o.status == 503]
    assert unavailable, "nothing met the restart: no 503 while the database was down"
    for o in unavailable:
        assert_unavailable_answer(o.status, o.headers, o.body)
    assert all(o.ended >= stopped_at for o in unavailable), "a 503 before the restart"
    assert len(drill.messages()) > sent_by_then, "no text went out after the restart"
    courses = assert_nothing_double_booked_or_half_written(drill, load)
    # A booking committed as its connection was lost is answered 503 and asked again (409 then): a course no 201
    # names, and whole (checked above).
    assert len(courses) >= load.by_status("book").get(201, 0)
    rows = assert_each_reminder_sent_exactly_once(drill)
    print(f"{len(courses)} courses, all whole; {len(rows)} reminders, each sent once")


# --- drill 3: a scheduler SIGKILLed under the load

def test_a_scheduler_sigkilled_under_the_booking_load_loses_no_reminder(drill):
    on = drill.on
    on.peer.control(delay_seconds=SLOW_PEER_SECONDS)
    victim = on.live[0]
    R = models.Reminder

    def holding_a_batch() -> bool:
        """The victim has sent texts in this drill and holds claimed reminders it has not sent yet."""
        mine = (R.id > drill.reminder_before, R.leased_by == victim.worker)
        return (on.database.count(*mine, R.status == "sent") > 0
                and on.database.count(*mine, R.status == "pending", R.lease_until.is_not(None)) > 0)

    with ReminderClock(on.database), Load(on, seed=3) as load:
        wait_for(holding_a_batch, seconds=30, schedulers=on.schedulers, what="the victim holding a batch",
                 live=on.live, poll=0.005)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=EXIT_DEADLINE_SECONDS)
        killed_at = time.monotonic()
        on.live.remove(victim)
        in_hand = {r.id for r in drill.reminders()
                   if r.status == "pending" and r.leased_by == victim.worker and r.lease_until is not None}
        again = on.schedulers.start()
        on.schedulers.wait_started(again)
        on.live.append(again)
        time.sleep(max(0.0, KILL_LOAD_SECONDS - (time.monotonic() - drill.began)))
        load.stop()
    drain(drill)

    rows, messages = drill.reminders(), drill.messages()
    twice = texts_sent_twice(messages)
    sent_unrecorded = [m for m in messages if m["sid"] not in {r.twilio_sid for r in rows}]
    print(f"\ndrill 3: {time.monotonic() - drill.began:.1f} s; answers: {load.summary()}; killed "
          f"{killed_at - drill.began:.1f} s in, holding {len(in_hand)} claimed and unsent; {len(rows)} reminders, "
          f"{sum(twice.values()) - len(twice)} texts sent twice; sent by {dict(Counter(r.leased_by for r in rows))}")
    assert not unexpected_answers(load), unexpected_answers(load)[:5]
    assert in_hand, "the kill came while the victim held claimed reminders"
    assert_nothing_double_booked_or_half_written(drill, load)
    assert Counter(r.status for r in rows) == {"sent": len(rows)}, "nothing lost"
    assert len({r.twilio_sid for r in rows}) == len(rows), "a sid of its own each"
    assert {m["sid"] for m in messages} >= {r.twilio_sid for r in rows}, "each sid on record was accepted"
    assert sum(twice.values()) - len(twice) == len(sent_unrecorded) <= IN_FLIGHT, \
        f"at most the {IN_FLIGHT} texts in flight at the kill were sent and never recorded"
    held = {r.phone for r in rows if r.id in in_hand}
    assert {to for to, _body in twice} <= held, "only a text the killed scheduler held went twice"
