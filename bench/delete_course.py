"""Deleting one course, one session and one user on PostgreSQL at 10 thousand and at 1 million stored
sessions, with and without the foreign-key indexes of migration 0003.

    .venv/bin/python bench/delete_course.py [--repeat N] [--slow-repeat N] [--keep-exclusion]

There is no API to delete a course; the SQL a whole-course delete needs is timed directly (psycopg):
    DELETE FROM session_events    WHERE session_id IN (SELECT id FROM sessions WHERE course_id = :c)
    DELETE FROM treatment_records WHERE session_id IN (SELECT id FROM sessions WHERE course_id = :c)
    DELETE FROM course_events WHERE course_id = :c;  DELETE FROM assessments WHERE course_id = :c
    DELETE FROM sessions WHERE course_id = :c
    DELETE FROM courses  WHERE id = :c
and, on their own, `DELETE FROM sessions WHERE id = :s` (a scheduled session: any session can be what a
make-up's makeup_for_id points at, so PostgreSQL must look for one) and `DELETE FROM users WHERE id = :u`
(a user nothing refers to; six foreign keys point at users). Each repetition runs in a transaction
that is rolled back (untimed), so every repetition deletes from the same table.

"Without" is the same database and the same statements in a transaction that first drops the indexes
migration 0003 creates (DROP INDEX is transactional on PostgreSQL; the rollback restores them, no
rebuild). With and without alternate repetition by repetition, on their own connections, so the
machine's noise falls on both alike. The 10k figures are the baseline the 1M figures are divided by.

The fill reuses bench/reads.py's (INSERT ... SELECT over generate_series; every 36 sessions of a chair
and hour are a course), then adds what a course's history holds: session 10 of every course is a
no-show and session 36 its make-up (makeup_for_id), every completed session has its check_in and
complete events and a treatment record, every course 3 PHQ-9 scores and completed courses a `complete`
course event. The chair-overlap exclusion constraint is dropped for the fill unless --keep-exclusion
(deletes never check it; its GiST upkeep is most of the fill). Both databases are dropped at the end.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import reads
from _common import ROOT, bench_database, libpq_url, ms, print_header

DATABASE = "tms_bench_delete"
NOW = reads.NOW
SIZES = {10_000: f"{DATABASE}_10k", 1_000_000: f"{DATABASE}_1m"}
PICKS = 20  # courses and sessions deleted in rotation
GOAL_GROWTH = 1.5  # with the indexes, 1M / 10k median


def migration_indexes() -> list[tuple[str, str, list[str]]]:
    """The indexes migration 0003 creates, read from the migration itself."""
    path = ROOT / "migrations" / "versions" / "0003_foreign_key_indexes.py"
    spec = importlib.util.spec_from_file_location("migration_0003", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.INDEXES)


def add_history(database: str) -> int:
    """Make-ups, session events, treatment records, PHQ-9 scores, course events; the id of a spare user."""
    with psycopg.connect(libpq_url(database)) as raw:
        users = dict(raw.execute("SELECT role, id FROM users").fetchall())
        desk, tech, clinician = users["front_desk"], users["technician"], users["clinician"]
        # The rows hold their foreign keys by construction: no per-row RI trigger.
        raw.execute("SET session_replication_role = replica")
        raw.execute(
            "UPDATE sessions m SET kind = 'makeup', makeup_for_id = o.id FROM sessions o "
            "WHERE m.number = 36 AND o.number = 10 AND o.course_id = m.course_id")
        raw.execute("UPDATE sessions SET status = 'no_show', cancelled_by = 'patient' "
                    "WHERE number = 10 AND status = 'completed'")
        raw.execute(
            "INSERT INTO session_events (session_id, at, user_id, action, from_status, to_status) "
            "SELECT id, starts_at - interval '5 minutes', %s, 'check_in', 'scheduled', 'checked_in' "
            "FROM sessions WHERE status = 'completed' "
            "UNION ALL SELECT id, ends_at, %s, 'complete', 'checked_in', 'completed' "
            "FROM sessions WHERE status = 'completed' "
            "UNION ALL SELECT id, ends_at + interval '15 minutes', NULL, 'no_show', 'scheduled', 'no_show' "
            "FROM sessions WHERE status = 'no_show'", (desk, tech))
        raw.execute(
            "INSERT INTO treatment_records (session_id, motor_threshold, intensity, frequency, pulses, side_effects, "
            "                               discomfort, technician_id, recorded_at) "
            "SELECT id, 55, 120, 10, 3000, '[]', 2, %s, ends_at FROM sessions WHERE status = 'completed'", (tech,))
        raw.execute(
            "INSERT INTO assessments (course_id, instrument, score, taken_on, recorded_by, recorded_at) "
            "SELECT c.id, 'phq9', 18 - 4 * k, c.start_date + 14 * k, %s, c.start_date + 14 * k "
            "FROM courses c CROSS JOIN generate_series(0, 2) k", (clinician,))
        raw.execute(
            "INSERT INTO course_events (course_id, at, user_id, action) "
            "SELECT id, %s, %s, 'complete' FROM courses WHERE status = 'completed'", (NOW, tech))
        spare = raw.execute("INSERT INTO users (username, role, password_hash, active) "
                            "VALUES ('bench-leaver', 'front_desk', 'unused', false) RETURNING id").fetchone()[0]
        raw.commit()
        raw.autocommit = True
        raw.execute("VACUUM ANALYZE")
    return spare


def build(database: str, size: int, *, keep_exclusion: bool) -> tuple[int, float]:
    started = time.perf_counter()
    reads.build(database, size, drop_exclusion=not keep_exclusion)
    spare = add_history(database)
    return spare, time.perf_counter() - started


def describe(database: str) -> None:
    with psycopg.connect(libpq_url(database)) as raw:
        counts = {t: raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("sessions", "courses", "session_events", "treatment_records", "assessments")}
        makeups = raw.execute("SELECT count(*) FROM sessions WHERE makeup_for_id IS NOT NULL").fetchone()[0]
        size = raw.execute("SELECT pg_size_pretty(pg_table_size('sessions')), "
                           "pg_size_pretty(pg_relation_size('ix_sessions_makeup_for_id'))").fetchone()
    print("  " + ", ".join(f"{n:,} {t}" for t, n in counts.items()) + f", {makeups:,} make-ups; "
          f"sessions table {size[0]}, ix_sessions_makeup_for_id {size[1]}")


class Target:
    """One database and one variant (indexes kept or dropped), on a connection of its own."""

    def __init__(self, database: str, spare_user: int, drop: list[tuple[str, str, list[str]]]):
        self.conn = psycopg.connect(libpq_url(database))
        self.drop = drop
        self.spare_user = spare_user
        # Completed courses away from Fullerton, each with its make-up, events and records.
        self.courses = [r[0] for r in self.conn.execute(
            "SELECT c.id FROM courses c WHERE c.status = 'completed' AND c.site_id LIKE 'bench-%%' "
            "AND EXISTS (SELECT 1 FROM sessions s WHERE s.course_id = c.id AND s.makeup_for_id IS NOT NULL) "
            "ORDER BY md5(c.id::text) LIMIT %s", (PICKS,))]
        # Scheduled sessions, not yet referenced by anything.
        self.sessions = [r[0] for r in self.conn.execute(
            "SELECT id FROM sessions WHERE status = 'scheduled' AND number = 20 ORDER BY md5(id::text) LIMIT %s",
            (PICKS,))]
        self.conn.rollback()
        assert len(self.courses) == PICKS and len(self.sessions) == PICKS, (self.courses, self.sessions)
        self.samples: dict[str, list[float]] = {k: [] for k in (
            "course", "  session_events", "  treatment_records", "  course_events+assessments", "  sessions",
            "  courses", "one session", "one user")}

    def _begin(self) -> None:
        for name, _, _ in self.drop:
            self.conn.execute(f"DROP INDEX {name}")

    def _time(self, label: str | None, sql: str, params: tuple) -> float:
        started = time.perf_counter()
        self.conn.execute(sql, params)
        seconds = time.perf_counter() - started
        if label:
            self.samples[label].append(seconds)
        return seconds

    def run(self, i: int, *, record: bool = True) -> None:
        course = self.courses[i % PICKS]
        session = self.sessions[i % PICKS]
        steps = (
            ("  session_events",
             ["DELETE FROM session_events WHERE session_id IN (SELECT id FROM sessions WHERE course_id = %s)"]),
            ("  treatment_records",
             ["DELETE FROM treatment_records WHERE session_id IN (SELECT id FROM sessions WHERE course_id = %s)"]),
            ("  course_events+assessments",
             ["DELETE FROM course_events WHERE course_id = %s", "DELETE FROM assessments WHERE course_id = %s"]),
            ("  sessions", ["DELETE FROM sessions WHERE course_id = %s"]),
            ("  courses", ["DELETE FROM courses WHERE id = %s"]),
        )
        try:
            self._begin()
            total = 0.0
            for label, statements in steps:
                seconds = sum(self._time(None, sql, (course,)) for sql in statements)
                if record:
                    self.samples[label].append(seconds)
                total += seconds
            if record:
                self.samples["course"].append(total)
        finally:
            self.conn.rollback()
        try:
            self._begin()
            self.conn.execute("DELETE FROM session_events WHERE session_id = %s", (session,))  # none, as filled
            self._time("one session" if record else None, "DELETE FROM sessions WHERE id = %s", (session,))
        finally:
            self.conn.rollback()
        try:
            self._begin()
            self._time("one user" if record else None, "DELETE FROM users WHERE id = %s", (self.spare_user,))
        finally:
            self.conn.rollback()

    def triggers(self) -> list[str]:
        """EXPLAIN ANALYZE's foreign-key trigger lines for the course's sessions and for the spare user."""
        lines = []
        try:
            self._begin()
            course = self.courses[0]
            self.conn.execute("DELETE FROM session_events WHERE session_id IN "
                              "(SELECT id FROM sessions WHERE course_id = %s)", (course,))
            self.conn.execute("DELETE FROM treatment_records WHERE session_id IN "
                              "(SELECT id FROM sessions WHERE course_id = %s)", (course,))
            for sql, params in ((f"DELETE FROM sessions WHERE course_id = {course}", ()),
                                (f"DELETE FROM users WHERE id = {self.spare_user}", ())):
                plan = [r[0] for r in self.conn.execute(f"EXPLAIN (ANALYZE) {sql}", params)]
                lines.append(f"{sql}: " + "; ".join(
                    line.replace("Trigger for constraint ", "") for line in plan if line.startswith("Trigger for")))
        finally:
            self.conn.rollback()
        return lines

    def close(self) -> None:
        self.conn.close()


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40, help="repetitions of each delete per size and variant")
    parser.add_argument("--slow-repeat", type=int, default=8,
                        help="repetitions without the indexes at 1M (each course delete takes seconds there)")
    parser.add_argument("--keep-exclusion", action="store_true",
                        help="fill with the chair-overlap exclusion constraint kept "
                             "(slower fill; deletes do not use it)")
    args = parser.parse_args()
    print_header("deleting a course, a session and a user at 10k and 1M stored sessions, with and without "
                 "the foreign-key indexes of 0003")
    print(f"uptime at start: {uptime()}")
    indexes = migration_indexes()
    print(f"'without' drops, inside each timed transaction: {', '.join(name for name, _, _ in indexes)}")

    targets: dict[tuple[int, str], Target] = {}
    with ExitStack() as stack:
        spares = {}
        for size, database in SIZES.items():
            stack.enter_context(bench_database(database))
            spares[size], seconds = build(database, size, keep_exclusion=args.keep_exclusion)
            print(f"\n{database}: filled and analysed in {seconds:.1f} s")
            describe(database)
        for size, database in SIZES.items():
            for variant, drop in (("with", []), ("without", indexes)):
                target = targets[(size, variant)] = Target(database, spares[size], drop)
                stack.callback(target.close)
        print("\nforeign-key triggers (EXPLAIN ANALYZE, one course's sessions and the spare user, rolled back):")
        for (size, variant), target in targets.items():
            for line in target.triggers():
                print(f"  {size:>9,} {variant:7} {line}")
        for target in targets.values():  # warm-up
            target.run(PICKS - 1, record=False)
        started = time.perf_counter()
        for i in range(args.repeat):
            for (size, variant), target in targets.items():
                if variant == "without" and size == 1_000_000 and i >= args.slow_repeat:
                    continue
                target.run(i)
        print(f"\nmeasured in {time.perf_counter() - started:.1f} s")

    labels = list(next(iter(targets.values())).samples)
    print(f"\n{'delete':28} {'sessions':>10} {'indexes':>8} {'n':>4} {'median ms':>10} {'p95 ms':>9}")
    for label in labels:
        for (size, variant), target in targets.items():
            median, p95 = ms(target.samples[label])
            print(f"{label:28} {size:>10,} {variant:>8} {len(target.samples[label]):>4} {median:>10.2f} {p95:>9.2f}")
    print()
    verdicts = []
    for label in ("course", "one session", "one user"):
        with_10k = ms(targets[(10_000, "with")].samples[label])[0]
        with_1m = ms(targets[(1_000_000, "with")].samples[label])[0]
        without_10k = ms(targets[(10_000, "without")].samples[label])[0]
        without_1m = ms(targets[(1_000_000, "without")].samples[label])[0]
        growth = with_1m / with_10k
        verdicts.append(growth <= GOAL_GROWTH)
        print(f"{label:12} with indexes 1M / 10k {growth:5.2f} (goal <= {GOAL_GROWTH}: "
              f"{'met' if growth <= GOAL_GROWTH else 'MISSED'});  without: 1M / 10k {without_1m / without_10k:7.1f};  "
              f"without / with at 1M {without_1m / with_1m:7.1f}, at 10k {without_10k / with_10k:5.1f}")
    print(f"\nall goals met: {all(verdicts)}")
    print(f"uptime at end: {uptime()}")


if __name__ == "__main__":
    main()
