"""`flask --app wsgi scheduler` as its own process: it runs the job table at start and stops on SIGTERM."""
from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.integration.conftest import FLASK, cli_environment
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine, make_session_factory
from tms_scheduler.settings import PROJECT_ROOT

PURGE_DEADLINE_SECONDS = 20
EXIT_DEADLINE_SECONDS = 10


@pytest.fixture
def tokens(sqlite_file_url) -> dict[str, int]:
    """A migrated database holding three sign-in tokens of one user; their ids by how they stand."""
    migrate.upgrade(sqlite_file_url)
    now = datetime.now(UTC)
    engine = make_engine(sqlite_file_url)
    with make_session_factory(engine).begin() as db:
        user = models.User(username="frontdesk", role="front_desk", password_hash="x", active=True)
        db.add(user)
        db.flush()
        rows = {
            "expired two days ago": models.AuthToken(token_hash="a" * 64, user_id=user.id,
                                                     expires_at=now - timedelta(days=2)),
            "expired two hours ago": models.AuthToken(token_hash="b" * 64, user_id=user.id,
                                                      expires_at=now - timedelta(hours=2)),
            "valid": models.AuthToken(token_hash="c" * 64, user_id=user.id, expires_at=now + timedelta(hours=8)),
        }
        db.add_all(rows.values())
        db.flush()
        ids = {name: row.id for name, row in rows.items()}
    engine.dispose()
    return ids


def token_ids(url: str) -> set[int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(models.AuthToken.id)))
    finally:
        engine.dispose()


@pytest.fixture
def scheduler_process(tokens, sqlite_file_url, tmp_path):
    log = open(tmp_path / "scheduler.log", "w+")
    process = subprocess.Popen([str(FLASK), "--app", "wsgi", "scheduler"], cwd=PROJECT_ROOT,
                               env=cli_environment(DATABASE_URL=sqlite_file_url), stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    yield process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=EXIT_DEADLINE_SECONDS)
    log.close()


def output_of(process) -> str:
    process.log.flush()
    process.log.seek(0)
    return process.log.read()


def test_the_scheduler_purges_tokens_expired_over_a_day_ago_at_start_and_stops_on_sigterm(
        scheduler_process, tokens, sqlite_file_url):
    deadline = time.monotonic() + PURGE_DEADLINE_SECONDS
    while tokens["expired two days ago"] in token_ids(sqlite_file_url):
        assert scheduler_process.poll() is None, f"the scheduler died:\n{output_of(scheduler_process)}"
        assert time.monotonic() < deadline, f"not purged in {PURGE_DEADLINE_SECONDS}s:\n{output_of(scheduler_process)}"
        time.sleep(0.25)

    assert token_ids(sqlite_file_url) == {tokens["expired two hours ago"], tokens["valid"]}

    scheduler_process.send_signal(signal.SIGTERM)
    try:
        code = scheduler_process.wait(timeout=EXIT_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the scheduler ignored SIGTERM for {EXIT_DEADLINE_SECONDS}s:\n{output_of(scheduler_process)}")
    assert code == 0, output_of(scheduler_process)
    assert "purge-expired-tokens" in output_of(scheduler_process)
