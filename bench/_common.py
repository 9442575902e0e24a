"""What the benchmark scripts share: a throw-away PostgreSQL database, the app on a fixed clock,
a signed-in test client, a statement counter and the summary figures."""
from __future__ import annotations

import os
import platform
import shlex
import statistics
import sys
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import event  # noqa: E402

from tms_scheduler.app import create_app  # noqa: E402
from tms_scheduler.db import migrate  # noqa: E402
from tms_scheduler.services.demo import DEMO_USERS, seed_demo  # noqa: E402
from tms_scheduler.settings import Settings  # noqa: E402

SERVER = os.environ.get("TMS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DEMO_PASSWORDS = {role: (username, password) for username, role, password in DEMO_USERS}


def libpq_url(database: str) -> str:
    return f"{SERVER}/{database}"


def sqlalchemy_url(database: str) -> str:
    return libpq_url(database).replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def bench_database(name: str):
    """A freshly migrated database of the given name, dropped afterwards whatever happens."""
    with psycopg.connect(libpq_url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate.upgrade(sqlalchemy_url(name))
        yield name
    finally:
        with psycopg.connect(libpq_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class FixedClock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_app(database: str, now: datetime, *, seed: bool = True):
    app = create_app(Settings(database_url=sqlalchemy_url(database), env="test", secret_key="bench-secret"),
                     clock=FixedClock(now))
    if seed:
        seed_demo(app.extensions["tms"].runtime)
    return app


class SignedIn:
    """Flask's test client with a bearer token of one demo role."""

    def __init__(self, app, role: str):
        self.client = app.test_client()
        username, password = DEMO_PASSWORDS[role]
        answer = self.client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.json
        self.headers = {"Authorization": f"Bearer {answer.json['token']}"}

    def get(self, url: str):
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body: dict):
        return self.client.post(url, json=body, headers=self.headers)


class StatementCounter:
    """Counts what the app's engine sends: statements (before_cursor_execute) and pool checkouts.

    Implicit BEGIN / COMMIT are not statements here (they are round trips all the same); should the
    engine use pool_pre_ping again, each checkout would add one more round trip the listener does not see.
    """

    def __init__(self, engine):
        self.statements: list[str] = []
        self.checkouts = 0
        self.active = False
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine.pool, "checkout", self._on_checkout)

    def _on_statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.active:
            self.statements.append(" ".join(statement.split())[:110])

    def _on_checkout(self, *_):
        if self.active:
            self.checkouts += 1

    @contextmanager
    def counting(self):
        self.statements, self.checkouts, self.active = [], 0, True
        try:
            yield self
        finally:
            self.active = False

    def kinds(self) -> Counter:
        return Counter(s.split()[0].upper() for s in self.statements)


def ms(samples: list[float]) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def print_header(title: str) -> None:
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    with psycopg.connect(libpq_url("postgres")) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    print(f"# {title}")
    print(f"reproduce: cd {ROOT} && {command}")
    print(f"python {platform.python_version()}, PostgreSQL {server}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.2f}, run at {datetime.now():%Y-%m-%d %H:%M}")


def profile_top(call, repeat: int, limit: int = 25) -> None:
    """cProfile over `repeat` calls; the top functions by own time and by cumulative time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.strip_dirs()
    print(f"-- cProfile over {repeat} calls: top {limit} by cumulative time")
    stats.sort_stats("cumulative").print_stats(limit)
    print(f"-- top {limit} by own time")
    stats.sort_stats("tottime").print_stats(limit)


def add_patients(raw: psycopg.Connection, count: int) -> list[int]:
    """`count` patients in one statement; their ids."""
    rows = raw.execute(
        "INSERT INTO patients (first_name, last_name, date_of_birth, phone, language, sms_consent, sms_opted_out) "
        "SELECT 'Bench', 'Patient ' || g, DATE '1980-01-01', '+1714555' || lpad((g %% 10000)::text, 4, '0'), "
        "'en', true, false FROM generate_series(1, %s) g RETURNING id", (count,)).fetchall()
    raw.commit()
    return [r[0] for r in rows]
