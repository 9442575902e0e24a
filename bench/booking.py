"""Booking a 36-session tms-10hz-standard course through the HTTP API, against one raw multi-row INSERT
of the same 36 session rows, measured in the same process and interleaved so noise hits both alike.

    .venv/bin/python bench/booking.py [--iterations N] [--profile]

Each iteration: a new patient books (POST /api/v1/courses as front desk, timed); the course's 36
rows are read from the answer, the reminder and session_events rows the booking wrote with them counted,
and the course deleted (not timed); then the same 36 rows are inserted
by one psycopg INSERT ... VALUES (36 tuples) and committed (timed), and deleted again (not timed).
Start dates and times rotate, and every course is deleted, so chairs never fill.
Also printed: the statements one booking sends, for protocols of 30, 36 and 50 sessions.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import (
    SignedIn,
    StatementCounter,
    add_patients,
    bench_database,
    libpq_url,
    make_app,
    ms,
    print_header,
    profile_top,
    timed,
)

from tms_scheduler.services import booking as booking_service
from tms_scheduler.services.actor import Actor

DATABASE = "tms_bench_booking"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
GOAL_RATIO = 10.0
TIMES = ["08:00", "09:15", "10:30", "13:00", "15:45"]
COLUMNS = ("course_id", "number", "kind", "status", "site_id", "chair_id", "starts_at", "ends_at")
ROW = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"


def weekdays(first: date, count: int) -> list[date]:
    days, day = [], first
    while len(days) < count:
        if day.isoweekday() <= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def delete_course(raw: psycopg.Connection, course_id: int) -> None:
    raw.execute("DELETE FROM reminders WHERE course_id = %s", (course_id,))
    raw.execute("DELETE FROM session_events WHERE session_id IN (SELECT id FROM sessions WHERE course_id = %s)",
                (course_id,))
    raw.execute("DELETE FROM sessions WHERE course_id = %s", (course_id,))
    raw.execute("DELETE FROM courses WHERE id = %s", (course_id,))
    raw.commit()


def planned_rows(raw: psycopg.Connection, course_id: int) -> tuple[int, int]:
    """The reminder rows and session_events rows the booking wrote with the course's sessions."""
    reminders, events = raw.execute(
        "SELECT (SELECT count(*) FROM reminders WHERE course_id = %s), "
        "(SELECT count(*) FROM session_events WHERE session_id IN (SELECT id FROM sessions WHERE course_id = %s))",
        (course_id, course_id)).fetchone()
    raw.commit()
    return reminders, events


def baseline_course(raw: psycopg.Connection, patient_id: int) -> int:
    """A cancelled course the raw inserts hang their rows on (sessions need a course_id)."""
    course_id = raw.execute(
        "INSERT INTO courses (patient_id, site_id, protocol_id, status, start_date, preferred_time) "
        "VALUES (%s, 'fullerton', 'tms-10hz-standard', 'cancelled', DATE '2027-01-04', TIME '09:00') RETURNING id",
        (patient_id,)).fetchone()[0]
    raw.commit()
    return course_id


def rows_of(course: dict, course_id: int) -> list[tuple]:
    return [(course_id, s["number"], s["kind"], "scheduled", s["site_id"], s["chair_id"],
             datetime.fromisoformat(s["starts_at"]), datetime.fromisoformat(s["ends_at"]))
            for s in course["sessions"]]


def raw_insert(raw: psycopg.Connection, rows: list[tuple]) -> None:
    """The baseline: one multi-row INSERT of all the rows, in one transaction, committed."""
    params = [value for row in rows for value in row]
    raw.execute(f"INSERT INTO sessions ({', '.join(COLUMNS)}) VALUES {', '.join([ROW] * len(rows))}", params)
    raw.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="also cProfile 30 bookings")
    args = parser.parse_args()
    print_header("booking a 36-session course through the API vs one raw multi-row INSERT")

    with bench_database(DATABASE) as name:
        app = make_app(name, NOW)
        engine = app.extensions["tms"].engine
        desk = SignedIn(app, "front_desk")
        counter = StatementCounter(engine)
        with psycopg.connect(libpq_url(name)) as raw:
            total = args.warmup + args.iterations
            patients = iter(add_patients(raw, total + 120))
            base_course = baseline_course(raw, next(patients))
            desk_id = raw.execute("SELECT id FROM users WHERE role = 'front_desk'").fetchone()[0]
            desk_actor = Actor(desk_id, "front_desk")
            days = weekdays(date(2027, 1, 4), 40)
            plan = iter((days[i % len(days)], TIMES[i % len(TIMES)]) for i in range(10**6))

            def book(protocol="tms-10hz-standard", expected=36, at=None):
                day, planned_at = next(plan)
                at = at or planned_at
                body = {"patient_id": next(patients), "site_id": "fullerton", "protocol_id": protocol,
                        "start_date": day.isoformat(), "preferred_time": at}
                answer = {}
                elapsed = timed(lambda: answer.setdefault("r", desk.post("/api/v1/courses", body)))
                response = answer["r"]
                if response.status_code != 201:
                    sys.exit(f"booking {body} failed: {response.status_code} {response.json}")
                assert len(response.json["sessions"]) == expected
                return elapsed, response.json

            api_times, raw_times = [], []
            written: list[tuple[int, int]] = []
            for i in range(total):
                elapsed, course = book()
                written.append(planned_rows(raw, course["id"]))  # untimed
                delete_course(raw, course["id"])
                rows = rows_of(course, base_course)
                raw_elapsed = timed(lambda: raw_insert(raw, rows))
                raw.execute("DELETE FROM sessions WHERE course_id = %s", (base_course,))
                raw.commit()
                if i >= args.warmup:
                    api_times.append(elapsed)
                    raw_times.append(raw_elapsed)

            # The service alone (no HTTP, auth, schema or JSON): where the rest of the time goes.
            service_times = []
            for i in range(60):
                day, at = next(plan)
                h, m = map(int, at.split(":"))
                request = booking_service.BookingRequest(
                    patient_id=next(patients), site_id="fullerton", protocol_id="tms-10hz-standard",
                    start_date=day, preferred_time=datetime(2000, 1, 1, h, m).time())
                result = {}
                elapsed = timed(lambda: result.setdefault("c", booking_service.book_course(
                    app.extensions["tms"].runtime, request, desk_actor)))
                delete_course(raw, result["c"].id)
                if i >= 10:
                    service_times.append(elapsed)

            api_med, api_p95 = ms(api_times)
            raw_med, raw_p95 = ms(raw_times)
            svc_med, svc_p95 = ms(service_times)
            ratio = api_med / raw_med
            print(f"\n{'what':58} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
            print(f"{'POST /api/v1/courses, tms-10hz-standard (36 sessions)':58} {len(api_times):>4} "
                  f"{api_med:>10.2f} {api_p95:>8.2f}")
            print(f"{'baseline: one INSERT of the same 36 rows + COMMIT':58} {len(raw_times):>4} "
                  f"{raw_med:>10.2f} {raw_p95:>8.2f}")
            print(f"{'(info) booking.book_course service call, no HTTP':58} {len(service_times):>4} "
                  f"{svc_med:>10.2f} {svc_p95:>8.2f}")
            reminder_counts = sorted({r for r, _ in written})
            event_counts = sorted({e for _, e in written})
            print(f"\neach booking also wrote, in its transaction: {'/'.join(map(str, reminder_counts))} reminder "
                  f"rows (median {statistics.median(r for r, _ in written):.0f}) and "
                  f"{'/'.join(map(str, event_counts))} session_events rows; the baseline writes the 36 session "
                  f"rows only")
            print(f"\nratio booking / raw batch (medians): {ratio:.1f}x   goal <= {GOAL_RATIO:.0f}x: "
                  f"{'MET' if ratio <= GOAL_RATIO else f'MISSED by {ratio / GOAL_RATIO:.1f}x'}")

            print("\nstatements one booking sends (before_cursor_execute), and pool checkouts:")
            for protocol, expected in (("itbs", 30), ("tms-10hz-standard", 36), ("deep-tms-h1", 36),
                                       ("accelerated-itbs", 50)):
                with counter.counting():
                    # 10 sessions a day 65 minutes apart only fit from opening time.
                    _, course = book(protocol, expected, "07:00" if protocol == "accelerated-itbs" else None)
                reminders, events = planned_rows(raw, course["id"])
                delete_course(raw, course["id"])
                kinds = ", ".join(f"{k} {n}" for k, n in sorted(counter.kinds().items()))
                print(f"  {protocol:20} {expected:>3} sessions: {len(counter.statements):>3} statements "
                      f"({kinds}); {counter.checkouts} pool checkouts; {reminders} reminders, {events} session events")
                if protocol == "tms-10hz-standard":
                    listed = list(counter.statements)
            print("  the 36-session booking's statements in order:")
            for s in listed:
                print(f"    {s}")

            if args.profile:
                def one():
                    _, course = book()
                    delete_course(raw, course["id"])
                profile_top(one, 30)
        engine.dispose()


if __name__ == "__main__":
    main()
