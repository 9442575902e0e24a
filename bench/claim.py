"""The dispatcher's claim on PostgreSQL with 10 thousand and with 1 million reminder rows.

    .venv/bin/python bench/claim.py [--repeat 200] [--explain]

The claim is the statement services.dispatch.claim_statement builds, as dispatch_due issues it
(SQLAlchemy, the app's engine and session factory, batch 50, lease 5 minutes):

    UPDATE reminders SET lease_until = :now + lease, leased_by = :worker, attempts = attempts + 1, updated_at = :now
    WHERE id IN (SELECT id FROM reminders
                 WHERE status = 'pending' AND send_at <= :now AND (lease_until IS NULL OR lease_until < :now)
                 ORDER BY send_at, id LIMIT 50 FOR UPDATE SKIP LOCKED)
    RETURNING id

Each repetition opens a transaction (SELECT 1, untimed), times the claim, then (for information)
the query that loads the claimed reminders with their session, patient, site and policy
(services.dispatch.claimed_statement), and rolls back, so every repetition claims the same 50 rows
from the same table. The two sizes alternate in blocks of 10 repetitions.

Fill (bench/_common.add_outbox, generated SQL): the demo clinic, 20 sites x 10 chairs, 10,000 patients
with a course and a scheduled session each, and at both sizes the same 3,000 pending reminders - 300
due (send_at in the last 5 minutes) and 2,700 spread over the coming week - the rest of the rows
settled history over the two years before (70 % delivered, 10 % sent, 10 % cancelled, 5 % expired,
5 % failed / undelivered / suppressed). History reminders point at the same 10,000 sessions (each
carries ~100 at 1 M; the claim never reads them).

Two states of the same table, the goals on the second:
  1. Between two vacuums (for information). The most recent part of the history - as many rows as
     autovacuum lets die before it vacuums the table (50 + 20 %: 2,050 at 10 k, 200,050 at 1 M) - was
     pending, due, at the last VACUUM and has been sent since (one UPDATE, as the dispatcher's), so
     the partial index ix_reminders_pending_send_at still holds their entries, the earliest send_at
     first, exactly where the claim starts reading. Autovacuum is off for the table (the bench
     vacuums when it says). The first claim visits their heap rows and marks the entries dead; its
     time is printed; then repeat/2 claims at each size.
  2. After VACUUM ANALYZE: `--repeat` claims at each size (the goals: median <= 20 ms at 1 M, 1 M / 10 k
     <= 1.5).
Two databases (tms_bench_claim_10k, tms_bench_claim_1m), dropped at the end.
"""
from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import add_outbox, add_texting_sites, bench_database, libpq_url, make_app, ms, print_header
from sqlalchemy import text

from tms_scheduler.services.dispatch import claim_statement, claimed_statement

DATABASE = "tms_bench_claim"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
SIZES = {10_000: f"{DATABASE}_10k", 1_000_000: f"{DATABASE}_1m"}
SESSIONS, DUE, LATER = 10_000, 300, 2_700
GOAL_MS, GOAL_GROWTH = 20.0, 1.5


def churn_of(rows: int) -> int:
    """How many rows autovacuum lets die before it vacuums a table of `rows` (PostgreSQL's defaults:
    50 + 20 % of the table): the sent reminders whose index entries the claim may meet at worst."""
    return 50 + rows // 5


def build(database: str, rows: int) -> float:
    """Filled, analysed, and the churn's `churn_of(rows)` reminders sent since the VACUUM (not vacuumed)."""
    started = time.perf_counter()
    make_app(database, NOW).extensions["tms"].engine.dispose()  # migrated, demo clinic seeded
    churn = churn_of(rows)
    with psycopg.connect(libpq_url(database)) as raw:
        chairs = add_texting_sites(raw)
        # The churn: the earliest due reminders, pending at the VACUUM, sent after it.
        add_outbox(raw, NOW, chairs, sessions=SESSIONS, due=churn + DUE, later=LATER,
                   history=rows - churn - DUE - LATER)
        raw.execute("ALTER TABLE reminders SET (autovacuum_enabled = false)")  # vacuumed when the bench says
        raw.commit()
        raw.autocommit = True
        raw.execute("VACUUM ANALYZE")
        first = raw.execute("SELECT min(id) FROM reminders").fetchone()[0]
        raw.execute("UPDATE reminders SET status = 'sent', twilio_sid = 'SM' || md5(id::text), sent_at = send_at, "
                    "attempts = 1, lease_until = NULL, leased_by = 'earlier', updated_at = send_at "
                    "WHERE id < %s", (first + churn,))
        raw.execute("ANALYZE reminders")
    return time.perf_counter() - started


def vacuum(database: str) -> None:
    with psycopg.connect(libpq_url(database), autocommit=True) as raw:
        raw.execute("VACUUM ANALYZE reminders")


def describe(database: str) -> str:
    with psycopg.connect(libpq_url(database)) as raw:
        total, pending, due = raw.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'pending'), "
            "count(*) FILTER (WHERE status = 'pending' AND send_at <= %s) FROM reminders", (NOW,)).fetchone()
        table, index = raw.execute(
            "SELECT pg_total_relation_size('reminders'), pg_relation_size('ix_reminders_pending_send_at')").fetchone()
    return (f"{total:,} reminders ({pending:,} pending, {due:,} due); table with indexes {table / 2**20:.1f} MB, "
            f"ix_reminders_pending_send_at {index / 2**10:.0f} kB")


class Target:
    """One filled database and the app's runtime on it."""

    def __init__(self, database: str):
        self.app = make_app(database, NOW, seed=False)
        self.rt = self.app.extensions["tms"].runtime
        self.claims: list[float] = []
        self.loads: list[float] = []
        self.unvacuumed: list[float] = []  # claims while the churn's dead index entries are there

    def once(self, claims: list[float] | None = None) -> None:
        with self.rt.sessions() as db:
            db.execute(text("SELECT 1"))  # the transaction's BEGIN, untimed
            started = time.perf_counter()
            ids = list(db.scalars(claim_statement(self.rt.now(), "bench", self.rt.texting)))
            claimed = time.perf_counter()
            rows = db.execute(claimed_statement(ids)).all()
            loaded = time.perf_counter()
            db.rollback()
        assert len(ids) == len(rows) == self.rt.texting.batch, (len(ids), len(rows))
        if claims is not None:
            claims.append(claimed - started)
            return
        self.claims.append(claimed - started)
        self.loads.append(loaded - claimed)

    def explain(self, claim_only: bool = False) -> None:
        engine = self.app.extensions["tms"].engine
        for label, statement in (("the claim", claim_statement(self.rt.now(), "bench", self.rt.texting)),):
            compiled = statement.compile(dialect=engine.dialect)
            with engine.connect() as conn:
                plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params).all()
                conn.rollback()
            print(f"  EXPLAIN (ANALYZE, BUFFERS) {label}:")
            for (line,) in plan:
                print(f"    {line}")
        if claim_only:
            return
        with self.rt.sessions() as db:
            ids = list(db.scalars(claim_statement(self.rt.now(), "bench", self.rt.texting)))
            compiled = claimed_statement(ids).compile(dialect=engine.dialect,
                                                      compile_kwargs={"render_postcompile": True})
            plan = db.connection().exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params).all()
            db.rollback()
        print("  EXPLAIN (ANALYZE, BUFFERS) loading the 50 claimed:")
        for (line,) in plan:
            print(f"    {line}")

    def close(self) -> None:
        self.app.extensions["tms"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200, help="claims per size")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the claim at each size")
    args = parser.parse_args()
    print_header("the dispatcher's claim at 10k and 1M reminder rows")

    targets: dict[int, Target] = {}
    with ExitStack() as stack:
        for size, database in SIZES.items():
            stack.enter_context(bench_database(database))
            seconds = build(database, size)
            print(f"\n{database}: {describe(database)} (filled and analysed in {seconds:.1f} s)")
        for size, database in SIZES.items():
            targets[size] = Target(database)
        # Between two vacuums: the churn's rows left dead entries in ix_reminders_pending_send_at.
        # The first claims meet them in the heap and mark them dead in the index; later ones step over.
        for size, target in targets.items():
            first: list[float] = []
            target.once(first)
            print(f"\n{size:,} rows, {churn_of(size):,} sent since the last VACUUM: the first claim took "
                  f"{first[0] * 1000:.1f} ms")
            if args.explain:
                print("  the next claim, EXPLAIN (ANALYZE, BUFFERS) (before the VACUUM):")
                target.explain(claim_only=True)
        for _ in range(0, args.repeat // 2, 10):
            for target in targets.values():
                for _ in range(10):
                    target.once(target.unvacuumed)
        for size, database in SIZES.items():
            vacuum(database)
            for _ in range(10):  # warm-up: caches, prepared statements
                targets[size].once()
            targets[size].claims.clear()
            targets[size].loads.clear()
            if args.explain:
                print(f"\n{size:,} rows, vacuumed:")
                targets[size].explain()
        for first in range(0, args.repeat, 10):
            for target in targets.values():
                for _ in range(min(10, args.repeat - first)):
                    target.once()
        for target in targets.values():
            target.close()

    print(f"\n{'what':46} {'rows':>10} {'n':>4} {'median ms':>10} {'p95 ms':>8}")
    for size, target in targets.items():
        for label, samples in (("claim (UPDATE ... RETURNING)", target.claims),
                               ("(info) load of the 50 claimed", target.loads),
                               (f"(info) claim, {churn_of(size):,} sent since VACUUM", target.unvacuumed)):
            median, p95 = ms(samples)
            print(f"{label:46} {size:>10,} {len(samples):>4} {median:>10.2f} {p95:>8.2f}")
    claim_1m = ms(targets[1_000_000].claims)[0]
    growth = claim_1m / ms(targets[10_000].claims)[0]
    load_growth = ms(targets[1_000_000].loads)[0] / ms(targets[10_000].loads)[0]
    print(f"\nclaim median at 1M: {claim_1m:.2f} ms   goal <= {GOAL_MS:.0f} ms: "
          f"{'met' if claim_1m <= GOAL_MS else 'MISSED'}")
    print(f"claim 1M / 10k median ratio: {growth:.2f}   goal <= {GOAL_GROWTH}: "
          f"{'met' if growth <= GOAL_GROWTH else 'MISSED'}")
    print(f"(info) load 1M / 10k median ratio: {load_growth:.2f}")
    unvacuumed = ms(targets[1_000_000].unvacuumed)[0] / ms(targets[10_000].unvacuumed)[0]
    print(f"(info) claim between vacuums, 1M / 10k median ratio: {unvacuumed:.2f}")


if __name__ == "__main__":
    main()
