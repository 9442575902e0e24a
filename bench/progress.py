"""A course's progress and a site's clinician worklist on PostgreSQL, against raw selects of the same rows.

    .venv/bin/python bench/progress.py [--repeat N] [--courses 200] [--profile]

The state is built mostly through the API, on the app's own clock moved back in time:
  * 18 extra figure-8 chairs are added to Fullerton through the admin API (21 chairs in all), so that
    200 concurrent tms-10hz-standard courses fit.
  * 200 courses are booked through POST /api/v1/courses (front desk), their start dates spread over the
    weekdays from 2026-10-05 to 2026-11-25, the clock set to the day before each start, preferred times
    rotating over the day (the next time is tried when one does not fit).
  * About 7 % of the sessions that have started by 2026-11-26 09:00 (Fullerton) are recorded as no-shows
    through POST /api/v1/sessions/{id}/no-show, the clock set just after each session's start, so the
    app books their make-ups (and moves what it moves) itself.
  * Every other session that has ended by then is set to completed with one SQL UPDATE (no treatment
    records: progress does not read them); PHQ-9 scores go into assessments by SQL: a baseline two
    days before the start, then one every 14 days up to today, falling from 14-24 by 1-3 points each.
(a) GET /api/v1/courses/{id}/progress for the course with the most completed sessions among those
    with at least one make-up, as clinician (PHQ-9 included). Baseline: psycopg selecting the same
    session rows and scores (two SELECTs, one transaction).
(b) GET /api/v1/sites/fullerton/worklist, as clinician. Baseline: one psycopg SELECT of the sessions
    of the site's active courses joined to their course rows (every row the worklist reads). For
    information: the same select of only the 6 session columns the progress rules use, the service
    called without HTTP, and the ORM load of the sessions alone.
Requests and their baselines alternate, so the shared machine's noise falls on both alike.
One database, tms_bench_progress, dropped at the end.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
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
from sqlalchemy import select

from tms_scheduler.db import models
from tms_scheduler.services import progress as progress_service

DATABASE = "tms_bench_progress"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 09:00 in Fullerton
FIRST_START, LAST_START = date(2026, 10, 5), date(2026, 11, 25)
EXTRA_CHAIRS = 18
NO_SHOW_SHARE = 0.07
TIMES = [f"{h:02d}:{m:02d}" for h in range(7, 18) for m in (0, 45)]  # 07:00 ... 17:45
GOALS = {"progress": 10.0, "worklist": 100.0}


def weekdays(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.isoweekday() <= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def local_morning_before(day: date) -> datetime:
    """The morning of the day before (16:00 UTC: 08:00 PST, 09:00 PDT in Fullerton)."""
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC) - timedelta(days=1)


def build(app, raw: psycopg.Connection, courses: int, rng: random.Random) -> dict:
    """Chairs, courses, no-shows with their make-ups, completions, PHQ-9 scores. Answers counts."""
    clock = app.extensions["tms"].runtime.clock
    clock.now = NOW  # tokens expire 12 h after NOW, so they hold at every earlier clock
    admin, desk, tech = SignedIn(app, "admin"), SignedIn(app, "front_desk"), SignedIn(app, "technician")
    for i in range(EXTRA_CHAIRS):
        answer = admin.post("/api/v1/sites/fullerton/chairs", {"name": f"Fullerton bench chair {i + 1}",
                                                               "coil": "figure-8"})
        assert answer.status_code == 201, answer.json

    started = time.perf_counter()
    patients = add_patients(raw, courses)
    days = weekdays(FIRST_START, LAST_START)
    starts = sorted(days[i * len(days) // courses] for i in range(courses))
    booked, tries = [], 0
    for i, (patient, day) in enumerate(zip(patients, starts)):
        k = 0
        while True:
            clock.now = local_morning_before(day)
            at = TIMES[(i * 7 + k) % len(TIMES)]
            tries += 1
            answer = desk.post("/api/v1/courses", {"patient_id": patient, "site_id": "fullerton",
                                                   "protocol_id": "tms-10hz-standard",
                                                   "start_date": day.isoformat(), "preferred_time": at})
            if answer.status_code == 201:
                booked.append(answer.json["id"])
                break
            k += 1
            if "closed" in str(answer.json):  # a holiday: start the next day
                day, k = day + timedelta(days=1), 0
            elif k == len(TIMES):
                sys.exit(f"no time fits a course starting {day}: {answer.status_code} {answer.json}")
    booking_s = time.perf_counter() - started

    started = time.perf_counter()
    candidates = [r[0] for r in raw.execute(
        "SELECT id FROM sessions WHERE course_id = ANY(%s) AND starts_at < %s ORDER BY starts_at, id",
        (booked, NOW))]
    raw.commit()
    chosen = [sid for sid in candidates if rng.random() < NO_SHOW_SHARE]
    no_shows = makeups = 0
    for sid in chosen:
        status, starts_at = raw.execute("SELECT status, starts_at FROM sessions WHERE id = %s", (sid,)).fetchone()
        raw.commit()
        if status != "scheduled" or starts_at >= NOW:  # moved by an earlier make-up
            continue
        clock.now = starts_at + timedelta(minutes=20)
        answer = tech.post(f"/api/v1/sessions/{sid}/no-show", {})
        assert answer.status_code == 200, (sid, answer.status_code, answer.json)
        no_shows += 1
        makeups += answer.json["makeup_session"] is not None
    no_show_s = time.perf_counter() - started
    clock.now = NOW

    completed = raw.execute(
        "UPDATE sessions SET status = 'completed', updated_at = ends_at "
        "WHERE course_id = ANY(%s) AND status = 'scheduled' AND ends_at <= %s", (booked, NOW)).rowcount
    finished = raw.execute(
        "UPDATE courses c SET status = 'completed', ended_at = %s WHERE c.id = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM sessions s WHERE s.course_id = c.id AND s.status IN ('scheduled', 'checked_in'))",
        (NOW, booked)).rowcount
    scores = raw.execute(
        "INSERT INTO assessments (course_id, instrument, score, taken_on, recorded_by, recorded_at) "
        "SELECT c.id, 'PHQ-9', greatest(0, 14 + c.id %% 11 - k * (1 + (c.id + k) %% 3)), "
        "       c.start_date - 2 + 14 * k, NULL, (c.start_date - 2 + 14 * k) + TIME '12:00' "
        "FROM courses c CROSS JOIN generate_series(0, 6) k "
        "WHERE c.id = ANY(%s) AND c.start_date - 2 + 14 * k <= %s", (booked, NOW.date())).rowcount
    raw.commit()
    raw.autocommit = True
    raw.execute("VACUUM ANALYZE")
    raw.autocommit = False
    return {"booked": len(booked), "booking_tries": tries, "booking_s": booking_s, "no_shows": no_shows,
            "makeups": makeups, "no_show_s": no_show_s, "completed": completed, "finished_courses": finished,
            "scores": scores}


def pick_course(raw: psycopg.Connection) -> int:
    """A 36-session course with completed sessions, a no-show with its make-up, and PHQ-9 scores."""
    row = raw.execute(
        "SELECT c.id FROM courses c JOIN sessions s ON s.course_id = c.id "
        "WHERE c.site_id = 'fullerton' AND c.status = 'active' "
        "GROUP BY c.id HAVING count(*) FILTER (WHERE s.kind = 'makeup') >= 1 "
        "   AND count(*) FILTER (WHERE s.number <= 36) = 36 "
        "   AND (SELECT count(*) FROM assessments a WHERE a.course_id = c.id) >= 2 "
        "ORDER BY count(*) FILTER (WHERE s.status = 'completed') DESC, c.id LIMIT 1").fetchone()
    raw.commit()
    if row is None:
        sys.exit("no course with a make-up and scores; the build went wrong")
    return row[0]


def raw_progress(raw: psycopg.Connection, course_id: int) -> None:
    raw.execute("SELECT * FROM sessions WHERE course_id = %s", (course_id,)).fetchall()
    raw.execute("SELECT taken_on, score FROM assessments WHERE course_id = %s", (course_id,)).fetchall()
    raw.commit()


WORKLIST_ROWS = ("SELECT c.*, s.* FROM courses c JOIN sessions s ON s.course_id = c.id "
                 "WHERE c.site_id = 'fullerton' AND c.status = 'active'")


def raw_worklist(raw: psycopg.Connection, sql: str = WORKLIST_ROWS) -> int:
    rows = raw.execute(sql).fetchall()
    raw.commit()
    return len(rows)


# Only the session columns the progress rules read: what a load without ORM objects would cost.
NARROW_ROWS = ("SELECT s.course_id, s.number, s.kind, s.status, s.starts_at, s.cancelled_by "
               "FROM courses c JOIN sessions s ON s.course_id = c.id "
               "WHERE c.site_id = 'fullerton' AND c.status = 'active'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=60, help="worklist requests; progress gets 5x as many")
    parser.add_argument("--courses", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="cProfile 10 worklists and 50 progress requests")
    args = parser.parse_args()
    print_header(f"course progress and the worklist of a site with {args.courses} active courses")

    with bench_database(DATABASE) as name:
        app = make_app(name, NOW)
        engine = app.extensions["tms"].engine
        factory = app.extensions["tms"].runtime.sessions
        with psycopg.connect(libpq_url(name)) as raw:
            built = build(app, raw, args.courses, random.Random(20261126))
            active, sessions, missed, makeups, scores = raw.execute(
                "SELECT count(DISTINCT c.id), count(s.id), count(s.id) FILTER (WHERE s.status = 'no_show'), "
                "       count(s.id) FILTER (WHERE s.kind = 'makeup'), "
                "       (SELECT count(*) FROM assessments a JOIN courses c2 ON c2.id = a.course_id "
                "        WHERE c2.site_id = 'fullerton' AND c2.status = 'active') "
                "FROM courses c JOIN sessions s ON s.course_id = c.id "
                "WHERE c.site_id = 'fullerton' AND c.status = 'active'").fetchone()
            raw.commit()
            print(f"\nbuilt: {built['booked']} courses booked through the API in {built['booking_s']:.1f} s "
                  f"({built['booking_tries']} tries); {built['no_shows']} no-shows through the API in "
                  f"{built['no_show_s']:.1f} s ({built['makeups']} make-ups booked); {built['completed']} sessions "
                  f"set completed by SQL; {built['finished_courses']} courses had nothing left and were completed; "
                  f"{built['scores']} PHQ-9 scores")
            print(f"worklist reads: {active} active courses at Fullerton, {sessions} sessions "
                  f"({missed} no-shows, {makeups} make-ups), {scores} PHQ-9 scores")
            course_id = pick_course(raw)

            clinician = SignedIn(app, "clinician")
            counter = StatementCounter(engine)

            def progress_request():
                return clinician.get(f"/api/v1/courses/{course_id}/progress")

            def worklist_request():
                return clinician.get("/api/v1/sites/fullerton/worklist")

            # Warm-up and what the answers say.
            for _ in range(5):
                p, w = progress_request(), worklist_request()
                assert p.status_code == 200 and w.status_code == 200, (p.json, w.json)
            body = p.json
            print(f"\n(a) course {course_id}: prescribed {body['prescribed']}, completed {body['completed']}, "
                  f"missed {body['missed']}, remaining {body['remaining']}, attendance {body['attendance_rate']}, "
                  f"PHQ-9 {body['phq9']['baseline']} -> {body['phq9']['latest']}, "
                  f"flags {[f['code'] for f in body['flags']]}")
            flagged = {}
            for entry in w.json:
                for f in entry["flags"]:
                    flagged[f["code"]] = flagged.get(f["code"], 0) + 1
            print(f"(b) worklist: {len(w.json)} entries; flags {flagged}; baseline reads {raw_worklist(raw)} rows")
            assert len(w.json) == active

            with counter.counting():
                progress_request()
            print(f"\nprogress: {len(counter.statements)} statements "
                  f"({', '.join(f'{k} {n}' for k, n in sorted(counter.kinds().items()))}), "
                  f"{counter.checkouts} pool checkouts a request")
            worklist_counts = {}
            with counter.counting():
                worklist_request()
            worklist_counts[active] = (len(counter.statements), counter.checkouts)
            listed = list(counter.statements)
            # The same request with a quarter of the courses: the statement count must not change.
            raw.execute("CREATE TEMP TABLE parked AS SELECT id FROM courses WHERE site_id = 'fullerton' "
                        "AND status = 'active' AND id % 4 <> 0")
            raw.execute("UPDATE courses SET status = 'cancelled' WHERE id IN (SELECT id FROM parked)")
            raw.commit()
            try:
                with counter.counting():
                    fewer = len(worklist_request().json)
                worklist_counts[fewer] = (len(counter.statements), counter.checkouts)
            finally:
                raw.execute("UPDATE courses SET status = 'active' WHERE id IN (SELECT id FROM parked)")
                raw.execute("DROP TABLE parked")
                raw.commit()
            for n, (statements, checkouts) in sorted(worklist_counts.items()):
                print(f"worklist with {n:>3} active courses: {statements} statements, {checkouts} pool checkouts")
            print("  the worklist's statements in order:")
            for s in listed:
                print(f"    {s}")

            # Alternate each request with its baseline, in blocks, so noise falls on both alike.
            samples: dict[str, list[float]] = {k: [] for k in
                                               ("progress", "raw progress", "worklist", "raw worklist",
                                                "raw narrow", "worklist service", "worklist ORM sessions")}
            ids = [r[0] for r in raw.execute("SELECT id FROM courses WHERE site_id = 'fullerton' "
                                            "AND status = 'active'")]
            raw.commit()

            def orm_sessions():
                with factory() as db:
                    list(db.scalars(select(models.TreatmentSession)
                                    .where(models.TreatmentSession.course_id.in_(ids))))

            for _ in range(args.repeat):
                for _ in range(5):
                    samples["progress"].append(timed(progress_request))
                    samples["raw progress"].append(timed(lambda: raw_progress(raw, course_id)))
                samples["worklist"].append(timed(worklist_request))
                samples["raw worklist"].append(timed(lambda: raw_worklist(raw)))
                samples["raw narrow"].append(timed(lambda: raw_worklist(raw, NARROW_ROWS)))
            # Where the worklist's time goes, without HTTP: the service call, and the ORM load of the sessions.
            for _ in range(max(args.repeat // 2, 10)):
                samples["worklist service"].append(
                    timed(lambda: progress_service.worklist(app.extensions["tms"].runtime, "fullerton")))
                samples["worklist ORM sessions"].append(timed(orm_sessions))

            if args.profile:
                print("\n== progress")
                profile_top(progress_request, 50, limit=20)
                print("== worklist")
                profile_top(worklist_request, 10, limit=30)
        engine.dispose()

    print(f"\n{'what':62} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    labels = {
        "progress": "GET /courses/{id}/progress (one course)",
        "raw progress": "baseline: psycopg SELECT its sessions + scores",
        "worklist": f"GET /sites/fullerton/worklist ({active} courses)",
        "raw worklist": f"baseline: psycopg SELECT the same {sessions} session+course rows",
        "raw narrow": "(info) psycopg SELECT of the 6 session columns progress reads",
        "worklist service": "(info) services.progress.worklist call, no HTTP",
        "worklist ORM sessions": "(info) ORM load of the same sessions only (one SELECT)",
    }
    medians = {}
    for key, label in labels.items():
        median, p95 = ms(samples[key])
        medians[key] = median
        print(f"{label:62} {len(samples[key]):>4} {median:>10.2f} {p95:>8.2f}")
    print()
    verdicts = []
    for key, goal in GOALS.items():
        ratio = medians[key] / medians[f"raw {key}"]
        met = medians[key] <= goal
        verdicts.append(met)
        print(f"{key:9} median {medians[key]:7.2f} ms, {ratio:5.1f}x its raw select; goal <= {goal:.0f} ms: "
              f"{'met' if met else f'MISSED by {medians[key] / goal:.1f}x'}")
    stable = len({s for s, _ in worklist_counts.values()}) == 1
    verdicts.append(stable)
    print(f"worklist statements do not grow with the courses: {'met' if stable else 'MISSED'}")
    print(f"\nall goals met: {all(verdicts)}")


if __name__ == "__main__":
    main()
