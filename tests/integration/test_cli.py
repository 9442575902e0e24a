"""`flask --app wsgi ...` as an operator runs it: a real subprocess against a SQLite file named by DATABASE_URL."""
from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select

from tests.conftest import DEMO_PASSWORDS
from tests.integration.conftest import cli_environment, flask_cli
from tms_scheduler.app import create_app
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine
from tms_scheduler.settings import Settings

TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "test-auth-token",
          "TWILIO_FROM_NUMBER": "+17145550199"}
STRONG_KEY = "9c41e07b5a2d8f63b1e4c97a05d2f8e61b3a7c94d0e25f8a6b1c3d7e9f024a5b"


@pytest.fixture
def env(sqlite_file_url) -> dict[str, str]:
    return cli_environment(DATABASE_URL=sqlite_file_url)


@pytest.fixture
def upgraded(env, sqlite_file_url) -> dict[str, str]:
    """A migrated database; in-process, as the CLI's own `db upgrade` has a test of its own."""
    migrate.upgrade(sqlite_file_url)
    return env


def ok(done) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done.stdout


def row_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {t.name: connection.scalar(select(func.count()).select_from(t))
                    for t in models.Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_db_current_on_a_new_database_names_the_newest_migration_still_to_apply(env):
    assert ok(flask_cli("db", "current", env=env)).strip() == f"None (newest is {migrate.head_revision()})"


def test_db_upgrade_brings_a_new_database_to_head_and_db_current_says_so(env):
    head = migrate.head_revision()

    assert f"database at {head}" in ok(flask_cli("db", "upgrade", env=env))

    assert ok(flask_cli("db", "current", env=env)).strip() == f"{head} (head)"


def test_seed_demo_run_twice_adds_nothing_the_second_time_and_lists_the_demo_users(upgraded, sqlite_file_url):
    first = ok(flask_cli("seed-demo", env=upgraded))
    after_first = row_counts(sqlite_file_url)

    second = ok(flask_cli("seed-demo", env=upgraded))

    assert "added site fullerton" in first
    assert "added" not in second and "already loaded" in second
    assert row_counts(sqlite_file_url) == after_first
    for username, password in DEMO_PASSWORDS.values():
        assert username in second and password in second


def test_a_user_created_on_the_command_line_can_sign_in(upgraded, sqlite_file_url):
    out = ok(flask_cli("users", "create", "dr-reyes", "--role", "clinician", "--password", "a-long-secret",
                       env=upgraded))
    assert "dr-reyes" in out

    app = create_app(Settings(database_url=sqlite_file_url, env="test", secret_key="test-secret"))
    try:
        answer = app.test_client().post("/api/v1/auth/tokens",
                                        json={"username": "dr-reyes", "password": "a-long-secret"})
        wrong = app.test_client().post("/api/v1/auth/tokens",
                                       json={"username": "dr-reyes", "password": "not-the-secret"})
    finally:
        app.extensions["tms"].engine.dispose()
    assert answer.status_code == 201, answer.json
    assert answer.json["role"] == "clinician"
    assert wrong.status_code == 401


def test_users_create_with_a_short_password_fails_with_a_clear_message_and_adds_nobody(upgraded, sqlite_file_url):
    done = flask_cli("users", "create", "dr-short", "--role", "clinician", "--password", "short", env=upgraded)

    assert done.returncode != 0
    assert "password" in done.stderr.lower() and "short" in done.stderr.lower(), done.stderr
    assert "Traceback" not in done.stderr
    assert row_counts(sqlite_file_url)["users"] == 0


def test_users_create_with_a_password_containing_the_name_fails_saying_so_and_adds_nobody(upgraded,
                                                                                        sqlite_file_url):
    done = flask_cli("users", "create", "dr-reyes", "--role", "clinician", "--password", "Dr-Reyes-of-Fullerton",
                     env=upgraded)

    assert done.returncode != 0
    assert "contains the username" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert row_counts(sqlite_file_url)["users"] == 0


def test_users_create_with_a_common_password_fails_saying_so_and_adds_nobody(upgraded, sqlite_file_url):
    done = flask_cli("users", "create", "dr-reyes", "--role", "clinician", "--password", "Password1234",
                     env=upgraded)

    assert done.returncode != 0
    assert "commonest passwords" in done.stderr, done.stderr
    assert row_counts(sqlite_file_url)["users"] == 0


def test_users_create_refuses_a_name_that_is_taken(upgraded):
    ok(flask_cli("users", "create", "dr-reyes", "--role", "clinician", "--password", "a-long-secret", env=upgraded))

    done = flask_cli("users", "create", "dr-reyes", "--role", "admin", "--password", "another-secret", env=upgraded)

    assert done.returncode != 0
    assert "dr-reyes" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_db_downgrade_to_base_removes_every_table(upgraded, sqlite_file_url):
    out = ok(flask_cli("db", "downgrade", "base", env=upgraded))

    assert "database at None" in out
    engine = make_engine(sqlite_file_url)
    try:
        assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
    finally:
        engine.dispose()


def test_production_without_a_secret_key_refuses_to_start_naming_secret_key(env):
    done = flask_cli("db", "current", env={**env, **TWILIO, "TMS_ENV": "production"})

    assert done.returncode != 0
    assert "SECRET_KEY" in done.stdout + done.stderr, done.stderr


def test_production_with_a_placeholder_secret_key_refuses_to_start_naming_secret_key(env):
    done = flask_cli("db", "current", env={**env, **TWILIO, "TMS_ENV": "production",
                                           "SECRET_KEY": "CHANGE-ME-64-random-hex-characters"})

    assert done.returncode != 0
    assert "SECRET_KEY" in done.stdout + done.stderr, done.stderr


def test_production_with_a_secret_key_and_twilio_settings_starts(env):
    done = flask_cli("db", "current", env={**env, **TWILIO, "TMS_ENV": "production", "SECRET_KEY": STRONG_KEY})

    assert done.returncode == 0, done.stderr
