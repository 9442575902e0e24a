"""Availability search, next-start search and the day board on PostgreSQL with 10 thousand and with 1 million
stored sessions.

    .venv/bin/python bench/reads.py [--repeat N] [--profile] [--explain] [--drop-exclusion]

The fill is generated SQL (INSERT ... SELECT over generate_series), never the API:
  * Fullerton, the queried site, is the same in both sizes: each of its 3 demo chairs holds 10 of the
    12 hourly slots (07:00-18:45, 45-minute sessions, 60 for a course's first) on every weekday from
    60 days before to 120 days after 2026-12-07, about 30 sessions a day - a realistic busy day, and
    two free hours per chair so the availability search has times to find.
  * The rest of the table is history and future of 20 extra sites with 10 chairs each, the same
    pattern over three years, up to 10,000 or 1,000,000 sessions in all.
  * Every 36 consecutive sessions of one chair and hour form a course of its own patient.
Two databases (tms_bench_reads_10k, tms_bench_reads_1m), both dropped at the end. The 10k figures are the
baseline the 1M figures are divided by; both are measured in this process, after VACUUM ANALYZE, each
with its own app, in alternating blocks of 10 requests so the shared machine's noise falls on both alike.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import (
    SignedIn,
    StatementCounter,
    bench_database,
    libpq_url,
    make_app,
    ms,
    print_header,
    profile_top,
    timed,
)

DATABASE = "tms_bench_reads"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 09:00 in Fullerton
ANCHOR = date(2026, 12, 7)
EXTRA_SITES, CHAIRS_PER_EXTRA_SITE = 20, 10
AVAILABILITY_DATES = [date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 14)]
BOARD_DATES = [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 7),
               date(2026, 12, 8)]
GOALS = {"availability": 50.0, "day board": 20.0, "next starts": 100.0}
# Measured and printed, without a goal: the next-start search over every TMS site (22 here; see README).
INFO = ("next starts, all",)
GOAL_GROWTH = 1.5


def add_extra_sites(raw: psycopg.Connection) -> list[int]:
    raw.execute(
        "INSERT INTO sites (id, name, timezone, offers_tms, address, phone, open_days, opens, closes, "
        "holiday_calendar) "
        "SELECT 'bench-' || lpad(g::text, 2, '0'), 'Bench site ' || g, 'America/Los_Angeles', true, '', '', "
        "'[1, 2, 3, 4, 5]', TIME '07:00', TIME '19:00', 'us-clinic' FROM generate_series(1, %s) g", (EXTRA_SITES,))
    ids = raw.execute(
        "INSERT INTO chairs (site_id, name, coil, active) "
        "SELECT 'bench-' || lpad(s::text, 2, '0'), 'Bench chair ' || c, 'figure-8', true "
        "FROM generate_series(1, %s) s, generate_series(1, %s) c ORDER BY s, c RETURNING id",
        (EXTRA_SITES, CHAIRS_PER_EXTRA_SITE)).fetchall()
    raw.commit()
    return [r[0] for r in ids]


def fill(database: str, chair_ids: list[int], first: date, last: date, limit: int, *, workers: int = 2) -> int:
    """Up to `limit` sessions on the chairs' weekdays, 10 of 12 hourly slots each, with courses and patients.

    Foreign keys hold by construction, so the session rows go in with session_replication_role = replica
    (no per-row RI trigger); the exclusion constraint still checks every row unless it was dropped.
    The rows are split by chair over `workers` connections (the machine has 2 cores).
    """
    with psycopg.connect(libpq_url(database)) as raw:
        raw.execute(
            "CREATE UNLOGGED TABLE bench_plan AS "
            "SELECT row_number() OVER (ORDER BY c.id, s.slot, d.day) - 1 AS rn, c.id AS chair_id, c.site_id, "
            "       d.day::date AS day, s.slot, "
            "       (d.day::date + make_time(7 + s.slot, 0, 0)) AT TIME ZONE 'America/Los_Angeles' AS starts_at "
            "FROM chairs c CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') d(day) "
            "     CROSS JOIN generate_series(0, 11) s(slot) "
            "WHERE c.id = ANY(%s) AND extract(isodow FROM d.day) < 6 AND (s.slot + c.id) %% 6 <> 0 "
            "ORDER BY c.id, s.slot, d.day LIMIT %s",
            (first, last, chair_ids, limit))
        patient_base = raw.execute("SELECT coalesce(max(id), 0) FROM patients").fetchone()[0]
        course_base = raw.execute("SELECT coalesce(max(id), 0) FROM courses").fetchone()[0]
        raw.execute(
            "INSERT INTO patients (id, first_name, last_name, date_of_birth, phone, language, sms_consent, "
            "                      sms_opted_out) "
            "SELECT %s + g, 'Bench', 'Patient ' || g, DATE '1980-01-01', "
            "       '+1714555' || lpad((g %% 10000)::text, 4, '0'), 'en', true, false "
            "FROM generate_series(1, (SELECT max(rn) / 36 + 1 FROM bench_plan)) g", (patient_base,))
        raw.execute(
            "INSERT INTO courses (id, patient_id, site_id, protocol_id, status, start_date, preferred_time) "
            "SELECT %s + k, %s + k, min(site_id), 'tms-10hz-standard', "
            "       CASE WHEN max(starts_at) < %s THEN 'completed' ELSE 'active' END, min(day), "
            "       make_time(7 + min(slot), 0, 0) "
            "FROM (SELECT rn / 36 + 1 AS k, * FROM bench_plan) p GROUP BY k",
            (course_base, patient_base, NOW))
        raw.execute("SELECT setval('patients_id_seq', (SELECT max(id) FROM patients))")
        raw.execute("SELECT setval('courses_id_seq', (SELECT max(id) FROM courses))")
        raw.commit()

        counts: list[int] = []
        errors: list[BaseException] = []

        def insert(part: int) -> None:
            try:
                with psycopg.connect(libpq_url(database)) as conn:
                    conn.execute("SET session_replication_role = replica")
                    counts.append(conn.execute(
                        "INSERT INTO sessions (course_id, number, kind, status, site_id, chair_id, starts_at, ends_at) "
                        "SELECT %s + rn / 36 + 1, rn %% 36 + 1, "
                        "       CASE WHEN rn %% 36 = 0 THEN 'mapping' ELSE 'treatment' END, "
                        "       CASE WHEN starts_at < %s THEN 'completed' ELSE 'scheduled' END, site_id, chair_id, "
                        "       starts_at, starts_at + CASE WHEN rn %% 36 = 0 THEN interval '60 minutes' "
                        "                                   ELSE interval '45 minutes' END "
                        "FROM bench_plan WHERE chair_id %% %s = %s", (course_base, NOW, workers, part)).rowcount)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=insert, args=(part,)) for part in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        raw.execute("DROP TABLE bench_plan")
        raw.commit()
        if errors:
            raise errors[0]
        raw.autocommit = True
        raw.execute("VACUUM ANALYZE")
        return sum(counts)


def stored(database: str) -> int:
    with psycopg.connect(libpq_url(database)) as raw:
        return raw.execute("SELECT count(*) FROM sessions").fetchone()[0]


def build(database: str, target: int, *, drop_exclusion: bool) -> float:
    """The demo clinic, the extra sites, Fullerton's realistic months and history up to `target` sessions."""
    started = time.perf_counter()
    make_app(database, NOW).extensions["tms"].engine.dispose()  # sites, chairs, protocols, users
    with psycopg.connect(libpq_url(database)) as raw:
        extra_chairs = add_extra_sites(raw)
        fullerton = [r[0] for r in raw.execute("SELECT id FROM chairs WHERE site_id = 'fullerton' ORDER BY id")]
        if drop_exclusion:
            raw.execute("ALTER TABLE sessions DROP CONSTRAINT ex_sessions_chair_overlap")
            raw.commit()
    fill(database, fullerton, ANCHOR - timedelta(days=60), ANCHOR + timedelta(days=120), 10**9, workers=1)
    fill(database, extra_chairs, ANCHOR - timedelta(days=730), ANCHOR + timedelta(days=365),
         target - stored(database))
    return time.perf_counter() - started


class Target:
    """One filled database and an app on it, signed in as front desk."""

    def __init__(self, database: str):
        self.app = make_app(database, NOW, seed=False)
        self.desk = SignedIn(self.app, "front_desk")
        self.counter = StatementCounter(self.app.extensions["tms"].engine)
        self.samples: dict[str, list[float]] = {label: [] for label in (*GOALS, *INFO)}

    def availability(self, i: int):
        day = AVAILABILITY_DATES[i % len(AVAILABILITY_DATES)]
        return self.desk.get(f"/api/v1/sites/fullerton/availability?protocol_id=tms-10hz-standard&start_date={day}")

    def next_starts(self, i: int, every_site: bool = False):
        """GET /availability from one of the dates at 09:00 (8 weeks, 3 dates a site): Fullerton, or every site."""
        day = AVAILABILITY_DATES[i % len(AVAILABILITY_DATES)]
        url = f"/api/v1/availability?protocol_id=tms-10hz-standard&from_date={day}&time=09:00"
        return self.desk.get(url if every_site else f"{url}&site_id=fullerton")

    def board(self, i: int):
        return self.desk.get(f"/api/v1/sites/fullerton/schedule?date={BOARD_DATES[i % len(BOARD_DATES)]}")

    def describe(self) -> None:
        for i in range(10):  # warm-up
            a, b, n = self.availability(i), self.board(i), self.next_starts(i, every_site=True)
            assert a.status_code == b.status_code == n.status_code == 200, (a.json, b.json, n.json)
        times = [len(self.availability(i).json["times"]) for i in range(len(AVAILABILITY_DATES))]
        on_board = [sum(len(c["sessions"]) for c in self.board(i).json["chairs"]) for i in range(len(BOARD_DATES))]
        print(f"  answers: availability finds {min(times)}-{max(times)} start times; "
              f"the board shows {min(on_board)}-{max(on_board)} sessions a day")
        found = self.next_starts(0, every_site=True).json["starts"]
        print(f"  next starts from {AVAILABILITY_DATES[0]} at 09:00: {len(found)} over "
              f"{len({s['site_id'] for s in found})} sites; Fullerton's: "
              + ", ".join(f"{s['date']} {s['time']}" for s in found if s["site_id"] == "fullerton"))
        for label, call in (("availability", self.availability), ("day board", self.board),
                            ("next starts", self.next_starts),
                            ("next starts, all", lambda i: self.next_starts(i, every_site=True))):
            with self.counter.counting():
                call(0)
            print(f"  {label}: {len(self.counter.statements)} statements, "
                  f"{self.counter.checkouts} pool checkouts a request")

    def run(self, first: int, count: int) -> None:
        for i in range(first, first + count):
            self.samples["availability"].append(timed(lambda: self.availability(i)))
            self.samples["day board"].append(timed(lambda: self.board(i)))
            self.samples["next starts"].append(timed(lambda: self.next_starts(i)))
            if i % 5 == 0:  # the all-site search is slow at 1 M; a fifth of the requests keep the run short
                self.samples["next starts, all"].append(timed(lambda: self.next_starts(i, every_site=True)))

    def close(self) -> None:
        self.app.extensions["tms"].engine.dispose()


def explain(raw: psycopg.Connection) -> None:
    """The plans of the two range queries the endpoints send, at this size."""
    zone_day = "(DATE '2026-12-08' + TIME '00:00') AT TIME ZONE 'America/Los_Angeles'"
    for label, sql in (
        ("day board: sessions_on_day",
         f"SELECT * FROM sessions WHERE site_id = 'fullerton' AND starts_at >= {zone_day} "
         f"AND starts_at < {zone_day} + interval '1 day' ORDER BY starts_at, chair_id"),
        ("availability: chair_book",
         "SELECT chair_id, starts_at, ends_at FROM sessions WHERE chair_id IN (1, 2) "
         "AND status IN ('scheduled', 'checked_in', 'completed') "
         "AND starts_at >= TIMESTAMPTZ '2026-12-06 08:00Z' AND starts_at < TIMESTAMPTZ '2027-02-20 08:00Z'"),
        ("next starts: chair_book over 8 weeks + a course",
         "SELECT chair_id, starts_at, ends_at FROM sessions WHERE chair_id IN (1, 2) "
         "AND status IN ('scheduled', 'checked_in', 'completed') "
         "AND starts_at >= TIMESTAMPTZ '2026-12-06 08:00Z' AND starts_at < TIMESTAMPTZ '2027-04-03 07:00Z'"),
    ):
        print(f"  EXPLAIN ANALYZE {label}:")
        for (line,) in raw.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"):
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=100, help="requests per endpoint per size")
    parser.add_argument("--profile", action="store_true", help="cProfile 20 requests of each at 1M")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the range queries at each size")
    parser.add_argument("--drop-exclusion", action="store_true",
                        help="fill without the chair-overlap exclusion constraint (its GiST upkeep is most of the "
                             "1M fill); the reads do not use that index")
    args = parser.parse_args()
    print_header("availability search, next-start search and day board at 10k and 1M stored sessions")
    if args.drop_exclusion:
        print("NOTE: ex_sessions_chair_overlap dropped for the fill (--drop-exclusion)")

    sizes = {10_000: f"{DATABASE}_10k", 1_000_000: f"{DATABASE}_1m"}
    targets: dict[int, Target] = {}
    with ExitStack() as stack:
        for size, database in sizes.items():
            stack.enter_context(bench_database(database))
            seconds = build(database, size, drop_exclusion=args.drop_exclusion)
            print(f"\n{stored(database):,} sessions stored in {database} (filled and analysed in {seconds:.1f} s)")
            if args.explain:
                with psycopg.connect(libpq_url(database)) as raw:
                    explain(raw)
        for size, database in sizes.items():
            print(f"\n{size:,} sessions:")
            targets[size] = Target(database)
            targets[size].describe()
        # Alternate the two sizes in blocks of 10 so the machine's noise falls on both alike.
        for first in range(0, args.repeat, 10):
            for target in targets.values():
                target.run(first, min(10, args.repeat - first))
        if args.profile:
            print("\n1,000,000 sessions: == availability")
            profile_top(lambda: targets[1_000_000].availability(0), 20, limit=20)
            print("1,000,000 sessions: == day board")
            profile_top(lambda: targets[1_000_000].board(0), 20, limit=20)
            print("1,000,000 sessions: == next starts (Fullerton)")
            profile_top(lambda: targets[1_000_000].next_starts(0), 20, limit=20)
            print("1,000,000 sessions: == next starts (every site)")
            profile_top(lambda: targets[1_000_000].next_starts(0, every_site=True), 5, limit=20)
        for target in targets.values():
            target.close()
    results = {size: target.samples for size, target in targets.items()}

    print(f"\n{'endpoint':14} {'sessions':>10} {'n':>4} {'median ms':>10} {'p95 ms':>8} {'goal ms':>8}  verdict")
    verdicts = []
    for label, goal in GOALS.items():
        for size, samples in results.items():
            median, p95 = ms(samples[label])
            met = median <= goal
            verdicts.append(met)
            print(f"{label:14} {size:>10,} {len(samples[label]):>4} {median:>10.2f} {p95:>8.2f} {goal:>8.0f}  "
                  f"{'met' if met else f'MISSED by {median / goal:.1f}x'}")
    for label in INFO:
        for size, samples in results.items():
            median, p95 = ms(samples[label])
            print(f"{label:14} {size:>10,} {len(samples[label]):>4} {median:>10.2f} {p95:>8.2f} {'-':>8}  (info)")
    print()
    for label in GOALS:
        growth = ms(results[1_000_000][label])[0] / ms(results[10_000][label])[0]
        verdicts.append(growth <= GOAL_GROWTH)
        print(f"{label:14} 1M / 10k median ratio {growth:.2f}   goal <= {GOAL_GROWTH}: "
              f"{'met' if growth <= GOAL_GROWTH else 'MISSED'}")
    print(f"\nall goals met: {all(verdicts)}")


if __name__ == "__main__":
    main()
