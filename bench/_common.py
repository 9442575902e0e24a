"""What the benchmark scripts share: a throw-away PostgreSQL database, the app on a fixed clock,
a signed-in test client, a statement counter and the summary figures."""
from __future__ import annotations

import os
import platform
import shlex
import statistics
import sys
import tempfile
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


@contextmanager
def migrated_database(use_sqlite: bool, name: str):
    """The SQLAlchemy URL of a freshly migrated database, removed afterwards: a temporary SQLite file,
    or the PostgreSQL database `name` (bench_database)."""
    if use_sqlite:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as folder:
            url = f"sqlite:///{Path(folder) / 'tms.db'}"
            migrate.upgrade(url)
            yield url
    else:
        with bench_database(name) as database:
            yield sqlalchemy_url(database)


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


# --- text reminders (bench/dispatch.py, bench/claim.py) ---------------------------------------

REMINDER_KINDS = ("first", "every", "makeup", "moved", "taper")
BENCH_FIRST_NAMES = ("Ana", "Roberto", "María José", "Christopher", "Zoë", "Lan", "Guadalupe", "Jo")


def add_texting_sites(raw: psycopg.Connection, sites: int = 20, chairs: int = 10) -> list[int]:
    """`sites` TMS sites in Los Angeles time with a phone each ('bench-01'...), `chairs` chairs each; the chair ids."""
    raw.execute(
        "INSERT INTO sites (id, name, timezone, offers_tms, address, phone, open_days, opens, closes, "
        "holiday_calendar) "
        "SELECT 'bench-' || lpad(g::text, 2, '0'), 'Oak Health Center Bench ' || g, 'America/Los_Angeles', true, "
        "       '', '+1714555' || lpad((200 + g)::text, 4, '0'), '[1, 2, 3, 4, 5]', TIME '07:00', TIME '19:00', "
        "       'us-clinic' FROM generate_series(1, %s) g", (sites,))
    ids = raw.execute(
        "INSERT INTO chairs (site_id, name, coil, active) "
        "SELECT 'bench-' || lpad(s::text, 2, '0'), 'Bench chair ' || c, 'figure-8', true "
        "FROM generate_series(1, %s) s, generate_series(1, %s) c ORDER BY s, c RETURNING id",
        (sites, chairs)).fetchall()
    raw.commit()
    return [r[0] for r in ids]


def add_outbox(raw: psycopg.Connection, now: datetime, chair_ids: list[int], *, sessions: int, due: int,
               later: int = 0, history: int = 0, consent_every: int = 0) -> None:
    """Patients, courses and sessions, and reminders of every state, by generated SQL (no API).

    * `sessions` patients (phone +1714555xxxx, names and languages rotating: every 5th Spanish), each
      with an active course of one scheduled session in the future (from Monday 2026-11-30, 08:00-17:00
      Los Angeles, one an hour per chair, spread over `chair_ids`). Every `consent_every`-th patient
      (0: none) has no SMS consent.
    * `due` pending reminders with send_at in the past (one second apart, the lowest ids the earliest),
      `later` pending ones spread over the next 7 days, and `history` settled ones spread over the 2
      years before `now` (70 % delivered, 10 % sent, 10 % cancelled, 5 % expired, 5 % failed,
      undelivered or suppressed; a Twilio sid on those that went). Kinds rotate over REMINDER_KINDS.
      Reminder g belongs to session ((g - 1) mod `sessions`) + 1: with history, a session carries many.
    Rows go in with session_replication_role = replica (the foreign keys hold by construction, so the
    per-row RI triggers are skipped); the chair-overlap exclusion constraint still checks every session.
    """
    base = {table: raw.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
            for table in ("patients", "courses", "sessions", "reminders")}
    raw.execute("SET session_replication_role = replica")
    raw.execute(
        "INSERT INTO patients (id, first_name, last_name, date_of_birth, phone, language, sms_consent, "
        "                      sms_opted_out) "
        "SELECT %(b)s + g, (%(names)s::text[])[1 + g %% %(n)s], 'Patient ' || g, DATE '1980-01-01', "
        "       '+1714555' || lpad((g %% 10000)::text, 4, '0'), CASE WHEN g %% 5 = 1 THEN 'es' ELSE 'en' END, "
        "       %(consent_every)s = 0 OR g %% %(consent_every)s <> 0, false "
        "FROM generate_series(1, %(count)s) g",
        {"b": base["patients"], "names": list(BENCH_FIRST_NAMES), "n": len(BENCH_FIRST_NAMES),
         "consent_every": consent_every, "count": sessions})
    raw.execute(
        "INSERT INTO courses (id, patient_id, site_id, protocol_id, status, start_date, preferred_time) "
        "SELECT %(c)s + g, %(p)s + g, c.site_id, 'tms-10hz-standard', 'active', DATE '2026-11-30', TIME '08:00' "
        "FROM generate_series(1, %(count)s) g "
        "JOIN chairs c ON c.id = (%(chairs)s::int[])[1 + (g - 1) %% %(n)s]",
        {"c": base["courses"], "p": base["patients"], "chairs": chair_ids, "n": len(chair_ids), "count": sessions})
    raw.execute(
        "INSERT INTO sessions (id, course_id, number, kind, status, site_id, chair_id, starts_at, ends_at) "
        "SELECT %(s)s + g, %(c)s + g, 1, CASE WHEN g %% 5 = 0 THEN 'mapping' ELSE 'treatment' END, 'scheduled', "
        "       c.site_id, c.id, t.starts_at, t.starts_at + interval '45 minutes' "
        "FROM generate_series(1, %(count)s) g "
        "JOIN chairs c ON c.id = (%(chairs)s::int[])[1 + (g - 1) %% %(n)s] "
        "CROSS JOIN LATERAL (SELECT (DATE '2026-11-30' + ((g - 1) / %(n)s) / 10 "
        "                           + make_time(8 + ((g - 1) / %(n)s) %% 10, 0, 0)) "
        "                           AT TIME ZONE 'America/Los_Angeles' AS starts_at) t",
        {"s": base["sessions"], "c": base["courses"], "chairs": chair_ids, "n": len(chair_ids), "count": sessions})
    total = due + later + history
    if total:
        raw.execute(
            "INSERT INTO reminders (id, patient_id, site_id, course_id, session_id, kind, minutes_before, due_at, "
            "                       send_at, status, attempts, twilio_sid, error_code, sent_at, created_at, "
            "                       updated_at) "
            "SELECT %(r)s + g, %(p)s + k, s.site_id, %(c)s + k, %(s)s + k, (%(kinds)s::text[])[1 + g %% 5], 1440, "
            "       w.send_at, w.send_at, w.status, CASE WHEN w.status = 'pending' THEN 0 ELSE 1 END, "
            "       CASE WHEN w.status IN ('sent', 'delivered', 'undelivered', 'failed') "
            "            THEN 'SM' || md5(g::text) END, "
            "       CASE WHEN w.status IN ('undelivered', 'failed') THEN 30003 END, "
            "       CASE WHEN w.status IN ('sent', 'delivered', 'undelivered') THEN w.send_at END, "
            "       w.send_at - interval '2 days', w.send_at "
            "FROM generate_series(1, %(total)s) g "
            "CROSS JOIN LATERAL (SELECT (g - 1) %% %(count)s + 1 AS k) kk "
            "JOIN sessions s ON s.id = %(s)s + k "
            "CROSS JOIN LATERAL (SELECT "
            "  CASE WHEN g <= %(due)s THEN %(now)s - (%(due)s + 1 - g) * interval '1 second' "
            "       WHEN g <= %(due)s + %(later)s THEN %(now)s + (g - %(due)s) * (interval '7 days' / %(later1)s) "
            "       ELSE %(now)s - interval '730 days' "
            "            + (g - %(due)s - %(later)s) * (interval '729 days' / %(history1)s) END AS send_at, "
            "  CASE WHEN g <= %(due)s + %(later)s THEN 'pending' WHEN g %% 20 < 14 THEN 'delivered' "
            "       WHEN g %% 20 < 16 THEN 'sent' WHEN g %% 20 < 18 THEN 'cancelled' WHEN g %% 20 = 18 THEN 'expired' "
            "       ELSE (ARRAY['failed', 'undelivered', 'suppressed'])[1 + (g / 20) %% 3] END AS status) w",
            {"r": base["reminders"], "p": base["patients"], "c": base["courses"], "s": base["sessions"],
             "kinds": list(REMINDER_KINDS), "count": sessions, "total": total, "due": due, "later": later,
             "later1": max(later, 1), "history1": max(history, 1), "now": now})
    raw.execute("SET session_replication_role = DEFAULT")
    for table in ("patients", "courses", "sessions", "reminders"):
        raw.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
    raw.commit()
