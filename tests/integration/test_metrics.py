"""Prometheus metrics (tms_scheduler/metrics.py).

Through real gunicorn with 2 workers (config/gunicorn.conf.py, PROMETHEUS_MULTIPROC_DIR in a temporary
directory) on SQLite and PostgreSQL: known traffic spread over both workers, then /metrics scraped
several times, whichever worker answers, each scrape with the exact totals; a worker that exits
keeps its counts in the sum. A scheduler process serves its own /metrics (SCHEDULER_METRICS_PORT):
the reminders it sent by outcome, and the dispatch lag going to 0 on both once they are sent.

Then the counters the use cases record, through Flask's test client with an app of its own (no
multiprocess directory: a registry per app): bookings and conflicts, failed sign-ins, no-shows
marked by staff and by the scheduler's sweep.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, insert, select, update

from tests.conftest import DEMO_PASSWORDS
from tests.factories import book_course, course_body, create_patient, local, patient_body, signed_in
from tests.integration.conftest import FLASK, cli_environment
from tms_scheduler import metrics
from tms_scheduler.app import create_app
from tms_scheduler.bootstrap import bootstrap
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine
from tms_scheduler.scheduler.jobs import JOBS, Context, run_job
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.settings import PROJECT_ROOT, Settings

GUNICORN = PROJECT_ROOT / ".venv" / "bin" / "gunicorn"
START_DEADLINE_SECONDS = 30
HEALTH_CHECKS = 20
SCRAPES = 6


# --- reading the exposition

def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus text exposition: (name, labels) -> value."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def total(found: dict, name: str, **labels: str) -> float:
    """The sum of `name` over the series whose labels include `labels`."""
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= ls)


# --- the processes

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Http:
    """A tiny client: every request on a connection of its own (so gunicorn's workers take turns)."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, object]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, raw, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        return status, json.loads(raw) if "json" in kind else raw.decode()

    def scrape(self) -> dict:
        status, text = self.call("GET", "/metrics")
        assert status == 200, text
        return samples(text)


def worker_pids(log: Path, path: str) -> set[int]:
    """The pids of the gunicorn workers that answered `path` (the access log's JSON lines)."""
    pids = set()
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("logger") == "gunicorn.access" and f" {path} " in entry.get("message", ""):
            pids.add(entry["pid"])
    return pids


@pytest.fixture
def clinic(fresh_database_url):
    """The fresh database migrated, with the demo clinic and Fullerton's texts free of quiet hours."""
    migrate.upgrade(fresh_database_url)
    components = bootstrap(Settings(database_url=fresh_database_url, env="test", secret_key="test-secret"))
    seed_demo(components.runtime)
    components.dispose()
    engine = make_engine(fresh_database_url)
    with engine.begin() as db:
        db.execute(insert(models.ReminderPolicy).values(
            site_id="fullerton", rules=[{"applies_to": "every", "minutes_before": 1440}], digest_weekday=None,
            digest_time=None, quiet_start=clock_time(0), quiet_end=clock_time(0), updated_at=datetime.now(UTC)))
    yield fresh_database_url, engine
    engine.dispose()


@pytest.fixture
def web(clinic, tmp_path):
    """gunicorn with 2 sync workers on the clinic's database; (Http, the log's path, the master process)."""
    url, _engine = clinic
    port = free_port()
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"\0" * 8)  # a stale file of an earlier run: removed on start
    env = cli_environment(DATABASE_URL=url, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                          GUNICORN_THREADS="1", XDG_RUNTIME_DIR=str(tmp_path), PROMETHEUS_MULTIPROC_DIR=str(multiproc),
                          SECRET_KEY="metrics-test-secret", NO_PROXY="127.0.0.1,localhost")
    log_path = tmp_path / "gunicorn.log"
    log = open(log_path, "w")
    master = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"], cwd=PROJECT_ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    http = Http(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while len(booted_workers(log_path)) < 2:
            assert master.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert not (multiproc / "counter_999999.db").exists()
        yield http, log_path, master
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
        log.close()


def booted_workers(log: Path) -> set[int]:
    return {json.loads(line)["pid"] for line in log.read_text().splitlines()
            if line.startswith("{") and "tms_scheduler ready on" in line}


def in_parallel(calls, threads: int = 8) -> list:
    """Each of `calls` (functions of no argument) from `threads` threads at once; their answers."""
    answers: list = [None] * len(calls)
    pending = list(enumerate(calls))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                if not pending:
                    return
                n, call = pending.pop()
            answers[n] = call()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return answers


def start_scheduler(url: str, tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log_path = tmp_path / "scheduler.log"
    env = cli_environment(DATABASE_URL=url, SMS_BACKEND="log", SCHEDULER_POLL_SECONDS="1",
                          SCHEDULER_METRICS_PORT=str(port), NO_PROXY="127.0.0.1,localhost")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([str(FLASK), "--app", "wsgi", "scheduler"], cwd=PROJECT_ROOT, env=env,
                               stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    return process, log_path


def wait_for(condition, what: str, seconds: float = 30, log: Path | None = None):
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not within {seconds}s\n{log.read_text()[-4000:] if log else ''}"
        time.sleep(0.2)


# --- through gunicorn

@pytest.mark.parametrize("fresh_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_metrics_sum_every_gunicorn_worker_and_each_scheduler_serves_its_own(clinic, web, tmp_path):
    url, engine = clinic
    http, log, master = web

    # Health checks 8 at a time, each on a connection of its own, 20 a round until both workers answered some.
    health_checks = 0
    while len(worker_pids(log, "/healthz")) < 2:
        assert health_checks < 10 * HEALTH_CHECKS, "one worker answered every health check"
        answers = in_parallel([lambda: http.call("GET", "/healthz")[0]] * HEALTH_CHECKS)
        assert answers == [200] * HEALTH_CHECKS
        health_checks += HEALTH_CHECKS
        time.sleep(0.2)  # the access log written

    # 2 failed sign-ins, 1 that works; 3 patients; 3 courses at one time in Fullerton's 2 figure-8 chairs.
    username, password = DEMO_PASSWORDS["front_desk"]
    for _ in range(2):
        wrong = {"username": username, "password": "wrong " + password}
        assert http.call("POST", "/api/v1/auth/tokens", wrong)[0] == 401
    status, signed = http.call("POST", "/api/v1/auth/tokens", {"username": username, "password": password})
    assert status == 201, signed
    token = signed["token"]
    patients = []
    for _ in range(3):
        status, patient = http.call("POST", "/api/v1/patients", patient_body(), token)
        assert status == 201, patient
        patients.append(patient["id"])
    booked = [http.call("POST", "/api/v1/courses", course_body(patient), token)[0] for patient in patients]
    assert sorted(booked) == [201, 201, 409]

    # Some of the booked courses' reminders made due two minutes ago: the lag shows them waiting.
    waited = timedelta(minutes=2)
    with engine.begin() as db:
        due = list(db.scalars(select(models.Reminder.id).where(models.Reminder.status == "pending")
                              .order_by(models.Reminder.id).limit(3)))
        assert len(due) == 3
        db.execute(update(models.Reminder).where(models.Reminder.id.in_(due))
                   .values(send_at=datetime.now(UTC) - waited))

    def check(found: dict) -> None:
        assert value(found, "tms_http_requests_total", method="GET", endpoint="/healthz", status="200") == health_checks
        assert value(found, "tms_http_request_seconds_count", endpoint="/healthz") == health_checks
        assert value(found, "tms_http_requests_total", method="POST", endpoint="/api/v1/auth/tokens",
                     status="401") == 2
        assert value(found, "tms_http_requests_total", method="POST", endpoint="/api/v1/courses", status="201") == 2
        assert value(found, "tms_http_requests_total", method="POST", endpoint="/api/v1/courses", status="409") == 1
        assert value(found, "tms_bookings_total") == 2
        assert value(found, "tms_booking_conflicts_total") == 1
        assert value(found, "tms_sign_in_failures_total", reason="credentials") == 2
        assert total(found, "tms_sign_in_failures_total") == 2
        assert total(found, "tms_no_shows_total") == 0

    # Scraped several times, until both workers answered some: each scrape the same exact totals.
    scrapes = 0
    while scrapes < SCRAPES or len(worker_pids(log, "/metrics")) < 2:
        assert scrapes < 20 * SCRAPES, "one worker answered every scrape"
        for found in in_parallel([http.scrape] * SCRAPES, threads=3):
            check(found)
            assert value(found, "tms_dispatch_lag_seconds") >= waited.total_seconds()
        scrapes += SCRAPES
        time.sleep(0.2)

    # A worker that exits (SIGTERM; gunicorn starts another): what it counted stays in the sum.
    victim = min(worker_pids(log, "/healthz"))
    os.kill(victim, signal.SIGTERM)
    wait_for(lambda: len(booted_workers(log) - {victim}) >= 2, "a new worker", log=log)
    for found in in_parallel([http.scrape] * SCRAPES, threads=3):
        check(found)

    # A scheduler sends the due reminders, and says so on its own /metrics; the lag goes to 0 on both.
    port = free_port()
    scheduler, scheduler_log = start_scheduler(url, tmp_path, port)
    try:
        scheduler_http = Http(f"http://127.0.0.1:{port}")

        def scheduler_scrape() -> dict | None:
            try:
                return scheduler_http.scrape()
            except OSError:
                assert scheduler.poll() is None, scheduler_log.read_text()
                return None

        def all_handled() -> dict | None:
            found = scheduler_scrape()
            return found if found and total(found, "tms_reminders_total") >= len(due) else None

        found = wait_for(all_handled, "the scheduler's reminders", log=scheduler_log)
        with engine.connect() as db:
            sent = db.scalar(select(func.count()).select_from(models.Reminder)
                             .where(models.Reminder.id.in_(due), models.Reminder.status == "sent"))
        assert sent == len(due), scheduler_log.read_text()
        assert value(found, "tms_reminders_total", status="sent") == len(due)
        assert total(found, "tms_reminders_total") == len(due)
        assert total(found, "tms_no_shows_total") == 0
        wait_for(lambda: (scheduler_scrape() or {}).get(("tms_dispatch_lag_seconds", frozenset())) == 0,
                 "the scheduler's lag at 0", log=scheduler_log)
        assert value(http.scrape(), "tms_dispatch_lag_seconds") == 0
        assert f"scheduler metrics on http://127.0.0.1:{port}/metrics" in scheduler_log.read_text()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        try:
            scheduler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()


def test_gunicorn_makes_and_removes_its_own_directory_without_one_given(tmp_path, sqlite_template):
    """Without PROMETHEUS_MULTIPROC_DIR the master makes a fresh one for its workers, and removes it on exit."""
    database = tmp_path / "tms.db"
    shutil.copy(sqlite_template, database)
    port = free_port()
    env = cli_environment(DATABASE_URL=f"sqlite:///{database}", GUNICORN_BIND=f"127.0.0.1:{port}",
                          WEB_CONCURRENCY="2", GUNICORN_THREADS="1", XDG_RUNTIME_DIR=str(tmp_path),
                          NO_PROXY="127.0.0.1,localhost")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        master = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"],
                                  cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            wait_for(lambda: len(booted_workers(log_path)) >= 2, "2 workers", log=log_path)
            http = Http(f"http://127.0.0.1:{port}")
            assert in_parallel([lambda: http.call("GET", "/healthz")[0]] * 10) == [200] * 10
            found = http.scrape()
            assert value(found, "tms_http_requests_total", method="GET", endpoint="/healthz", status="200") == 10
            made = next(json.loads(line)["message"].split(" in ", 1)[1] for line in log_path.read_text().splitlines()
                        if "metrics of every worker in" in line)
            assert Path(made).is_dir()
        finally:
            master.send_signal(signal.SIGTERM)
            master.wait(timeout=30)
    assert not Path(made).exists()


# --- the use cases' counters, through Flask's test client (a registry per app)

def scrape(client) -> dict:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    return samples(answer.get_data(as_text=True))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bookings_conflicts_and_failed_sign_ins_are_counted(client, as_role):
    front_desk = as_role("front_desk")
    for _ in range(2):
        book_course(front_desk, preferred_time="09:00")
    conflict = front_desk.post("/api/v1/courses", json=course_body(create_patient(front_desk)["id"]))
    assert conflict.status_code == 409
    wrong = client.post("/api/v1/auth/tokens", json={"username": "frontdesk", "password": "not the password"})
    assert wrong.status_code == 401

    found = scrape(client)

    assert value(found, "tms_bookings_total") == 2
    assert value(found, "tms_booking_conflicts_total") == 1
    assert value(found, "tms_sign_in_failures_total", reason="credentials") == 1
    assert value(found, "tms_dispatch_lag_seconds") == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_locked_out_sign_in_is_counted_apart(client):
    for _ in range(6):
        client.post("/api/v1/auth/tokens", json={"username": "frontdesk", "password": "not the password"})

    found = scrape(client)

    assert value(found, "tms_sign_in_failures_total", reason="credentials") == 5
    assert value(found, "tms_sign_in_failures_total", reason="locked") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_shows_are_counted_by_who_marked_them(app, client, clock, as_role):
    """The technician's no-show in the app's /metrics; the sweep's in the scheduler's own registry."""
    front_desk = as_role("front_desk")
    first = book_course(front_desk, start_date="2026-12-02", preferred_time="09:00")
    second = book_course(front_desk, start_date="2026-12-02", preferred_time="09:00")
    clock.now = local(2026, 12, 2, 9, 30)
    technician = signed_in(client, "technician")
    marked = technician.post(f"/api/v1/sessions/{first['sessions'][0]['id']}/no-show")
    assert marked.status_code == 200, marked.json

    clock.now = local(2026, 12, 2, 20, 0)  # the second course's first session well past its end
    components = app.extensions["tms"]
    ctx = Context(components.runtime, components.settings, worker="test", metrics=metrics.Metrics(CollectorRegistry()))
    run_job(next(job for job in JOBS if job.id == "mark-no-shows"), ctx)

    swept = ctx.metrics.registry.get_sample_value("tms_no_shows_total", {"marked_by": "scheduler"})
    assert swept == 1, second["sessions"][0]
    found = scrape(client)
    assert value(found, "tms_no_shows_total", marked_by="staff") == 1
    assert value(found, "tms_no_shows_total", marked_by="scheduler") is None  # the sweep is the scheduler's


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_apps_in_one_process_keep_their_counts_apart(app, settings, clock, client):
    other = create_app(settings, clock=clock)
    try:
        client.get("/healthz")
        client.get("/healthz")
        other.test_client().get("/healthz")

        assert value(scrape(client), "tms_http_requests_total", method="GET", endpoint="/healthz", status="200") == 2
        assert value(scrape(other.test_client()), "tms_http_requests_total", method="GET", endpoint="/healthz",
                     status="200") == 1
    finally:
        other.extensions["tms"].engine.dispose()


def test_nothing_is_recorded_outside_an_app_or_a_scheduler():
    metrics.booked()  # the command line (seed-demo, say): no error, nowhere to count
    mine = metrics.Metrics(CollectorRegistry())
    with metrics.recording(mine):
        metrics.booked()
    metrics.booked()
    assert mine.registry is not None
    assert mine.registry.get_sample_value("tms_bookings_total") == 1
