"""The sign-in limit under concurrency: 40 wrong passwords for one username sent at once get exactly 5
passwords checked (each answered 401) and 35 refusals (429), through the app's threaded server on SQLite
and PostgreSQL, and through real gunicorn with 2 worker processes on PostgreSQL. A 401 is a checked wrong
password, so the 401s count the passwords checked.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import DEMO_PASSWORDS, POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, _postgres_problem, _worker_id
from tests.integration.conftest import cli_environment
from tms_scheduler.bootstrap import bootstrap
from tms_scheduler.db import migrate, models
from tms_scheduler.services import auth as auth_service
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.settings import PROJECT_ROOT, Settings

GUESSES = 40
USERNAME = DEMO_PASSWORDS["clinician"][0]
GUNICORN = PROJECT_ROOT / ".venv" / "bin" / "gunicorn"
START_DEADLINE_SECONDS = 30


def guess_all_at_once(base_url: str) -> Counter:
    """GUESSES wrong passwords for USERNAME, released together; the count of each status answered."""
    start = threading.Barrier(GUESSES)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def guess(i: int) -> int:
        body = json.dumps({"username": USERNAME, "password": f"wrong-guess-{i}"}).encode()
        call = urllib.request.Request(f"{base_url}/api/v1/auth/tokens", data=body, method="POST",
                                      headers={"Content-Type": "application/json"})
        start.wait(timeout=30)
        try:
            with opener.open(call, timeout=60) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        return Counter(pool.map(guess, range(GUESSES)))


def failures_recorded(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(models.SignInFailure)
                                     .where(models.SignInFailure.username == USERNAME))
    finally:
        engine.dispose()


# --- the app's own threaded server, SQLite and PostgreSQL

def test_forty_wrong_passwords_at_once_check_exactly_five_and_refuse_the_rest_with_429(live_server, settings):
    answered = guess_all_at_once(live_server.base_url)

    assert answered == Counter({401: 5, 429: 35})
    assert failures_recorded(settings.database_url) == 5


# --- real gunicorn, 2 worker processes, PostgreSQL

@pytest.fixture
def own_postgres_database(request):
    """A migrated database with the demo clinic, of this test's own; its URL."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"tms_signin_{_worker_id(request)}_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    # As `flask --app wsgi seed-demo` leaves it: the password hashes at production cost, so each check
    # takes as long as it does in production.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth_service, "_hasher", PasswordHasher())
        components = bootstrap(Settings(database_url=url, env="test", secret_key="test-secret"))
        seed_demo(components.runtime)
        components.engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def gunicorn_two_workers(own_postgres_database, tmp_path):
    """`gunicorn --config config/gunicorn.conf.py wsgi:app` with 2 workers of 8 threads; its base URL and log."""
    if not GUNICORN.exists():
        pytest.skip(f"{GUNICORN} is missing; run `python3 dev.py test` to create it")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_environment(DATABASE_URL=own_postgres_database, GUNICORN_BIND=f"127.0.0.1:{port}",
                          WEB_CONCURRENCY="2", GUNICORN_THREADS="8", XDG_RUNTIME_DIR=str(tmp_path))
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"],
                                   cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_both_workers(process, base_url, log)
        yield base_url, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session: gunicorn and its workers
            process.wait(timeout=10)


def _wait_for_both_workers(process: subprocess.Popen, base_url: str, log) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        assert process.poll() is None, f"gunicorn exited ({process.returncode}):\n{log.read_text()}"
        assert time.monotonic() < deadline, f"gunicorn not ready in {START_DEADLINE_SECONDS}s:\n{log.read_text()}"
        ready = log.read_text().count("tms_scheduler ready on")  # each worker's app, loaded
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as answer:
            if answer.status == 200 and ready >= 2:
                return
        time.sleep(0.1)


def sign_in_workers(log) -> set[int]:
    """The pids of the gunicorn workers that answered sign-ins, from its (JSON) access log."""
    pids = set()
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if entry.get("logger") == "gunicorn.access" and "/api/v1/auth/tokens" in entry.get("message", ""):
                pids.add(entry["pid"])
    return pids


def test_forty_wrong_passwords_at_once_to_two_gunicorn_workers_check_exactly_five(gunicorn_two_workers,
                                                                                   own_postgres_database):
    base_url, log = gunicorn_two_workers

    answered = guess_all_at_once(base_url)

    assert answered == Counter({401: 5, 429: 35})
    assert failures_recorded(own_postgres_database) == 5
    assert len(sign_in_workers(log)) == 2, "both workers answered some of the sign-ins"
