"""Operations: a backup taken with pg_dump restored into a fresh database that the service reads; `flask --app
wsgi db` / `db status` naming the migrations still to apply; `flask --app wsgi check` saying, one line per
check, whether the settings, the database and Twilio's settings are ready for production."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import DEMO_PASSWORDS, POSTGRES_ADMIN_URL, REQUIRE_POSTGRES, _worker_id
from tests.factories import book_course
from tests.integration.conftest import FLASK, cli_environment, flask_cli
from tms_scheduler.app import create_app
from tms_scheduler.db import migrate, models
from tms_scheduler.db.engine import make_engine
from tms_scheduler.settings import PROJECT_ROOT, Settings

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
STRONG_KEY = "9c41e07b5a2d8f63b1e4c97a05d2f8e61b3a7c94d0e25f8a6b1c3d7e9f024a5b"
AUTH_TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
PRODUCTION = {"TMS_ENV": "production", "SECRET_KEY": STRONG_KEY, "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
              "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+17145550199",
              "PUBLIC_BASE_URL": "https://tms.example.org", "TRUSTED_PROXIES": "1"}


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump, pg_restore and psql take it (no +psycopg)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def pg_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        reason = f"{name} not on PATH: the backup and restore drill needs PostgreSQL's client programs"
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(command[:2])}... exit {done.returncode}:\n{done.stderr}"
    return done.stdout


# --- backup and restore


@pytest.fixture
def restored_database_name(request):
    """A name for the database restored into; dropped afterwards."""
    name = f"tms_restored_{_worker_id(request)}_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.parametrize("dump_format", ["custom", "plain"])
def test_a_backup_restored_into_a_fresh_database_is_read_by_the_service_ready_at_head(
        database_url, front_desk, db, restored_database_name, tmp_path, dump_format):
    pg_dump, pg_restore, psql, createdb = (pg_binary(name) for name in ("pg_dump", "pg_restore", "psql", "createdb"))
    course = book_course(front_desk)
    with db() as session:
        audit_rows = session.scalar(select(func.count()).select_from(models.AuditEvent))

    # As README.md says: pg_dump, createdb, then pg_restore (custom format) or psql (plain SQL).
    backup = tmp_path / ("tms.dump" if dump_format == "custom" else "tms.sql")
    run(pg_dump, f"--format={dump_format}", "--no-owner", f"--file={backup}", libpq_url(database_url))
    target = make_url(database_url).set(database=restored_database_name)
    run(createdb, f"--maintenance-db={libpq_url(database_url)}", restored_database_name)
    if dump_format == "custom":
        run(pg_restore, "--no-owner", "--exit-on-error", f"--dbname={libpq_url(str(target))}", str(backup))
    else:
        run(psql, "--quiet", "--set=ON_ERROR_STOP=1", f"--file={backup}", libpq_url(str(target)))

    restored_url = target.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=restored_url, env="test", secret_key="test-secret"))
    try:
        client = app.test_client()
        ready = client.get("/readyz")
        username, password = DEMO_PASSWORDS["front_desk"]
        signed_in = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert signed_in.status_code == 201, signed_in.json
        read = client.get(f"/api/v1/courses/{course['id']}",
                          headers={"Authorization": f"Bearer {signed_in.json['token']}"})
        with app.extensions["tms"].engine.connect() as connection:
            restored_audit_rows = connection.scalar(select(func.count()).select_from(models.AuditEvent))
            overlap_guard = connection.scalar(text(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'ex_sessions_chair_overlap'"))
    finally:
        app.extensions["tms"].engine.dispose()
    assert ready.status_code == 200 and ready.json == {"status": "ready", "migration": migrate.head_revision()}
    assert read.status_code == 200, read.json
    assert read.json["patient"] == course["patient"]
    assert [s["starts_at"] for s in read.json["sessions"]] == [s["starts_at"] for s in course["sessions"]]
    # the audit trail came across whole (the sign-in and the read above are two more), and so did the guard
    assert restored_audit_rows >= audit_rows + 2
    assert overlap_guard == 1


# --- db status


def status(env, *args: str) -> subprocess.CompletedProcess:
    return flask_cli("db", *args, env=env)


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_db_status_on_a_new_database_lists_every_migration_pending_and_exits_1(fresh_database_url):
    env = cli_environment(DATABASE_URL=fresh_database_url)
    revisions = oldest_first()

    done = status(env, "status")

    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["database at None", f"code's newest {migrate.head_revision()}",
                         f"{len(revisions)} pending (flask --app wsgi db upgrade applies them):"]
    assert [line.split()[0] for line in lines[3:]] == revisions
    assert "Sites, chairs, closures" in lines[3]


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_db_alone_reports_the_migrations_still_to_apply_after_a_partial_upgrade(fresh_database_url):
    env = cli_environment(DATABASE_URL=fresh_database_url)
    revisions = oldest_first()
    migrate.upgrade(fresh_database_url, revisions[-3])

    alone, with_status = status(env), status(env, "status")

    assert alone.returncode == with_status.returncode == 1
    assert alone.stdout == with_status.stdout
    assert alone.stdout.splitlines()[0] == f"database at {revisions[-3]}"
    assert "2 pending" in alone.stdout
    assert [line.split()[0] for line in alone.stdout.splitlines()[3:]] == revisions[-2:]


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_db_status_at_the_newest_migration_says_up_to_date_and_exits_0(fresh_database_url):
    env = cli_environment(DATABASE_URL=fresh_database_url)
    migrate.upgrade(fresh_database_url)

    done = status(env, "status")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"database at {migrate.head_revision()}",
                                        f"code's newest {migrate.head_revision()}", "up to date"]


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_db_status_says_so_when_newer_code_migrated_the_database(fresh_database_url):
    env = cli_environment(DATABASE_URL=fresh_database_url)
    migrate.upgrade(fresh_database_url)
    engine = make_engine(fresh_database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()

    done = status(env, "status")

    assert done.returncode == 1
    assert "0099, which this code does not know" in done.stdout


def oldest_first() -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


# --- check


def checks(done: subprocess.CompletedProcess) -> dict[str, tuple[str, str]]:
    """{name: (OK or FAIL, why)} of check's lines, asserting each is one and the last sums them up."""
    *lines, verdict = done.stdout.splitlines()
    found = {}
    for line in lines:
        outcome, rest = line.split(maxsplit=1)
        assert outcome in ("OK", "FAIL"), line
        name, why = rest.split(": ", 1)
        found[name] = (outcome, why)
    failed = [name for name, (outcome, _) in found.items() if outcome == "FAIL"]
    assert verdict == (f"not ready for production: {', '.join(failed)}" if failed else "ready for production")
    assert done.returncode == (1 if failed else 0), done.stderr
    return found


def outcomes(found: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {name: outcome for name, (outcome, _) in found.items()}


def test_check_passes_production_settings_on_a_database_at_the_newest_migration(database_url):
    done = flask_cli("check", env=cli_environment(DATABASE_URL=database_url, **PRODUCTION))

    found = checks(done)
    assert outcomes(found) == dict.fromkeys(("settings", "TMS_ENV", "SECRET_KEY", "Twilio", "PUBLIC_BASE_URL",
                                             "TRUSTED_PROXIES", "database", "migrations"), "OK")
    assert done.returncode == 0
    assert found["SECRET_KEY"][1] == "64 characters, 16 different"
    assert found["migrations"][1] == f"at {migrate.head_revision()}, the newest"
    assert "from +17145550199" in found["Twilio"][1]
    assert STRONG_KEY not in done.stdout and AUTH_TOKEN not in done.stdout


def test_check_fails_development_defaults_naming_each_setting_production_needs(database_url):
    done = flask_cli("check", env=cli_environment(DATABASE_URL=database_url))

    found = checks(done)
    assert done.returncode == 1
    assert outcomes(found) == {"settings": "OK", "TMS_ENV": "FAIL", "SECRET_KEY": "FAIL", "Twilio": "FAIL",
                               "PUBLIC_BASE_URL": "FAIL", "TRUSTED_PROXIES": "OK", "database": "OK",
                               "migrations": "OK"}
    assert found["TMS_ENV"][1] == "development, not production"
    assert "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN" in found["Twilio"][1]
    assert "signs its webhooks" in found["PUBLIC_BASE_URL"][1]


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_check_fails_a_database_with_migrations_pending_naming_them(fresh_database_url):
    migrate.upgrade(fresh_database_url, oldest_first()[-2])

    found = checks(flask_cli("check", env=cli_environment(DATABASE_URL=fresh_database_url, **PRODUCTION)))

    assert [name for name, (outcome, _) in found.items() if outcome == "FAIL"] == ["migrations"]
    assert found["migrations"][1] == (f"at {oldest_first()[-2]}, 1 pending ({migrate.head_revision()}): "
                                      "run flask --app wsgi db upgrade")


def test_check_fails_an_unreachable_database_without_a_traceback():
    url = make_url(POSTGRES_ADMIN_URL).set(host="127.0.0.1", port=1, password="hidden-pw").render_as_string(
        hide_password=False)

    done = flask_cli("check", env=cli_environment(DATABASE_URL=url, **PRODUCTION))

    found = checks(done)
    assert found["database"][0] == "FAIL" and "unreachable (OperationalError)" in found["database"][1]
    assert found["migrations"] == ("FAIL", "not checked: the database is unreachable")
    assert "hidden-pw" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("change, name, why", [
    ({"SECRET_KEY": "CHANGE-ME-64-random-hex-characters"}, "SECRET_KEY", "placeholder"),
    ({"SECRET_KEY": "short-but-random-9f3"}, "SECRET_KEY", "at least 32 characters"),
    ({"TWILIO_AUTH_TOKEN": ""}, "Twilio", "TWILIO_AUTH_TOKEN not set"),
    ({"SMS_BACKEND": "log"}, "Twilio", "SMS_BACKEND=log"),
    ({"TWILIO_ACCOUNT_SID": "XX" + "0" * 32}, "Twilio", "not an account SID"),
    ({"PUBLIC_BASE_URL": "http://tms.example.org"}, "PUBLIC_BASE_URL", "HTTPS"),
], ids=["placeholder key", "short key", "no auth token", "log backend", "not a SID", "plain HTTP"])
def test_check_fails_each_production_setting_that_will_not_do_saying_why(sqlite_file_url, change, name, why):
    migrate.upgrade(sqlite_file_url)
    # Settings the app itself refuses (it will not start on them): the same checks without starting it.
    done = subprocess.run([str(FLASK.parent / "python"), "-m", "tms_scheduler.cli", "check"], cwd=PROJECT_ROOT,
                          env=cli_environment(DATABASE_URL=sqlite_file_url, **{**PRODUCTION, **change}),
                          capture_output=True, text=True, timeout=60)

    found = checks(done)
    assert found[name][0] == "FAIL" and why in found[name][1], found[name]
    assert {n for n, (outcome, _) in found.items() if outcome == "FAIL"} <= {name, "settings"}
    assert found["database"][0] == found["migrations"][0] == "OK"
    assert STRONG_KEY not in done.stdout and AUTH_TOKEN not in done.stdout


def test_flask_check_on_settings_the_app_refuses_fails_naming_them_as_the_app_does(sqlite_file_url):
    env = cli_environment(DATABASE_URL=sqlite_file_url, **{**PRODUCTION, "SECRET_KEY": "CHANGE-ME-please"})

    done = flask_cli("check", env=env)

    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr
