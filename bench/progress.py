"""A course's progress and a site's clinician worklist on PostgreSQL, against raw selects of the same rows.

    .venv/bin/python bench/progress.py [--repeat N] [--booked 200] [--courses 1000] [--profile]

The state is built mostly through the API, on the app's own clock moved back in time:
  * 18 extra figure-8 chairs are added to Fullerton through the admin API (21 chairs in all), so that
    200 concurrent tms-10hz-standard courses fit.
  * 200 courses (--booked) are booked through POST /api/v1/courses (front desk), their start dates spread
    over the weekdays from 2026-10-05 to 2026-11-25, the clock set to the day before each start,
    preferred times rotating over the day (the next time is tried when one does not fit).
  * About 7 % of the sessions that have started by 2026-11-26 09:00 (Fullerton) are recorded as no-shows
    through POST /api/v1/sessions/{id}/no-show, the clock set just after each session's start, so the
    app books their make-ups (and moves what it moves) itself.
  * Every other session that has ended by then is set to completed with one SQL UPDATE (no treatment
    records: progress does not read them); PHQ-9 scores go into assessments by SQL: a baseline two
    days before the start, then one every 14 days up to today, falling from 14-24 by 1-3 points each.
  * To reach --courses active courses (1,000), the booked courses are copied by SQL onto new figure-8
    chairs of Fullerton (added through the admin API, 20 per copy) and new patients: the same courses,
    sessions (make-ups pointing at the copies' sessions), statuses and scores, one copy after another.
(a) GET /api/v1/courses/{id}/progress for the course with the most completed sessions among those
    with at least one make-up, as clinician (PHQ-9 included). Baseline: psycopg selecting the same
    session rows and scores (two SELECTs, one transaction).
(b) GET /api/v1/sites/fullerton/worklist, as clinician, at two sizes: the booked courses alone (the
    copies set aside as cancelled) and all of them. Timed: the default page (the 100 most urgent),
    the largest page (limit=500), and the service called without HTTP for the whole list. Baseline:
    one psycopg SELECT of the sessions of the site's active courses joined to their course rows (every
    row the old worklist read); for information the same select of only the 6 session columns.
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

from tms_scheduler.services import progress as progress_service
from tms_scheduler.services.actor import OPERATOR

DATABASE = "tms_bench_progress"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 09:00 in Fullerton
FIRST_START, LAST_START = date(2026, 10, 5), date(2026, 11, 25)
EXTRA_CHAIRS = 18
NO_SHOW_SHARE = 0.07
TIMES = [f"{h:02d}:{m:02d}" for h in range(7, 18) for m in (0, 45)]  # 07:00 ... 17:45
GOALS = {"progress": 10.0, "worklist": 100.0}
FIGURE_8_CHAIRS = 20  # Fullerton's 2 demo chairs + the 18 added


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
    return {"ids": booked, "booked": len(booked), "booking_tries": tries, "booking_s": booking_s, "no_shows": no_shows,
            "makeups": makeups, "no_show_s": no_show_s, "completed": completed, "finished_courses": finished,
            "scores": scores}


def copy_courses(app, raw: psycopg.Connection, booked: list[int], copies: int) -> list[int]:
    """`copies` copies of the booked courses, each on 20 new figure-8 chairs and new patients: the same
    sessions (ids shifted, make-ups pointing at the copies), statuses and scores. Answers the copies' ids."""
    admin = SignedIn(app, "admin")
    chairs = [r[0] for r in raw.execute("SELECT id FROM chairs WHERE site_id = 'fullerton' AND coil = 'figure-8' "
                                        "ORDER BY id")]
    assert len(chairs) == FIGURE_8_CHAIRS, chairs

    def columns(table: str) -> list[str]:
        return [r[0] for r in raw.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = %s ORDER BY ordinal_position", (table,))]

    course_columns, session_columns, score_columns = columns("courses"), columns("sessions"), columns("assessments")
    copied: list[int] = []
    for copy in range(1, copies + 1):
        new_chairs = []
        for i in range(FIGURE_8_CHAIRS):
            answer = admin.post("/api/v1/sites/fullerton/chairs", {"name": f"Fullerton copy {copy} chair {i + 1}",
                                                                   "coil": "figure-8"})
            assert answer.status_code == 201, answer.json
            new_chairs.append(answer.json["id"])
        patients = add_patients(raw, len(booked))
        course_shift = raw.execute("SELECT max(id) FROM courses").fetchone()[0]
        session_shift = raw.execute("SELECT max(id) FROM sessions").fetchone()[0]
        raw.execute("CREATE TEMP TABLE course_map (id int, patient_id int)")
        raw.execute("CREATE TEMP TABLE chair_map (id int, new_id int)")
        with raw.cursor().copy("COPY course_map (id, patient_id) FROM STDIN") as rows:
            for course_id, patient_id in zip(booked, patients):
                rows.write_row((course_id, patient_id))
        with raw.cursor().copy("COPY chair_map (id, new_id) FROM STDIN") as rows:
            for old, new in zip(chairs, new_chairs):
                rows.write_row((old, new))
        shifted = {"id": f"c.id + {course_shift}", "patient_id": "m.patient_id"}
        raw.execute(f"INSERT INTO courses ({', '.join(course_columns)}) "
                    f"SELECT {', '.join(shifted.get(c, 'c.' + c) for c in course_columns)} "
                    "FROM courses c JOIN course_map m ON m.id = c.id")
        shifted = {"id": f"s.id + {session_shift}", "course_id": f"s.course_id + {course_shift}",
                   "chair_id": "h.new_id", "makeup_for_id": f"s.makeup_for_id + {session_shift}"}
        raw.execute(f"INSERT INTO sessions ({', '.join(session_columns)}) "
                    f"SELECT {', '.join(shifted.get(c, 's.' + c) for c in session_columns)} "
                    "FROM sessions s JOIN course_map m ON m.id = s.course_id JOIN chair_map h ON h.id = s.chair_id")
        kept = [c for c in score_columns if c != "id"]
        picked = [f"a.course_id + {course_shift}" if c == "course_id" else f"a.{c}" for c in kept]
        raw.execute(f"INSERT INTO assessments ({', '.join(kept)}) SELECT {', '.join(picked)} "
                    "FROM assessments a JOIN course_map m ON m.id = a.course_id")
        raw.execute("DROP TABLE course_map")
        raw.execute("DROP TABLE chair_map")
        for table in ("courses", "sessions"):
            raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        copied += [c + course_shift for c in booked]
    return copied


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


def service_at(revision: str):
    """services/progress.py as it was at a git revision, importable beside today's (same package)."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parent.parent
    source = subprocess.run(["git", "show", f"{revision}:tms_scheduler/services/progress.py"], cwd=root,
                            check=True, capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader("tms_scheduler.services._progress_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "tms_scheduler.services"
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:services/progress.py", "exec"), module.__dict__)
    return module


ACTIVE = "SELECT id FROM courses WHERE site_id = 'fullerton' AND status = 'active'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40, help="worklist requests per size; progress gets 5x as many")
    parser.add_argument("--booked", type=int, default=200, help="courses booked through the API")
    parser.add_argument("--courses", type=int, default=1000, help="courses in all (a multiple of --booked)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile 10 worklists per size and 50 progress requests")
    parser.add_argument("--before", metavar="REV",
                        help="also time services/progress.py's worklist as it was at this git revision (e.g. HEAD), "
                             "interleaved with today's, whole list, no HTTP")
    args = parser.parse_args()
    if args.courses % args.booked:
        sys.exit("--courses must be a multiple of --booked")
    print_header(f"course progress and the worklist of a site with {args.booked} and {args.courses} courses")

    with bench_database(DATABASE) as name:
        app = make_app(name, NOW)
        engine = app.extensions["tms"].engine
        runtime = app.extensions["tms"].runtime
        before = service_at(args.before) if args.before else None
        with psycopg.connect(libpq_url(name)) as raw:
            built = build(app, raw, args.booked, random.Random(20261126))
            started = time.perf_counter()
            copies = copy_courses(app, raw, built["ids"], args.courses // args.booked - 1)
            copy_s = time.perf_counter() - started
            raw.autocommit = True
            raw.execute("VACUUM ANALYZE")
            raw.autocommit = False
            print(f"\nbuilt: {built['booked']} courses booked through the API in {built['booking_s']:.1f} s "
                  f"({built['booking_tries']} tries); {built['no_shows']} no-shows through the API in "
                  f"{built['no_show_s']:.1f} s ({built['makeups']} make-ups booked); {built['completed']} sessions "
                  f"set completed by SQL; {built['finished_courses']} courses had nothing left and were completed; "
                  f"{built['scores']} PHQ-9 scores; {len(copies)} copies by SQL in {copy_s:.1f} s")
            course_id = pick_course(raw)

            clinician = SignedIn(app, "clinician")
            counter = StatementCounter(engine)

            def progress_request():
                return clinician.get(f"/api/v1/courses/{course_id}/progress")

            def worklist_request(query: str = ""):
                return clinician.get(f"/api/v1/sites/fullerton/worklist{query}")

            pages = {"worklist": "", "worklist 500": "?limit=500"}
            if worklist_request("?limit=500").status_code == 422:  # code from before the worklist paged
                pages = {"worklist": ""}

            def set_aside(parked: bool) -> None:
                raw.execute("UPDATE courses SET status = %s WHERE id = ANY(%s) AND status = %s",
                            ("cancelled", copies, "active") if parked else ("active", copies, "cancelled"))
                raw.commit()

            # Only the copies of active courses were active: remember which, to restore exactly those.
            copies = [r[0] for r in raw.execute(ACTIVE + " AND id = ANY(%s)", (copies,))]
            raw.commit()

            for _ in range(5):
                p = progress_request()
                assert p.status_code == 200, p.json
            body = p.json
            print(f"\n(a) course {course_id}: prescribed {body['prescribed']}, completed {body['completed']}, "
                  f"missed {body['missed']}, remaining {body['remaining']}, attendance {body['attendance_rate']}, "
                  f"PHQ-9 {body['phq9']['baseline']} -> {body['phq9']['latest']}, "
                  f"flags {[f['code'] for f in body['flags']]}")
            with counter.counting():
                progress_request()
            print(f"progress: {len(counter.statements)} statements "
                  f"({', '.join(f'{k} {n}' for k, n in sorted(counter.kinds().items()))}), "
                  f"{counter.checkouts} pool checkouts a request")

            samples: dict[str, list[float]] = {"progress": [], "raw progress": []}
            sizes: dict[str, int] = {}
            counts: dict[int, int] = {}
            for size in ("booked", "all"):
                set_aside(size == "booked")
                active, sessions, missed, makeups, scores = raw.execute(
                    "SELECT count(DISTINCT c.id), count(s.id), count(s.id) FILTER (WHERE s.status = 'no_show'), "
                    "       count(s.id) FILTER (WHERE s.kind = 'makeup'), "
                    "       (SELECT count(*) FROM assessments a JOIN courses c2 ON c2.id = a.course_id "
                    "        WHERE c2.site_id = 'fullerton' AND c2.status = 'active') "
                    "FROM courses c JOIN sessions s ON s.course_id = c.id "
                    "WHERE c.site_id = 'fullerton' AND c.status = 'active'").fetchone()
                raw.commit()
                sizes[size] = active
                print(f"\n(b) worklist of {active} active courses at Fullerton, {sessions} sessions "
                      f"({missed} no-shows, {makeups} make-ups), {scores} PHQ-9 scores")
                for _ in range(3):
                    for query in pages.values():
                        w = worklist_request(query)
                        assert w.status_code == 200, w.json
                whole = progress_service.worklist(runtime, "fullerton", OPERATOR)
                assert len(whole) == active, (len(whole), active)
                flagged: dict[str, int] = {}
                for entry in whole:
                    for f in entry.progress.flags:
                        flagged[str(f.code)] = flagged.get(str(f.code), 0) + 1
                print(f"    flags {flagged}; the baseline reads {raw_worklist(raw)} rows")
                with counter.counting():
                    worklist_request()
                counts[active] = len(counter.statements)
                print(f"    {len(counter.statements)} statements, {counter.checkouts} pool checkouts a request:")
                for statement in counter.statements:
                    print(f"      {statement}")
                if before is not None:  # the same entries, flags and order as before the change
                    old = before.worklist(runtime, "fullerton", OPERATOR)
                    assert [(e.course.id, e.progress) for e in old] == [(e.course.id, e.progress) for e in whole]
                    print(f"    the whole list equals {args.before}'s: {len(old)} courses, same order, same progress")
                keys = {k: f"{k} {active}" for k in (*pages, "raw worklist", "raw narrow", "worklist service",
                                                      *(("worklist before",) if before else ()))}
                for key in keys.values():
                    samples[key] = []
                for _ in range(args.repeat):
                    for _ in range(5 if size == "all" else 0):
                        samples["progress"].append(timed(progress_request))
                        samples["raw progress"].append(timed(lambda: raw_progress(raw, course_id)))
                    for page, query in pages.items():
                        samples[keys[page]].append(timed(lambda: worklist_request(query)))
                    samples[keys["raw worklist"]].append(timed(lambda: raw_worklist(raw)))
                    samples[keys["raw narrow"]].append(timed(lambda: raw_worklist(raw, NARROW_ROWS)))
                    samples[keys["worklist service"]].append(
                        timed(lambda: progress_service.worklist(runtime, "fullerton", OPERATOR)))
                    if before is not None:
                        samples[keys["worklist before"]].append(
                            timed(lambda: before.worklist(runtime, "fullerton", OPERATOR)))
                if args.profile:
                    print(f"== worklist, {active} courses, default page")
                    profile_top(worklist_request, 10, limit=30)
            if args.profile:
                print("\n== progress")
                profile_top(progress_request, 50, limit=20)
        engine.dispose()

    print(f"\n{'what':64} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    labels = {
        "progress": "GET /courses/{id}/progress (one course)",
        "raw progress": "baseline: psycopg SELECT its sessions + scores",
    }
    for size in ("booked", "all"):
        n = sizes[size]
        labels.update({
            f"worklist {n}": f"GET /sites/fullerton/worklist, {n} courses (default page)",
            f"worklist 500 {n}": f"GET .../worklist?limit=500, {n} courses",
            f"worklist service {n}": f"(info) services.progress.worklist, whole list, no HTTP, {n}",
            f"worklist before {n}": f"(info) the same at {args.before}, whole list, no HTTP, {n}",
            f"raw worklist {n}": f"baseline: psycopg SELECT of the {n} courses' session+course rows",
            f"raw narrow {n}": f"(info) psycopg SELECT of the 6 session columns, {n} courses",
        })
    medians = {}
    for key, label in labels.items():
        if key not in samples:
            continue
        median, p95 = ms(samples[key])
        medians[key] = median
        print(f"{label:64} {len(samples[key]):>4} {median:>10.2f} {p95:>8.2f}")
    print()
    small, large = sizes["booked"], sizes["all"]
    verdicts = []
    for key, goal in (("progress", GOALS["progress"]), (f"worklist {large}", GOALS["worklist"])):
        raw_key = "raw progress" if key == "progress" else f"raw worklist {large}"
        met = medians[key] <= goal
        verdicts.append(met)
        print(f"{key:14} median {medians[key]:7.2f} ms, {medians[key] / medians[raw_key]:5.2f}x its raw select; "
              f"goal <= {goal:.0f} ms: {'met' if met else f'MISSED by {medians[key] / goal:.1f}x'}")
    for key in ("worklist", "worklist 500", "worklist service", "worklist before"):
        if f"{key} {large}" in medians:
            ratio = medians[f"{key} {large}"] / medians[f"{key} {small}"]
            linear = ratio <= large / small
            print(f"{key:17} {large} / {small} courses: {ratio:.2f}x (linear would be {large / small:.0f}x): "
                  f"{'at most linear' if linear else 'MORE than linear'}")
            if key == "worklist":
                verdicts.append(linear)
    stable = len(set(counts.values())) == 1
    verdicts.append(stable)
    print(f"worklist statements do not grow with the courses ({counts}): {'met' if stable else 'MISSED'}")
    print(f"\nall goals met: {all(verdicts)}")


if __name__ == "__main__":
    main()
