"""Shared fixtures: a database on SQLite and on PostgreSQL, an app with a fixed clock, signed-in clients.

PostgreSQL tests use TMS_TEST_POSTGRES_URL (default: the local server's `postgres`
database, trust auth), make one database per pytest-xdist worker and migrate it once.
If the server cannot be reached they are skipped with the reason printed, unless
TMS_REQUIRE_POSTGRES=1 (as in CI), where that is an error.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tms_scheduler.app import create_app
from tms_scheduler.db import migrate
from tms_scheduler.db.engine import make_engine, make_session_factory
from tms_scheduler.services import auth as auth_service
from tms_scheduler.services.demo import DEMO_USERS, seed_demo
from tms_scheduler.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get("TMS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("TMS_REQUIRE_POSTGRES") == "1"
DEMO_PASSWORDS = {role: (username, password) for username, role, password in DEMO_USERS}
# Tables emptied between PostgreSQL tests, children first.
TABLES = ("sessions", "courses", "patients", "closures", "chairs", "protocols", "sites", "sign_in_failures",
          "auth_tokens", "users",
          "holiday_calendars")


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Argon2 at its production cost takes tens of ms a hash; tests need the behaviour, not the cost."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


def _worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


def _database_name(request) -> str:
    """Unique per run and worker, so runs side by side never drop each other's database."""
    worker = getattr(request.config, "workerinput", {})
    run = worker.get("testrunuid", f"p{os.getpid()}")[:10]
    return f"tms_test_{run}_{worker.get('workerid', 'main')}"


def _postgres_problem() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({exc.__class__.__name__}); set TMS_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_server_url(request):
    """A migrated PostgreSQL database of this worker's own; the URL to it."""
    problem = _postgres_problem()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    name = _database_name(request)
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    with sqlite3.connect(path) as connection:  # fold the WAL into the file before it is copied
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty, migrated database (holiday calendars only), on each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "tms.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_server_url")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        # The audit trail refuses TRUNCATE (a trigger); a superuser's replica role skips the trigger.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("TRUNCATE audit_events RESTART IDENTITY"))
    engine.dispose()
    migrate_calendars(url)
    yield url


def migrate_calendars(url: str) -> None:
    # Truncation empties the rows the first migration inserted; put them back.
    from tms_scheduler.db.models import HolidayCalendarRow
    from tms_scheduler.services.demo import HOLIDAY_CALENDARS

    engine = make_engine(url)
    with make_session_factory(engine).begin() as db:
        for row in HOLIDAY_CALENDARS:
            db.add(HolidayCalendarRow(**row))
    engine.dispose()


@pytest.fixture
def backend(database_url) -> str:
    return make_url(database_url).get_backend_name()


@dataclass
class Clock:
    """The app's clock, set by the test."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 17, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, env="test", secret_key="test-secret")


@pytest.fixture
def app(settings, clock):
    app = create_app(settings, clock=clock)
    seed_demo(app.extensions["tms"].runtime)
    yield app
    app.extensions["tms"].engine.dispose()


@pytest.fixture
def db(app):
    """The app's session factory, for looking at what the API wrote."""
    return app.extensions["tms"].runtime.sessions


class RoleClient:
    """Flask's test client, signed in as one role."""

    def __init__(self, client, token: str):
        self._client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def __getattr__(self, method):
        call = getattr(self._client, method)

        def send(*args, **kwargs):
            kwargs["headers"] = {**self.headers, **kwargs.get("headers", {})}
            return call(*args, **kwargs)

        return send


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def as_role(client):
    """as_role("front_desk") is a client signed in as that demo user."""
    cache: dict[str, RoleClient] = {}

    def sign_in(role: str) -> RoleClient:
        if role not in cache:
            username, password = DEMO_PASSWORDS[role]
            answer = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
            assert answer.status_code == 201, answer.json
            cache[role] = RoleClient(client, answer.json["token"])
        return cache[role]

    return sign_in


@pytest.fixture
def front_desk(as_role):
    return as_role("front_desk")


@pytest.fixture
def admin(as_role):
    return as_role("admin")
