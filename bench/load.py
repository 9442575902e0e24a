"""Mixed front-desk, technician and clinician traffic against gunicorn, at 10, 50 and 200 concurrent users.

    .venv/bin/python bench/load.py [--seconds 20] [--users 10 50 200] [--with-writes] [--sqlite | --both]
                                   [--courses 40] [--workers N] [--threads N] [--client-processes 2]

Issue 10, items 2 and 6: throughput and p50/p95/p99 per endpoint beside the floor (GET /healthz on the same
gunicorn, at the same concurrency, in the same run).
  * A throw-away database: PostgreSQL (TMS_BENCH_POSTGRES, see _common.py; database tms_bench_load, dropped at
    the end) or, with --sqlite, a temporary SQLite file; migrated with the real Alembic migrations.
  * Data as bench/pages.py builds it (its functions): seed_demo + services.demo_history.seed_history (about 30
    patients mid-course at both sites), then --courses patients with a course each booked over the coming month
    (book_month). The clock of the seeding is the real one, as gunicorn's is (wsgi.py takes no fixed clock), so
    "today" is today for both.
  * gunicorn as production starts it: `gunicorn --config config/gunicorn.conf.py wsgi:app` in its own session,
    on a free port, with the environment the integration tests give it (DATABASE_URL, TMS_ENV=test,
    SECRET_KEY; workers and threads as the conf says unless --workers / --threads), its output to a temporary
    file (the access log is on, as the conf sets it).
  * Each role signs in once through the API (POST /api/v1/auth/tokens); every user of that role uses the token.
  * Users are closed-loop (no think time): each holds one keep-alive HTTP/1.1 connection and sends its next
    request as soon as the answer is read. Users are asyncio tasks spread over --client-processes processes
    (forked), so the client's own CPU is reported beside the figures (2 cores: the client competes with the
    server; the floor especially is partly the client's limit).
  * For each number of users: first the floor, GET /healthz alone, then the mix, each for --seconds after a
    --warmup (not counted). Users rotate over the roles front desk, front desk, technician, clinician; each
    request is drawn by weight from its role's list (MIX below). URLs are drawn from lists checked once (200)
    before the runs.
  * --with-writes: the front desk books a course now and then (POST /api/v1/courses for a patient of a
    pre-made pool, a random weekday of the next two months); 409 / 422 (no chair, closed day) count as
    refusals, not errors.
  * Per endpoint: requests, throughput/s, p50/p95/p99 ms, errors (5xx, an unexpected status, a broken
    connection). Then the mix's throughput as % of the floor and the goal lines, met or missed.
  * CPU a request: gunicorn's (master + workers) and the PostgreSQL backends' of this database, from /proc,
    over the requests answered; other tenants of a shared machine are not in it. After the levels, the
    cost phase (--cost-seconds, 0: none): each endpoint alone from 1 user, its latency without a queue and
    its CPU a request, weighted by its share of the mix: which endpoints dominate.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time as clock
import urllib.parse
from collections import defaultdict
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pages  # its data: book_month, weekdays, backend
from _common import DEMO_PASSWORDS, ROOT, FixedClock, libpq_url, migrated_database, timed
from sqlalchemy import insert, text

from tms_scheduler.app import create_app
from tms_scheduler.db import models
from tms_scheduler.services.demo_history import seed_history
from tms_scheduler.settings import Settings

DATABASE = "tms_bench_load"
ZONE = ZoneInfo("America/Los_Angeles")
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
SECRET = "bench-load-secret-0123456789abcdef"
SITES = ("fullerton", "laguna-hills")
ROLES = ("front_desk", "front_desk", "technician", "clinician")  # user i has ROLES[i % 4]
# role -> (endpoint, weight); the endpoint names the URL list it draws from.
MIX = {
    "front_desk": [("day board", 4), ("patient search", 3), ("course", 3), ("availability", 1),
                   ("next starts", 1), ("booking", 0.5)],
    "technician": [("day board", 3), ("session", 3)],
    "clinician": [("progress", 3), ("worklist", 2), ("course", 2)],
}
# Who asks each list's URLs when they are checked and in the cost phase.
ASKER = {"day board": "front_desk", "technician board": "technician", "patient search": "front_desk",
         "course": "front_desk", "availability": "front_desk", "next starts": "front_desk",
         "session": "technician", "progress": "clinician", "worklist": "clinician"}
PATIENT_POOL = 2000  # patients without a course, for --with-writes
GOAL_FLOOR_SHARE = 25.0  # % of the floor's throughput, mixed reads at 10 users
GOAL_P95_MS = 100.0  # mixed p95 at 50 users
GOAL_SQLITE_P95 = 1.5  # SQLite p95 / PostgreSQL p95 at 10 users


# --- the data --------------------------------------------------------------------------------------

def build_data(url: str, courses: int, with_writes: bool, is_sqlite: bool) -> dict:
    """Seeds the database at `url` as bench/pages.py does, on the real clock; the URLs the load draws from."""
    now = datetime.now(UTC).replace(microsecond=0)
    today = now.astimezone(ZONE).date()
    pages.TODAY, pages.MONTH_END = today, today + timedelta(days=30)  # book_month's month: the coming one
    app = create_app(Settings(database_url=url, env="test", secret_key=SECRET), clock=FixedClock(now))
    rt = app.extensions["tms"].runtime
    engine = app.extensions["tms"].engine
    history: dict = {}
    took = timed(lambda: history.update(lines=seed_history(rt, env="test")))
    print(f"seed_demo + seed_history: {took:.1f} s; " + "; ".join(history["lines"][:3]))
    month: dict = {}
    took = timed(lambda: month.update(pages.book_month(rt, courses)))
    print(f"booked {month['booked']} of {courses} courses over {today + timedelta(days=1)} ... {pages.MONTH_END} "
          f"in {took:.1f} s ({month['tries']} tries)")
    pool: list[int] = []
    if with_writes:
        with engine.begin() as conn:
            conn.execute(insert(models.Patient), [
                {"first_name": "Load", "last_name": f"Walk-in {i:04d}", "date_of_birth": date(1970 + i % 30, 1, 1),
                 "phone": f"+1949555{i:04d}", "language": "en", "sms_consent": i % 2 == 0}
                for i in range(PATIENT_POOL)])
            pool = list(conn.execute(text("SELECT id FROM patients WHERE first_name = 'Load' ORDER BY id"))
                        .scalars())
    if not is_sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("patients", "courses", "sessions", "assessments", "reminders", "audit_events")}
        course_ids = list(conn.execute(text("SELECT id FROM courses ORDER BY id")).scalars())
        active = list(conn.execute(text("SELECT id FROM courses WHERE status = 'active' ORDER BY id")).scalars())
        active_by_site = dict(conn.execute(text(
            "SELECT site_id, count(*) FROM courses WHERE status = 'active' GROUP BY site_id")).all())
        names = list(conn.execute(text("SELECT DISTINCT lower(substr(last_name, 1, 3)) FROM patients "
                                       "WHERE first_name <> 'Load'")).scalars())
        phones = list(conn.execute(text("SELECT phone FROM patients WHERE first_name <> 'Load' "
                                        "ORDER BY id LIMIT 10")).scalars())
        # The technician's day: today, or the next day with sessions at Fullerton.
        sessions_ahead = conn.execute(text(
            "SELECT id, site_id, starts_at FROM sessions WHERE status <> 'cancelled' AND starts_at >= :start "
            "ORDER BY starts_at, id"), {"start": datetime.combine(today, datetime.min.time(), ZONE)}).all()
    engine.dispose()
    print("rows: " + ", ".join(f"{t} {n}" for t, n in counts.items())
          + f"; active courses {dict(active_by_site)}")

    def local_day(value) -> date:
        value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(ZONE).date()

    chair_day = min(local_day(s.starts_at) for s in sessions_ahead)
    day_sessions = [s.id for s in sessions_ahead if local_day(s.starts_at) == chair_day]
    board_days = pages.weekdays(today, today + timedelta(days=14))
    later = pages.weekdays(today + timedelta(days=1), today + timedelta(days=60))
    q = urllib.parse.quote
    urls = {
        "day board": [f"/api/v1/sites/{s}/schedule?date={d.isoformat()}" for s in SITES for d in board_days],
        "technician board": [f"/api/v1/sites/{s}/schedule?date={chair_day.isoformat()}" for s in SITES],
        "patient search": [f"/api/v1/patients?q={q(n)}" for n in names] + [f"/api/v1/patients?q={q(p)}"
                                                                             for p in phones],
        "course": [f"/api/v1/courses/{c}" for c in course_ids],
        "availability": [f"/api/v1/sites/{s}/availability?protocol_id=tms-10hz-standard&start_date={d.isoformat()}"
                         for s in SITES for d in later[:10]],
        "next starts": [f"/api/v1/availability?protocol_id=tms-10hz-standard&from_date={d.isoformat()}"
                        f"&time=09:00&site_id={s}" for s in SITES for d in later[:5]],
        "session": [f"/api/v1/sessions/{s}" for s in day_sessions],
        "progress": [f"/api/v1/courses/{c}/progress" for c in active],
        "worklist": [f"/api/v1/sites/{s}/worklist" for s in SITES],
    }
    bookings = [{"site_id": SITES[i % 2], "protocol_id": ("tms-10hz-standard", "itbs")[i // 2 % 2],
                 "start_date": later[(i * 7) % len(later)].isoformat(),
                 "preferred_time": f"{8 + i % 9:02d}:{(0, 15, 30, 45)[i % 4]:02d}"} for i in range(len(pool))]
    return {"urls": urls, "pool": pool, "bookings": bookings, "counts": counts, "active": active_by_site,
            "chair_day": chair_day, "today": today}




# --- gunicorn --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(url: str, workers: int | None, threads: int | None, folder: Path):
    """`gunicorn --config config/gunicorn.conf.py wsgi:app` on a free port; (port, pid, log path)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "TMS_ENV", "SMS_BACKEND", "WEB_CONCURRENCY",
                        "GUNICORN_THREADS") and not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=url, TMS_ENV="test", SECRET_KEY=SECRET, SMS_BACKEND="log",
               GUNICORN_BIND=f"127.0.0.1:{port}", XDG_RUNTIME_DIR=str(folder))
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    if threads:
        env["GUNICORN_THREADS"] = str(threads)
    log = folder / "gunicorn.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = clock.monotonic() + 60
        while True:
            if process.poll() is not None:
                sys.exit(f"gunicorn exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            if clock.monotonic() > deadline:
                sys.exit(f"gunicorn not answering in 60 s:\n{log.read_text()[-3000:]}")
            with suppress(OSError):
                if request_once(port, "GET", "/healthz")[0] == 200:
                    break
            clock.sleep(0.2)
        yield port, process.pid, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # its own session: gunicorn and its workers
                process.wait(timeout=10)


def request_once(port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, raw
    finally:
        conn.close()


def server_cpu_seconds(pid: int, database: str | None) -> tuple[float, float]:
    """CPU seconds so far of gunicorn's master and workers, and of the PostgreSQL backends serving `database`
    (their process title names it); Linux /proc, 0 elsewhere. Other tenants' processes are not counted, so
    CPU per request is a figure the shared machine's load disturbs far less than latency."""
    web = db = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    with suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                used = (int(fields[11]) + int(fields[12])) / tick
                if int(entry) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
                    web += used
                elif database and stat[stat.index("(") + 1:stat.rindex(")")] == "postgres":
                    title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    if f" {database} " in title:
                        db += used
    return web, db


# --- the load --------------------------------------------------------------------------------------

@dataclass
class Plan:
    port: int
    users: list[int]  # the global index of each user of this process
    warmup: float
    seconds: float
    floor: bool
    tokens: dict[str, str]
    urls: dict[str, list[str]]
    bookings: list[tuple[int, dict]] = field(default_factory=list)  # (patient id, body) this process may book
    seed: int = 0
    only: str | None = None  # one endpoint alone (the cost phase), asked as ASKER[only]


class Connection:
    """One keep-alive HTTP/1.1 connection, asyncio streams; reconnects when the server closed it."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, token: str | None, body: bytes | None) -> int:
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: application/json\r\n"
            if token:
                head += f"Authorization: Bearer {token}\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            try:
                self.writer.write(head.encode() + b"\r\n" + (body or b""))
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                self.close()
                # A keep-alive connection the server closed meanwhile: a GET is sent again once, a POST never.
                if attempt or method != "GET" or not isinstance(exc, (ConnectionResetError,
                                                                       asyncio.IncompleteReadError)):
                    raise
        raise ConnectionError("unreachable")

    async def _read(self) -> int:
        assert self.reader is not None
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip().lower()
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_user(plan: Plan, user: int, start: float, samples: list, bookings: list) -> None:
    rng = random.Random(plan.seed * 100_003 + user)
    role = ASKER[plan.only] if plan.only else ROLES[user % len(ROLES)]
    token = plan.tokens[role]
    names, weights = zip(*MIX[role], strict=True)
    if not bookings:  # no writes: the booking's weight is left out
        names, weights = zip(*[(n, w) for n, w in MIX[role] if n != "booking"], strict=True)
    conn = Connection(plan.port)
    end_warmup, end = start + plan.warmup, start + plan.warmup + plan.seconds
    await asyncio.sleep(rng.random() * 0.05)  # not all at once
    try:
        while True:
            now = clock.perf_counter()
            if now >= end:
                return
            method, body, ok = "GET", None, (200,)
            if plan.floor:
                endpoint, path = "healthz", "/healthz"
            elif plan.only:
                endpoint, path = plan.only, rng.choice(plan.urls[plan.only])
            else:
                endpoint = rng.choices(names, weights)[0]
                if endpoint == "booking":
                    if not bookings:
                        continue
                    patient_id, booking = bookings.pop()
                    method, path, ok = "POST", "/api/v1/courses", (201, 409, 422)
                    body = json.dumps({**booking, "patient_id": patient_id}).encode()
                elif endpoint == "day board" and role == "technician":
                    path = rng.choice(plan.urls["technician board"])
                else:
                    path = rng.choice(plan.urls[endpoint])
            started = clock.perf_counter()
            try:
                status = await conn.request(method, path, token, body)
                kind = "ok" if status in ok and status < 300 else (f"refused {status}" if status in ok
                                                                   else f"http {status}")
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn.close()
                kind = f"broken: {exc.__class__.__name__}"
            finished = clock.perf_counter()
            if started >= end_warmup and finished <= end:
                samples.append((endpoint, finished - started, kind))
    finally:
        conn.close()


def client_process(plan: Plan) -> tuple[list, float, list]:
    """Runs this process's users; (samples, client CPU seconds, the bookings not made)."""
    before = os.times()
    samples: list = []
    bookings = list(plan.bookings)

    async def main() -> None:
        start = clock.perf_counter()
        await asyncio.gather(*(run_user(plan, user, start, samples, bookings) for user in plan.users))

    asyncio.run(main())
    after = os.times()
    return samples, (after.user - before.user) + (after.system - before.system), bookings


@dataclass
class Result:
    users: int
    floor: bool
    seconds: float
    warmup: float
    samples: list
    client_cpu: float  # over warm-up + measured seconds, as the two below
    server_cpu: float
    db_cpu: float
    load: tuple[float, float]

    def cpu_ms_per_request(self) -> tuple[float, float]:
        """gunicorn's and PostgreSQL's CPU ms per request (warm-up and measured requests alike, by the rate)."""
        requests = len(self.samples) * (self.seconds + self.warmup) / self.seconds if self.samples else 1
        return 1000 * self.server_cpu / requests, 1000 * self.db_cpu / requests


def run_level(pool, port: int, pid: int, database: str | None, users: int, floor: bool, args, data: dict,
              tokens: dict, booked: list, only: str | None = None) -> Result:
    processes = 1 if only else max(1, min(args.client_processes, users))
    spread = [list(range(i, users, processes)) for i in range(processes)]
    plans = []
    for i, mine in enumerate(spread):
        share = [] if floor or not args.with_writes else booked[i::processes]
        plans.append(Plan(port=port, users=mine, warmup=args.warmup, seconds=args.seconds, floor=floor,
                          tokens=tokens, urls=data["urls"], bookings=share, seed=users * 2 + floor, only=only))
    if only:
        plans[0].seconds, plans[0].warmup = args.cost_seconds, 0.5
    load_before = os.getloadavg()[0]
    web_before, db_before = server_cpu_seconds(pid, database)
    answers = pool.map(client_process, plans)
    web_after, db_after = server_cpu_seconds(pid, database)
    samples = [s for got, _, _ in answers for s in got]
    if not floor and not only and args.with_writes:  # the patients booked are not offered again
        booked[:] = [b for _, _, left in answers for b in left]
    return Result(users, floor, plans[0].seconds, plans[0].warmup, samples, sum(cpu for _, cpu, _ in answers),
                  web_after - web_before, db_after - db_before, (load_before, os.getloadavg()[0]))


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] * 1000 if ordered else float("nan")


@dataclass
class Row:
    name: str
    n: int
    rate: float
    p50: float
    p95: float
    p99: float
    errors: int
    refused: int
    error_kinds: dict


def rows_of(result: Result) -> list[Row]:
    grouped: dict[str, list] = defaultdict(list)
    for endpoint, latency, kind in result.samples:
        grouped[endpoint].append((latency, kind))
    grouped["all"] = [(latency, kind) for _, latency, kind in result.samples]
    out = []
    for name in sorted(grouped, key=lambda n: (n == "all", -len(grouped[n]))):
        items = grouped[name]
        ordered = sorted(latency for latency, _ in items)
        kinds = defaultdict(int)
        for _, kind in items:
            kinds[kind] += 1
        refused = {k: n for k, n in kinds.items() if k.startswith("refused")}
        errors = sum(n for k, n in kinds.items() if k != "ok" and k not in refused)
        out.append(Row(name, len(items), len(items) / result.seconds, percentile(ordered, 0.5),
                       percentile(ordered, 0.95), percentile(ordered, 0.99), errors, sum(refused.values()),
                       {k: n for k, n in kinds.items() if k != "ok"}))
    return out


def print_level(backend: str, floor: Result, mixed: Result) -> tuple[Row, Row]:
    floor_all = rows_of(floor)[-1]
    rows = rows_of(mixed)
    mix_all = rows[-1]
    print(f"\n## {backend}, {mixed.users} users: floor {floor_all.rate:,.0f}/s (load {floor.load[0]:.2f} -> "
          f"{floor.load[1]:.2f}), mix {mix_all.rate:,.0f}/s (load {mixed.load[0]:.2f} -> {mixed.load[1]:.2f})")
    print(f"{'endpoint':16} {'requests':>9} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
          f" {'share %':>8}")

    def line(row: Row, label: str | None = None) -> None:
        share = 100 * row.n / max(mix_all.n, 1)
        extra = f"  {row.error_kinds}" if row.error_kinds else ""
        shown = f"{share:>8.1f}" if label is None else " " * 8
        print(f"{label or row.name:16} {row.n:>9} {row.rate:>8.1f} {row.p50:>8.1f} {row.p95:>8.1f} {row.p99:>8.1f}"
              f" {row.errors:>7} {shown}{extra}")

    line(floor_all, "floor /healthz")
    for row in rows:
        line(row, "mix, all" if row.name == "all" else None)
    (fw, fd), (mw, md) = floor.cpu_ms_per_request(), mixed.cpu_ms_per_request()
    print(f"mix / floor: {100 * mix_all.rate / floor_all.rate:.1f} % of the floor's throughput. CPU s over "
          f"{mixed.seconds + mixed.warmup:.0f} s, floor / mix: client {floor.client_cpu:.1f} / {mixed.client_cpu:.1f}, "
          f"gunicorn "
          f"{floor.server_cpu:.1f} / {mixed.server_cpu:.1f}, PostgreSQL {floor.db_cpu:.1f} / {mixed.db_cpu:.1f}; "
          f"CPU ms a request (gunicorn + PostgreSQL): floor {fw:.2f} + {fd:.2f}, mix {mw:.2f} + {md:.2f}: "
          f"floor / mix {100 * (fw + fd) / max(mw + md, 1e-9):.1f} %")
    return floor_all, mix_all


def cost_phase(pool, port: int, pid: int, database: str | None, args, data: dict, tokens: dict,
               results: dict) -> None:
    """Each endpoint alone from one user for --cost-seconds: its latency with no queue, and the CPU it costs
    (gunicorn + PostgreSQL, ms a request), times its share of the mix's requests: what dominates the mix."""
    measured = max(results) if results else None
    shares = {}
    if measured is not None:
        mix_rows = results[min(results)][2]
        total = sum(r.n for r in mix_rows if r.name != "all")
        shares = {r.name: r.n / total for r in mix_rows if r.name != "all"}
    print(f"\n## {'sqlite' if database is None else 'postgresql'}, each endpoint alone (1 user, "
          f"{args.cost_seconds:g} s): latency and CPU a request")
    print(f"{'endpoint':16} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms web':>11} {'CPU ms db':>10} "
          f"{'mix share %':>12} {'of mix CPU %':>13}")
    costs = {}
    names = ["healthz", *[n for n in ASKER if n != "technician board"]]
    for name in names:
        result = run_level(pool, port, pid, database, 1, name == "healthz", args, data, tokens, [],
                           only=None if name == "healthz" else name)
        row = rows_of(result)[-1]
        web, db = result.cpu_ms_per_request()
        costs[name] = (row, web, db)
    weighted = {n: shares.get(n, 0) * (w + d) for n, (_, w, d) in costs.items()}
    total_cpu = sum(weighted.values()) or 1
    for name, (row, web, db) in costs.items():
        share = f"{100 * shares[name]:>12.1f} {100 * weighted[name] / total_cpu:>13.1f}" if name in shares else ""
        print(f"{name:16} {row.n:>9} {row.p50:>8.1f} {row.p95:>8.1f} {web:>11.2f} {db:>10.2f} {share}")
    mix_cpu = sum(weighted.values())
    floor_cpu = costs["healthz"][1] + costs["healthz"][2]
    print(f"the mix's CPU a request by these costs: {mix_cpu:.2f} ms; /healthz {floor_cpu:.2f} ms; were both "
          f"CPU-bound on the same cores, the mix would reach {100 * floor_cpu / max(mix_cpu, 1e-9):.1f} % of the "
          f"floor (the goal's 25 % needs the mix at <= {4 * floor_cpu:.2f} ms a request)")


def sign_in(port: int) -> dict[str, str]:
    tokens = {}
    for role in set(ROLES):
        username, password = DEMO_PASSWORDS[role]
        status, raw = request_once(port, "POST", "/api/v1/auth/tokens", {"username": username, "password": password})
        assert status == 201, (role, status, raw[:300])
        tokens[role] = json.loads(raw)["token"]
    return tokens


def check_urls(port: int, tokens: dict, urls: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each URL once as the role that asks it; those not answering 200 are left out (and named)."""
    asker = ASKER
    kept = {}
    for name, paths in urls.items():
        good = []
        for path in paths:
            status, raw = request_once(port, "GET", path, token=tokens[asker[name]])
            if status == 200:
                good.append(path)
            else:
                print(f"  left out: {name} {path} -> {status} {raw[:120]!r}")
        if not good:
            sys.exit(f"no URL of {name} answers 200")
        kept[name] = good
    return kept


def run_backend(backend: str, args) -> dict[int, tuple]:
    use_sqlite = backend == "sqlite"
    print(f"\n# {backend}")
    with ExitStack() as stack:
        url = stack.enter_context(migrated_database(use_sqlite, DATABASE))
        data = build_data(url, args.courses, args.with_writes, use_sqlite)
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tms-bench-load-")))
        port, pid, log = stack.enter_context(gunicorn(url, args.workers, args.threads, folder))
        conf = log.read_text()
        workers = sum(1 for line in conf.splitlines() if "Booting worker" in line)
        tokens = sign_in(port)
        urls = check_urls(port, tokens, data["urls"])
        data["urls"] = urls
        print(f"gunicorn on 127.0.0.1:{port}: {workers} workers x "
              f"{args.threads or os.environ.get('GUNICORN_THREADS', '4 (conf)')} threads "
              f"({'--workers' if args.workers else 'config/gunicorn.conf.py'}); technician's day {data['chair_day']}; "
              f"URLs: " + ", ".join(f"{k} {len(v)}" for k, v in urls.items()))
        booked = list(zip(data["pool"], data["bookings"], strict=True))
        results = {}
        context = multiprocessing.get_context("fork")
        with context.Pool(max(1, args.client_processes)) as pool:
            for users in args.users:
                db_name = None if use_sqlite else DATABASE
                floor = run_level(pool, port, pid, db_name, users, True, args, data, tokens, booked)
                mixed = run_level(pool, port, pid, db_name, users, False, args, data, tokens, booked)
                floor_all, mix_all = print_level(backend, floor, mixed)
                results[users] = (floor_all, mix_all, rows_of(mixed), floor, mixed)
            if args.cost_seconds > 0:
                cost_phase(pool, port, pid, db_name, args, data, tokens, results)
        errors = [line for line in log.read_text().splitlines() if '"level": "ERROR"' in line][:5]
        if errors:
            print("gunicorn logged errors, the first:\n  " + "\n  ".join(e[:300] for e in errors))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    where.add_argument("--both", action="store_true", help="PostgreSQL, then SQLite; SQLite's p95 / PostgreSQL's")
    parser.add_argument("--seconds", type=float, default=20, help="measured seconds of each run (floor, mix)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each run, not counted")
    parser.add_argument("--users", type=int, nargs="+", default=[10, 50, 200], help="concurrent users")
    parser.add_argument("--with-writes", action="store_true", help="the front desk books a course now and then")
    parser.add_argument("--courses", type=int, default=40, help="courses booked over the coming month (pages.py)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the conf's, WEB_CONCURRENCY or 2)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: the conf's, GUNICORN_THREADS or 4)")
    parser.add_argument("--cost-seconds", type=float, default=3,
                        help="after the levels, each endpoint alone from 1 user for this long (0: not)")
    parser.add_argument("--client-processes", type=int, default=2, help="processes the users are spread over")
    args = parser.parse_args()
    if not GUNICORN.exists():
        sys.exit(f"{GUNICORN} is missing; run `python3 dev.py test` to create it")

    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    backends = ["postgresql", "sqlite"] if args.both else ["sqlite"] if args.sqlite else ["postgresql"]
    servers = []
    if "postgresql" in backends:
        import psycopg

        with psycopg.connect(libpq_url("postgres")) as conn:
            servers.append(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}")
    if "sqlite" in backends:
        servers.append(f"SQLite {sqlite3.sqlite_version}")
    print("# load: mixed front-desk, technician and clinician traffic against gunicorn")
    print(f"reproduce: cd {ROOT} && {command}")
    print(f"python {platform.python_version()}, {', '.join(servers)}, {os.cpu_count()} CPUs, load average at start "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
          f"{args.seconds:g} s per run after {args.warmup:g} s warm-up; {args.client_processes} client processes"
          f"{'; with bookings' if args.with_writes else '; reads only'}")

    results = {backend: run_backend(backend, args) for backend in backends}

    print("\n# summary")
    print(f"{'backend':11} {'users':>5} {'floor/s':>8} {'mix/s':>7} {'% floor':>8} {'mix p50':>8} {'mix p95':>8} "
          f"{'mix p99':>8} {'errors':>7}")
    for backend, levels in results.items():
        for users, (floor_all, mix_all, *_) in levels.items():
            print(f"{backend:11} {users:>5} {floor_all.rate:>8.0f} {mix_all.rate:>7.0f} "
                  f"{100 * mix_all.rate / floor_all.rate:>7.1f}% {mix_all.p50:>8.1f} {mix_all.p95:>8.1f} "
                  f"{mix_all.p99:>8.1f} {mix_all.errors:>7}")
    print("\n# goals (issue 10, item 2)")
    for backend, levels in results.items():
        if 10 in levels:
            floor_all, mix_all, *_ = levels[10]
            share = 100 * mix_all.rate / floor_all.rate
            print(f"{backend}: mixed reads at 10 users {share:.1f} % of the floor (goal >= {GOAL_FLOOR_SHARE:.0f} %): "
                  f"{'met' if share >= GOAL_FLOOR_SHARE else 'missed'}")
        if 50 in levels:
            p95 = levels[50][1].p95
            print(f"{backend}: mixed p95 at 50 users {p95:.1f} ms (goal < {GOAL_P95_MS:.0f} ms): "
                  f"{'met' if p95 < GOAL_P95_MS else 'missed'}")
        if 10 in levels:
            worklist = next((r for r in levels[10][2] if r.name == "worklist"), None)
            if worklist:
                print(f"{backend}: (info) worklist at 10 users p50 {worklist.p50:.1f} ms, p95 {worklist.p95:.1f} ms "
                      f"over the demo's active courses (not the goal's 1,000: bench/progress.py --courses 1000)")
    if len(results) == 2 and all(10 in levels for levels in results.values()):
        ratio = results["sqlite"][10][1].p95 / results["postgresql"][10][1].p95
        print(f"SQLite / PostgreSQL mixed p95 at 10 users: {results['sqlite'][10][1].p95:.1f} / "
              f"{results['postgresql'][10][1].p95:.1f} ms = {ratio:.2f}x (goal <= {GOAL_SQLITE_P95}x): "
              f"{'met' if ratio <= GOAL_SQLITE_P95 else 'missed'}")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
