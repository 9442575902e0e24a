"""Every role's main server-rendered pages with the demo clinic, its history and a month of booked courses.

    .venv/bin/python bench/pages.py [--sqlite] [--repeat 30] [--courses 40] [--profile [PAGE ...]]

The issue's claim: "Pages answer in under 100 ms here with the demo clinic and a month of booked courses."
  * The app is built as the tests build it, on a clock fixed at Tuesday 2026-12-01 17:00 UTC (09:00 in
    Los Angeles, the clock of tests/conftest.py), over a throw-away PostgreSQL database (TMS_BENCH_POSTGRES,
    see _common.py), or with --sqlite over a temporary SQLite file (migrated the same way).
  * seed_demo, then services.demo_history.seed_history: about 30 patients mid-course at both TMS sites,
    replayed through the use cases (treatment records, no-shows, make-ups, PHQ-9, texts, a closure ahead).
  * Then --courses more patients (services.patients.create_patient) and a course each through
    services.booking.book_course, starting on the weekdays of the coming month (2026-12-02 ... 2026-12-31),
    protocols rotating (10 Hz standard x2, iTBS, deep TMS at Fullerton; standard, iTBS at Laguna Hills),
    preferred times rotating; the next time is tried when one does not fit, the next day when none does.
    One more patient, with no course, is the booking page's.
  * Each role signs in through the /sign-in form (its csrf_token from the GET) with Flask's test client,
    so the session cookie, the token check, the role check and the template are all inside the timed part.
  * Each round times every page once, each right after a GET /healthz (the baseline: the same client,
    Flask and Werkzeug, no database, no template), so the shared machine's noise falls on both alike.
    Median and p95 per page, its ratio to the /healthz median, the statements it sends (counted once),
    and the pages whose median is over 100 ms marked.
  * --profile: cProfile over 10 requests of each page over 100 ms (or of the pages named), with the
    statements the page sends, grouped.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sqlite3
import sys
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEMO_PASSWORDS,
    ROOT,
    FixedClock,
    StatementCounter,
    libpq_url,
    migrated_database,
    ms,
    profile_top,
    timed,
)
from sqlalchemy import select, text

from tms_scheduler.app import create_app
from tms_scheduler.db import models
from tms_scheduler.domain.errors import BookingConflict, DomainError
from tms_scheduler.services import attendance, booking
from tms_scheduler.services import patients as patient_service
from tms_scheduler.services.actor import Actor
from tms_scheduler.services.demo_history import seed_history
from tms_scheduler.settings import Settings

DATABASE = "tms_bench_pages"
NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # Tuesday, 09:00 in Los Angeles
TODAY = date(2026, 12, 1)
MONTH_END = date(2026, 12, 31)
ZONE = ZoneInfo("America/Los_Angeles")
LIMIT_MS = 100.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMES = [time(h, m) for h in range(7, 18) for m in (0, 30)]
# (site, protocol) in rotation: Fullerton has 2 figure-8 chairs and an H1, Laguna Hills 2 figure-8.
PLANS = [("fullerton", "tms-10hz-standard"), ("laguna-hills", "tms-10hz-standard"), ("fullerton", "itbs"),
         ("fullerton", "deep-tms-h1"), ("fullerton", "tms-10hz-standard"), ("laguna-hills", "itbs")]
FIRST_NAMES = ("Aurora", "Benedict", "Carmen", "Desmond", "Esther", "Fabian", "Gloria", "Hector", "Iris", "Julian")


def weekdays(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)
            if (first + timedelta(days=i)).isoweekday() <= 5]


def front_desk_actor(rt) -> Actor:
    with rt.transaction() as db:
        user_id = db.execute(text("SELECT id FROM users WHERE username = 'frontdesk'")).scalar_one()
    return Actor(user_id, "front_desk", username="frontdesk", request_id="bench-pages")


def book_month(rt, count: int) -> dict:
    """`count` new patients, each with a course starting on a weekday of the coming month."""
    actor = front_desk_actor(rt)
    days = weekdays(TODAY + timedelta(days=1), MONTH_END)
    booked, tries, refused = 0, 0, Counter()
    for i in range(count):
        site_id, protocol_id = PLANS[i % len(PLANS)]
        patient = patient_service.create_patient(rt, {
            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)], "last_name": f"Benchmark {i + 1:02d}",
            "date_of_birth": date(1960 + i % 40, 1 + i % 12, 1 + i % 28), "phone": f"+1714555{3000 + i:04d}",
            "language": "es" if i % 5 == 1 else "en", "sms_consent": i % 4 != 0, "another_person": True}, actor)
        start = days[i * len(days) // count]
        done = False
        for shift in range(20):
            day = start + timedelta(days=shift)
            for k in range(len(TIMES)):
                at = TIMES[(i * 5 + k) % len(TIMES)]
                tries += 1
                try:
                    booking.book_course(rt, booking.BookingRequest(
                        patient_id=patient.id, site_id=site_id, protocol_id=protocol_id, start_date=day,
                        preferred_time=at), actor)
                except BookingConflict:
                    refused["chair taken at that time"] += 1
                    continue
                except DomainError as exc:  # the day is closed, or the like: the next day
                    refused[exc.message[:60]] += 1
                    break
                done = True
                break
            if done:
                break
        booked += done
    walk_in = patient_service.create_patient(rt, {  # no course: the booking page's patient
        "first_name": "Walk", "last_name": "In", "date_of_birth": date(1975, 5, 5), "phone": "+17145552999",
        "language": "en", "sms_consent": True}, actor)
    return {"booked": booked, "tries": tries, "refused": dict(refused), "walk_in": walk_in.id}


class Browser:
    """Flask's test client signed in through the sign-in form, as a browser would."""

    def __init__(self, app, role: str):
        self.client = app.test_client()
        username, password = DEMO_PASSWORDS[role]
        form = self.client.get("/sign-in")
        token = CSRF.search(form.get_data(as_text=True))
        assert form.status_code == 200 and token, form.status_code
        answer = self.client.post("/sign-in", data={"username": username, "password": password,
                                                    "csrf_token": token.group(1)})
        assert answer.status_code == 302, (role, answer.status_code, answer.get_data(as_text=True)[:300])
        self.home = answer.headers["Location"]

    def get(self, url: str):
        return self.client.get(url)


def pick(conn, sql: str, **params):
    row = conn.execute(text(sql), params).first()
    if row is None:
        sys.exit(f"nothing found for: {sql}")
    return row


def choose_pages(engine, free_patient: int) -> tuple[list[tuple[str, str, str]], dict]:
    """(name, role, url) of every page timed, and what was picked for them."""
    start, end = datetime(2026, 12, 2, 8, 0, tzinfo=UTC), datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
    with engine.connect() as conn:
        # The busiest day ahead at Fullerton (local days: UTC-8 in December).
        S = models.TreatmentSession
        sessions = conn.execute(select(S.starts_at).where(
            S.site_id == "fullerton", S.status != "cancelled", S.starts_at >= start, S.starts_at < end)).scalars().all()
        per_day = Counter(s.astimezone(ZONE).date() for s in sessions)
        busy_day, busy_count = per_day.most_common(1)[0]
        # A patient of the history with an active course at Fullerton and the most sessions completed.
        course_id, patient_id = pick(conn, (
            "SELECT c.id, p.id FROM courses c JOIN patients p ON p.id = c.patient_id "
            "JOIN sessions s ON s.course_id = c.id WHERE c.site_id = 'fullerton' AND c.status = 'active' "
            "GROUP BY c.id, p.id "
            "ORDER BY sum(CASE WHEN s.status = 'completed' THEN 1 ELSE 0 END) DESC, c.id LIMIT 1"))
        scores = conn.execute(text("SELECT count(*) FROM assessments WHERE course_id = :c"), {"c": course_id}).scalar()
        # Today's next session at Fullerton (checked in below), for the technician's record form.
        record_id = conn.execute(select(S.id).where(
            S.site_id == "fullerton", S.status.in_(("scheduled", "checked_in")), S.starts_at >= NOW,
            S.starts_at < datetime(2026, 12, 2, 8, tzinfo=UTC)).order_by(S.starts_at, S.id).limit(1)).scalar_one()
        # A patient with no active course, for the booking page (one of the new ones would have one).
    book_date = TODAY + timedelta(days=7)
    pages = [
        ("desk board today", "front_desk", "/desk/board?site=fullerton"),
        (f"desk board {busy_day}", "front_desk", f"/desk/board?site=fullerton&date={busy_day.isoformat()}"),
        ("desk board Laguna today", "front_desk", "/desk/board?site=laguna-hills"),
        ("desk patient search", "front_desk", "/desk/patients?q=bench"),
        ("desk patient page", "front_desk", f"/desk/patients/{patient_id}"),
        ("desk book + availability", "front_desk",
         f"/desk/book?patient={free_patient}&protocol=tms-10hz-standard&site=fullerton"
         f"&date={book_date.isoformat()}&time=09:00"),
        ("desk book (empty)", "front_desk", "/desk/book"),
        ("desk course page", "front_desk", f"/desk/courses/{course_id}"),
        ("desk callbacks", "front_desk", "/desk/callbacks?site=fullerton"),
        ("chair today", "technician", "/chair/today?site=fullerton"),
        ("chair record form", "technician", f"/chair/sessions/{record_id}/record"),
        ("clinic worklist Fullerton", "clinician", "/clinic/worklist?site=fullerton"),
        ("clinic worklist Laguna", "clinician", "/clinic/worklist?site=laguna-hills"),
        ("clinic course + chart", "clinician", f"/clinic/courses/{course_id}"),
        ("outcomes", "clinician", "/outcomes/"),
        ("admin sites", "admin", "/admin/sites"),
        ("admin site", "admin", "/admin/sites/fullerton"),
        ("admin chairs", "admin", "/admin/sites/fullerton/chairs"),
        ("admin closures", "admin", "/admin/sites/laguna-hills/closures"),
        ("admin reminder policy", "admin", "/admin/sites/fullerton/reminder-policy"),
        ("admin protocols", "admin", "/admin/protocols"),
        ("admin users", "admin", "/admin/users"),
    ]
    picked = {"busy_day": busy_day, "busy_sessions": busy_count, "course_id": course_id, "scores": scores,
              "patient_id": patient_id, "record_session": record_id, "free_patient": free_patient,
              "ahead": len(sessions)}
    return pages, picked




def print_header(use_sqlite: bool) -> None:
    command = " ".join(shlex.quote(a) for a in [".venv/bin/python", *sys.argv])
    if use_sqlite:
        server = f"SQLite {sqlite3.sqlite_version} (temporary file)"
    else:
        import psycopg

        with psycopg.connect(libpq_url("postgres")) as conn:
            server = f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}"
    print("# server-rendered pages, demo clinic + history + a month of booked courses")
    print(f"reproduce: cd {ROOT} && {command}")
    print(f"python {platform.python_version()}, {server}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.2f}, run at {datetime.now():%Y-%m-%d %H:%M}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead of PostgreSQL")
    parser.add_argument("--repeat", type=int, default=30, help="requests of each page (each after a /healthz)")
    parser.add_argument("--courses", type=int, default=40, help="courses booked over the coming month")
    parser.add_argument("--profile", nargs="*", metavar="PAGE",
                        help="cProfile the pages named (default: those over 100 ms) and list their statements")
    args = parser.parse_args()
    print_header(args.sqlite)

    with migrated_database(args.sqlite, DATABASE) as url:
        app = create_app(Settings(database_url=url, env="test", secret_key="bench-secret"), clock=FixedClock(NOW))
        rt = app.extensions["tms"].runtime
        engine = app.extensions["tms"].engine
        history: dict = {}
        took = timed(lambda: history.update(lines=seed_history(rt, env="test")))
        print(f"\nseed_demo + seed_history: {took:.1f} s; " + "; ".join(history["lines"][:3]))
        month = {}
        took = timed(lambda: month.update(book_month(rt, args.courses)))
        print(f"booked {month['booked']} of {args.courses} courses over {TODAY + timedelta(days=1)} ... {MONTH_END} "
              f"in {took:.1f} s ({month['tries']} tries; refusals {month['refused']})")
        if not args.sqlite:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        with engine.connect() as conn:
            counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in ("patients", "courses", "sessions", "treatment_records", "assessments", "reminders",
                                "messages", "session_events", "audit_events")}
        print("rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        pages, picked = choose_pages(engine, month["walk_in"])
        try:  # checked in, so the technician's page shows the treatment form itself
            attendance.check_in(rt, picked["record_session"], front_desk_actor(rt))
        except DomainError as exc:
            print(f"(session {picked['record_session']} not checked in: {exc.message})")
        print(f"picked: busiest day ahead at Fullerton {picked['busy_day']} ({picked['busy_sessions']} sessions; "
              f"{picked['ahead']} in the month ahead); course {picked['course_id']} of patient "
              f"{picked['patient_id']} ({picked['scores']} PHQ-9 scores); record form of session "
              f"{picked['record_session']}; booking for patient {picked['free_patient']}")

        browsers = {role: Browser(app, role) for role in ("front_desk", "technician", "clinician", "admin")}
        health = browsers["front_desk"]
        counter = StatementCounter(engine)
        statements: dict[str, list[str]] = {}
        sizes: dict[str, int] = {}
        for name, role, path in pages:  # warm-up, status, size and statements
            for _ in range(2):
                answer = browsers[role].get(path)
            assert answer.status_code == 200, (name, path, answer.status_code, answer.get_data(as_text=True)[:500])
            sizes[name] = len(answer.get_data())
            with counter.counting():
                browsers[role].get(path)
            statements[name] = list(counter.statements)
        assert health.get("/healthz").status_code == 200

        samples: dict[str, list[float]] = {name: [] for name, _, _ in pages}
        baseline: list[float] = []
        for _ in range(args.repeat):
            for name, role, path in pages:
                baseline.append(timed(lambda: health.get("/healthz")))
                samples[name].append(timed(lambda b=browsers[role], p=path: b.get(p)))

        base_median, base_p95 = ms(baseline)
        rows = []
        for name, role, path in pages:
            median, p95 = ms(samples[name])
            rows.append((name, role, path, median, p95))
        slow = [r[0] for r in rows if r[3] > LIMIT_MS]

        if args.profile is not None:
            targets = args.profile or slow
            for name, role, path in pages:
                if name not in targets:
                    continue
                print(f"\n== {name}: GET {path} as {role}; {len(statements[name])} statements:")
                for statement, n in Counter(statements[name]).most_common():
                    print(f"  {n:4d} x {statement}")
                profile_top(lambda b=browsers[role], p=path: b.get(p), 10, limit=30)
        engine.dispose()

    print(f"\nbaseline GET /healthz: median {base_median:.2f} ms, p95 {base_p95:.2f} ms ({len(baseline)} requests)\n")
    print(f"{'page':30} {'role':11} {'n':>3} {'median ms':>10} {'p95 ms':>8} {'x healthz':>10} {'stmts':>6} "
          f"{'kB':>5}  ")
    for name, role, _path, median, p95 in rows:
        mark = f"  OVER {LIMIT_MS:.0f} ms" if median > LIMIT_MS else ""
        print(f"{name:30} {role:11} {len(samples[name]):>3} {median:>10.1f} {p95:>8.1f} "
              f"{median / base_median:>9.0f}x {len(statements[name]):>6} {sizes[name] / 1024:>5.0f}{mark}")
    print(f"\npages over {LIMIT_MS:.0f} ms (median): {', '.join(slow) if slow else 'none'}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
