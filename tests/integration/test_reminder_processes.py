"""Text reminders sent by real scheduler processes (`flask --app wsgi scheduler`, SMS_BACKEND=twilio)
through the real Twilio SDK to the project's own Twilio-compatible peer, on PostgreSQL (and one
scheduler on SQLite): each reminder exactly once with two schedulers, none lost and at most the
text in flight sent twice when a scheduler is killed, every one sent once through a peer failing
30% of requests, the batch in hand finished on SIGTERM. And the service's own requests against
Prism serving Twilio's OpenAPI description, which accepts only what Twilio's contract does.

The due reminders are written straight into a fresh database (one patient, course and future
session each, so each text has a number of its own), held back until the schedulers are up and
then made due in one statement. Fullerton is given a policy without quiet hours, so the time of
day the tests run at does not matter.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from tests.factories import book_course, local
from tests.integration.conftest import FLASK, cli_environment
from tests.peers.prism import Prism, prism_problem
from tests.peers.twilio_peer import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, TwilioPeer
from tms_scheduler.bootstrap import bootstrap, make_sender
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.settings import PROJECT_ROOT, Settings
from tms_scheduler.sms.sender import Outgoing

REQUIRE_PRISM = os.environ.get("TMS_REQUIRE_PRISM") == "1"
CLINIC_NUMBER = "+17145550160"
LEASE_SECONDS = 3
IN_FLIGHT = 4  # texts a scheduler has in flight at once (REMINDER_SEND_CONCURRENCY)
BATCH = 50  # Texting.batch
PEER_DELAY_SECONDS = 0.002  # each answer of the peer a little slow, as Twilio's are
START_DEADLINE_SECONDS = 30
# A graceful stop finishes the batch in hand: on a loaded 2-core machine (and SQLite's one writer
# at a time) that has been seen to take over 10 s, so the deadline leaves room; ignoring SIGTERM
# would still fail it.
EXIT_DEADLINE_SECONDS = 30
SETTLE_SECONDS = 1.5  # polls of every scheduler once all is sent: a text sent again would show
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


# --- the peer, the data, the processes

class CountingPeer(TwilioPeer):
    """The project's peer, answering each request PEER_DELAY_SECONDS late and counting what it accepts."""

    def __init__(self):
        super().__init__()
        self.accepted = 0
        self._count_lock = threading.Lock()
        create = self.state.create

        def create_slowly(*args):
            outcome, status, answer, hold = create(*args)
            if outcome == "accepted":
                with self._count_lock:
                    self.accepted += 1
            return outcome, status, answer, hold or PEER_DELAY_SECONDS

        self.state.create = create_slowly


@pytest.fixture
def peer():
    with CountingPeer() as peer:
        yield peer


def insert_all(db, model, rows: list[dict]) -> list[int]:
    """The rows inserted in one statement; their ids in the rows' order."""
    return list(db.execute(insert(model).returning(model.id, sort_by_parameter_order=True), rows).scalars())


def seed_due_reminders(url: str, count: int) -> dict[int, str]:
    """A migrated database with the demo clinic and `count` pending reminders, one per patient, course
    and session (each session an hour after the previous, from two days ahead), none due yet; the
    patients' numbers by reminder id."""
    migrate.upgrade(url)
    components = bootstrap(Settings(database_url=url, env="test", secret_key="test-secret"))
    seed_demo(components.runtime)
    components.dispose()
    now = datetime.now(UTC).replace(microsecond=0)
    first_visit = now.replace(minute=0, second=0) + timedelta(days=2)
    engine = make_engine(url)  # a plain connection: bulk set-up only, around the service's write guard
    try:
        with engine.begin() as db:
            db.execute(insert(models.ReminderPolicy).values(
                site_id="fullerton", rules=[], digest_weekday=None, digest_time=None,
                quiet_start=clock_time(0), quiet_end=clock_time(0), updated_at=now))  # no quiet hours, no digest
            chair = db.scalar(select(models.Chair.id).where(models.Chair.name == "Fullerton chair 1"))
            phones = [f"+1714555{n:04d}" for n in range(count)]
            patients = insert_all(db, models.Patient, [
                {"first_name": f"Pat{n}", "last_name": "Load", "date_of_birth": date(1960, 1, 1) + timedelta(days=n),
                 "phone": phone, "language": "en", "sms_consent": True, "sms_opted_out": False}
                for n, phone in enumerate(phones)])
            courses = insert_all(db, models.Course, [
                {"patient_id": patient, "site_id": "fullerton", "protocol_id": "tms-10hz-standard", "status": "active",
                 "start_date": first_visit.date(), "preferred_time": clock_time(9)} for patient in patients])
            starts = [first_visit + timedelta(hours=n) for n in range(count)]
            sessions = insert_all(db, models.TreatmentSession, [
                {"course_id": course, "number": 1, "kind": "treatment", "status": "scheduled", "site_id": "fullerton",
                 "chair_id": chair, "starts_at": start, "ends_at": start + timedelta(minutes=45)}
                for course, start in zip(courses, starts)])
            later = now + timedelta(days=1)  # held back until the schedulers are up
            reminders = insert_all(db, models.Reminder, [
                {"patient_id": patient, "site_id": "fullerton", "course_id": course, "session_id": session,
                 "kind": "every", "minutes_before": 1440, "due_at": later, "send_at": later, "status": "pending",
                 "attempts": 0, "created_at": now, "updated_at": now}
                for patient, course, session in zip(patients, courses, sessions)])
    finally:
        engine.dispose()
    return dict(zip(reminders, phones))


class Database:
    """What the test reads of the database the schedulers share."""

    def __init__(self, url: str):
        self.engine = make_engine(url)

    def release(self) -> None:
        """Every pending reminder due now."""
        with self.engine.begin() as db:
            db.execute(update(models.Reminder).where(models.Reminder.status == "pending")
                       .values(send_at=datetime.now(UTC) - timedelta(seconds=1)))

    def count(self, *where) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(func.count()).select_from(models.Reminder).where(*where))

    def reminders(self) -> list:
        with self.engine.connect() as db:
            return db.execute(select(models.Reminder.id, models.Reminder.status, models.Reminder.twilio_sid,
                                     models.Reminder.leased_by, models.Reminder.lease_until, models.Reminder.attempts)
                              .order_by(models.Reminder.id)).all()

    def messages(self) -> int:
        with self.engine.connect() as db:
            return db.scalar(select(func.count()).select_from(models.Message))


class Schedulers:
    """Scheduler processes started by a test; every one still running is killed when the test ends."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.tmp_path = tmp_path
        self.env = env
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(self.tmp_path / f"scheduler-{len(self.processes) + 1}.log", "w+")
        process = subprocess.Popen([str(FLASK), "--app", "wsgi", "scheduler"], cwd=PROJECT_ROOT, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        process.log = log
        process.worker = f"{socket.gethostname()}:{process.pid}"  # the worker name a scheduler leases under
        self.processes.append(process)
        return process

    def wait_started(self, *processes: subprocess.Popen) -> None:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while not all("started with jobs" in self.output(p) for p in processes):
            self.check_alive(*processes)
            assert time.monotonic() < deadline, f"a scheduler did not start:\n{self.outputs()}"
            time.sleep(0.1)

    def output(self, process: subprocess.Popen) -> str:
        process.log.flush()
        process.log.seek(0)
        return process.log.read()

    def outputs(self) -> str:
        return "\n".join(f"--- scheduler {n} (pid {p.pid}):\n{self.output(p)[-4000:]}"
                         for n, p in enumerate(self.processes, 1))

    def check_alive(self, *processes: subprocess.Popen) -> None:
        for process in processes or self.processes:
            assert process.poll() is None, f"a scheduler died:\n{self.outputs()}"

    def stop(self, process: subprocess.Popen, signum: int = signal.SIGTERM) -> None:
        process.send_signal(signum)
        try:
            code = process.wait(timeout=EXIT_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"a scheduler ignored SIGTERM for {EXIT_DEADLINE_SECONDS}s:\n{self.outputs()}")
        assert code == 0, self.outputs()

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(timeout=EXIT_DEADLINE_SECONDS)
            process.log.close()


def scheduler_environment(url: str, peer_url: str, **overrides: str | None) -> dict[str, str]:
    """The schedulers' environment: Twilio's SDK pointed at the peer, short polls, leases and backoff;
    `overrides` of None take a variable away."""
    env = cli_environment(
        DATABASE_URL=url, SMS_BACKEND="twilio", TWILIO_API_URL=peer_url, TWILIO_ACCOUNT_SID=DEFAULT_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=DEFAULT_AUTH_TOKEN, TWILIO_FROM_NUMBER=CLINIC_NUMBER, SCHEDULER_POLL_SECONDS="1",
        REMINDER_LEASE_SECONDS=str(LEASE_SECONDS), REMINDER_RETRY_SECONDS="1", NO_PROXY="127.0.0.1,localhost",
        REMINDER_SEND_CONCURRENCY=str(IN_FLIGHT))
    for name in PROXIES:  # cli_environment already dropped TWILIO_REGION / TWILIO_EDGE with every TWILIO_*
        env.pop(name, None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def database(fresh_database_url):
    database = Database(fresh_database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def schedulers(fresh_database_url, peer, tmp_path, request):
    """Scheduler processes against the fresh database and the peer (environment overrides: an indirect param)."""
    overrides = dict(getattr(request, "param", {}))
    started = Schedulers(tmp_path, scheduler_environment(fresh_database_url, peer.url, **overrides))
    try:
        yield started
    finally:
        started.close()


def wait_for(condition, *, seconds: float, schedulers: Schedulers, what: str, live=(), poll: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        schedulers.check_alive(*live)
        assert time.monotonic() < deadline, f"{what} not within {seconds}s:\n{schedulers.outputs()}"
        time.sleep(poll)


def accepted_texts(peer) -> Counter:
    """How many times the peer accepted each (To, Body)."""
    return Counter((r["to"], r["body"]) for r in peer.messages())


POSTGRESQL = pytest.mark.parametrize("fresh_database_url", ["postgresql"], indirect=True)


# --- two schedulers, 1,000 reminders

@POSTGRESQL
def test_two_scheduler_processes_send_each_of_1000_due_reminders_exactly_once(
        fresh_database_url, peer, schedulers, database):
    phones = seed_due_reminders(fresh_database_url, 1000)
    first, second = schedulers.start(), schedulers.start()
    schedulers.wait_started(first, second)
    database.release()

    wait_for(lambda: database.count(models.Reminder.status == "sent") == 1000, seconds=90, schedulers=schedulers,
             what="1000 reminders sent", live=(first, second))
    time.sleep(SETTLE_SECONDS)  # more polls: a second send would show now
    for process in (first, second):
        schedulers.stop(process)

    rows = database.reminders()
    assert {r.status for r in rows} == {"sent"}
    sids = [r.twilio_sid for r in rows]
    assert len(set(sids)) == 1000, "a sid of its own each"
    texts = accepted_texts(peer)
    assert len(texts) == 1000 and set(texts.values()) == {1}, "the peer accepted each text exactly once"
    assert sorted(to for to, _ in texts) == sorted(phones.values())
    assert sorted(r["sid"] for r in peer.messages()) == sorted(sids)
    assert database.messages() == 1000
    by_worker = Counter(r.leased_by for r in rows)
    assert set(by_worker) == {first.worker, second.worker}, f"both schedulers sent: {by_worker}"
    print(f"\n1000 reminders by two schedulers: {dict(by_worker)}")


# --- SIGKILL mid-batch, started again

@POSTGRESQL
def test_a_scheduler_killed_mid_batch_and_started_again_loses_no_reminder_and_resends_only_the_texts_in_flight(
        fresh_database_url, peer, schedulers, database):
    phones = seed_due_reminders(fresh_database_url, 1000)
    peer.control(delay_seconds=0.01)  # a batch takes a while: the kill lands while one is in hand
    victim, survivor = schedulers.start(), schedulers.start()
    schedulers.wait_started(victim, survivor)
    database.release()
    kill_after = 4 * BATCH  # the victim's own sends: into its fifth batch

    def mid_batch() -> bool:
        """The victim has sent its first batches and is part of the way through another."""
        if database.count(models.Reminder.status == "sent", models.Reminder.leased_by == victim.worker) < kill_after:
            return False
        unsent = database.count(models.Reminder.status == "pending", models.Reminder.leased_by == victim.worker,
                                models.Reminder.lease_until.is_not(None))
        return BATCH // 4 <= unsent <= BATCH - 2 * IN_FLIGHT  # some of the batch recorded, most still to go

    wait_for(mid_batch, seconds=60, schedulers=schedulers, what=f"{kill_after} sends by one, then a batch in hand",
             live=(victim,), poll=0.002)
    victim.kill()  # SIGKILL
    victim.wait(timeout=EXIT_DEADLINE_SECONDS)
    claimed_in_flight = {r.id for r in database.reminders()
                         if r.status == "pending" and r.leased_by == victim.worker and r.lease_until is not None}
    assert 0 < len(claimed_in_flight) < BATCH, "the kill came mid-batch: part of its claimed batch was unsent"

    again = schedulers.start()
    wait_for(lambda: database.count(models.Reminder.status == "sent") == 1000, seconds=60, schedulers=schedulers,
             what="every reminder sent after the restart", live=(survivor, again))
    time.sleep(SETTLE_SECONDS)
    for process in (survivor, again):
        schedulers.stop(process)

    rows = database.reminders()
    assert {r.status for r in rows} == {"sent"}, "none lost"
    assert len({r.twilio_sid for r in rows}) == 1000
    texts = accepted_texts(peer)
    assert sorted(to for to, _ in texts) == sorted(phones.values())
    duplicates = sum(texts.values()) - len(texts)
    twice = {to for (to, _), n in texts.items() if n > 1}
    sent_unrecorded = [r for r in peer.messages() if r["sid"] not in {row.twilio_sid for row in rows}]
    print(f"\nSIGKILL mid-batch: {len(claimed_in_flight)} reminders claimed and unsent at the kill; "
          f"{duplicates} sent twice")
    assert duplicates == len(sent_unrecorded) <= IN_FLIGHT, \
        f"at most the {IN_FLIGHT} texts in flight at once are between their send and their record"
    assert twice <= {phones[i] for i in claimed_in_flight}, "only a text claimed at the kill went twice"
    assert {r["to"] for r in sent_unrecorded} == twice
    # Who sent the rest is the machine's timing, not a property: on a loaded machine one scheduler may
    # take every claim before the other's first tick.
    print(f"sent after the kill by: {dict(Counter(r.leased_by for r in rows))}")


# --- a peer failing 30% of requests

FAILING_REMINDERS = 200


@POSTGRESQL
@pytest.mark.parametrize("schedulers", [{"REMINDER_MAX_ATTEMPTS": "20"}], indirect=True)
def test_through_a_peer_failing_30_percent_of_requests_every_reminder_is_sent_and_none_twice(
        fresh_database_url, peer, schedulers, database):
    phones = seed_due_reminders(fresh_database_url, FAILING_REMINDERS)
    peer.control(fail_rate=0.3, fail_with=["500", "429", "reset"], seed=1)
    first, second = schedulers.start(), schedulers.start()
    schedulers.wait_started(first, second)
    database.release()

    # Backoff from 1 s, doubling: a text failing five times running waits 31 s in all.
    wait_for(lambda: database.count(models.Reminder.status != "pending") == FAILING_REMINDERS, seconds=100,
             schedulers=schedulers, what="every reminder settled", live=(first, second))
    time.sleep(SETTLE_SECONDS)
    for process in (first, second):
        schedulers.stop(process)

    rows = database.reminders()
    assert {r.status for r in rows} == {"sent"}, Counter(r.status for r in rows)
    texts = accepted_texts(peer)
    assert sorted(to for to, _ in texts) == sorted(phones.values())
    assert set(texts.values()) == {1}, "none sent twice"
    outcomes = Counter(r["outcome"] for r in peer.records())
    assert set(outcomes) == {"accepted", "500", "429", "reset"}
    failures = sum(outcomes.values()) - outcomes["accepted"]
    assert 0.2 < failures / sum(outcomes.values()) < 0.4
    tries = Counter(r.attempts for r in rows)
    print(f"\n30% failing peer: {dict(outcomes)}; reminders by tries: {dict(sorted(tries.items()))}")


# --- SIGTERM

@POSTGRESQL
@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGTERM, signal.SIGINT, signal.SIGTERM]],
                         ids=["SIGTERM", "SIGTERM repeated while finishing"])
def test_sigterm_finishes_the_batch_in_hand_and_exits_leaving_no_reminder_claimed_and_unsent(
        fresh_database_url, peer, schedulers, database, signals):
    seed_due_reminders(fresh_database_url, 1000)
    scheduler = schedulers.start()
    schedulers.wait_started(scheduler)
    database.release()
    wait_for(lambda: peer.accepted >= BATCH + BATCH // 2, seconds=60, schedulers=schedulers,
             what="a batch and a half sent", live=(scheduler,))
    signalled = time.monotonic()

    for again in signals[:-1]:
        scheduler.send_signal(again)
        time.sleep(0.05)
    schedulers.stop(scheduler, signals[-1])  # exit code 0

    stopped_in = time.monotonic() - signalled
    rows = database.reminders()
    sent = [r for r in rows if r.status == "sent"]
    assert [r.id for r in rows if r.status == "pending" and r.lease_until is not None] == [], \
        "no reminder left claimed and unsent"
    assert len(sent) % BATCH == 0 and len(sent) >= 2 * BATCH, f"whole batches only: {len(sent)} sent"
    assert len(sent) < 1000, "it stopped taking batches"
    assert {r.attempts for r in rows if r.status == "pending"} == {0}, "the next batch was never claimed"
    assert peer.accepted == len(sent) == database.messages()
    assert stopped_in < 5
    output = schedulers.output(scheduler)
    assert "scheduler stopping (signal 15)" in output and "Traceback" not in output, output
    print(f"\n{len(signals)} signal(s) after {BATCH + BATCH // 2}+ sends: {len(sent)} sent, "
          f"exited in {stopped_in:.2f}s")


# --- SQLite, one scheduler

@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
def test_one_scheduler_on_sqlite_sends_each_due_reminder_exactly_once(
        fresh_database_url, peer, schedulers, database):
    phones = seed_due_reminders(fresh_database_url, 50)
    scheduler = schedulers.start()
    schedulers.wait_started(scheduler)
    database.release()

    wait_for(lambda: database.count(models.Reminder.status == "sent") == 50, seconds=30, schedulers=schedulers,
             what="50 reminders sent", live=(scheduler,))
    time.sleep(SETTLE_SECONDS)
    schedulers.stop(scheduler)

    rows = database.reminders()
    assert {r.status for r in rows} == {"sent"}
    assert len({r.twilio_sid for r in rows}) == 50
    texts = accepted_texts(peer)
    assert sorted(to for to, _ in texts) == sorted(phones.values()) and set(texts.values()) == {1}
    assert database.messages() == 50


# No SMS_BACKEND, no Twilio settings: the embedded default.
EMBEDDED_DEFAULT = dict.fromkeys(("SMS_BACKEND", "TWILIO_API_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                                  "TWILIO_FROM_NUMBER"))


@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("schedulers", [EMBEDDED_DEFAULT], indirect=True)
def test_a_scheduler_with_no_sms_settings_records_each_text_as_sent_to_the_log_without_a_network(
        fresh_database_url, peer, schedulers, database):
    phones = seed_due_reminders(fresh_database_url, 20)
    scheduler = schedulers.start()
    schedulers.wait_started(scheduler)
    database.release()

    wait_for(lambda: database.count(models.Reminder.status == "sent") == 20, seconds=30, schedulers=schedulers,
             what="20 reminders recorded sent", live=(scheduler,))
    schedulers.stop(scheduler)

    assert "(texts: log)" in schedulers.output(scheduler)
    rows = database.reminders()
    assert all(r.status == "sent" and r.twilio_sid.startswith("LG") for r in rows)
    assert peer.records() == []
    output = schedulers.output(scheduler)
    assert all(r.twilio_sid in output for r in rows), "each text's sid is logged"
    assert not [phone for phone in phones.values() if phone in output or phone[2:] in output]
    assert "Hi Pat" not in output, "never the text"


def test_the_job_table_has_stable_ids_and_dispatches_reminders_and_plans_digests_every_poll(tmp_path):
    from tms_scheduler.scheduler.process import build_scheduler

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}", scheduler_poll_seconds=7)
    scheduler, context = build_scheduler(settings)
    try:
        jobs = [(job.id, job.trigger.interval.total_seconds()) for job in scheduler.get_jobs()]
    finally:
        context.runtime.sessions.kw["bind"].dispose()

    assert jobs == [("dispatch-reminders", 7), ("plan-weekly-digests", 7), ("mark-no-shows", 7),
                    ("purge-expired-tokens", 3600)]
    assert context.runtime.texting.sender.name == "log"
    assert context.worker == f"{socket.gethostname()}:{os.getpid()}"


# --- Prism: Twilio's own description of its API

@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    """Prism serving Twilio's description, making up each answer from its schema (a sid of its own each);
    skipped without Node.js or Prism, unless TMS_REQUIRE_PRISM=1."""
    problem = prism_problem()
    if problem:
        if REQUIRE_PRISM:
            pytest.fail(f"{problem} (TMS_REQUIRE_PRISM=1)")
        pytest.skip(problem)
    server = Prism(tmp_path_factory.mktemp("prism") / "prism.log", dynamic=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sdk_environment(monkeypatch):
    for name in ("TWILIO_REGION", "TWILIO_EDGE", *PROXIES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def prism_sender_settings(prism, **overrides) -> Settings:
    return Settings(**{"sms_backend": "twilio", "twilio_account_sid": DEFAULT_ACCOUNT_SID,
                       "twilio_auth_token": DEFAULT_AUTH_TOKEN, "twilio_api_url": prism.url,
                       "twilio_from_number": CLINIC_NUMBER, **overrides})


@pytest.mark.parametrize("sender", [{}, {"twilio_from_number": None, "twilio_messaging_service_sid": "MG" + "ab" * 16}],
                         ids=["from a number", "through a messaging service"])
def test_the_request_the_service_makes_is_one_twilios_description_accepts(prism, sdk_environment, sender):
    settings = prism_sender_settings(prism, **sender)
    twilio = make_sender(settings)  # as bootstrap builds it
    callback = f"{settings.public_base_url}/webhooks/twilio/status"
    body = "Hi Ana, your visit is Mon Mar 1 at 9:00 AM at Oak Health Center Fullerton, (714) 555-0160. " \
           "Reply C to confirm or STOP to opt out."

    sid = twilio.send(Outgoing("+17145550123", body, callback))

    http = twilio._client.http_client  # the SDK keeps its last exchange for tests
    request, answer = http._test_only_last_request, http._test_only_last_response
    assert answer.status_code == 201, answer.text
    assert request.method == "POST"
    assert request.url == f"{prism.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    assert request.auth == (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    expected = {"To": "+17145550123", "Body": body, "StatusCallback": callback}
    expected.update({"MessagingServiceSid": sender["twilio_messaging_service_sid"]} if sender
                    else {"From": CLINIC_NUMBER})
    assert request.data == expected
    assert SID.match(sid)


def test_the_dispatcher_sends_due_reminders_through_the_sdk_to_prism_and_keeps_its_sids(
        prism, sdk_environment, app, db, clock, front_desk):
    for at in ("09:00", "10:00", "11:00"):
        book_course(front_desk, preferred_time=at)
    runtime = app.extensions["tms"].runtime
    twilio = make_sender(prism_sender_settings(prism))
    rt = replace(runtime, texting=replace(runtime.texting, sender=twilio))
    log_before = len(prism.log())
    clock.now = local(2027, 2, 28, 11, 0)  # each course's 48 h and 24 h texts due

    report = dispatch_due(rt, worker="prism")

    assert report.counts == {"sent": 6}
    with db() as session:
        sids = list(session.scalars(select(models.Reminder.twilio_sid).where(models.Reminder.status == "sent")))
    assert len(sids) == 6 and len(set(sids)) == 6 and all(SID.match(sid) for sid in sids)
    log = prism.log()[log_before:]
    assert log.count("The request passed the validation rules") == 6, log
    assert log.count('Responding with "201"') == 6
