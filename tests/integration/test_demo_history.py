"""`seed-demo --history`: the demo clinic's last weeks, replayed through the use cases up to the clock's today."""
from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.factories import row_counts
from tests.integration.conftest import cli_environment, flask_cli
from tests.integration.test_cli import STRONG_KEY, TWILIO, ok
from tests.integration.test_cli import row_counts as file_row_counts
from tms_scheduler.db import migrate, models
from tms_scheduler.domain import lifecycle
from tms_scheduler.services.demo_history import PATIENT_COUNT, ProductionRefused, plan_history, seed_history

TODAY = date(2026, 12, 1)  # the clock fixture's, in Los Angeles


@pytest.fixture
def runtime(app):
    return app.extensions["tms"].runtime


@pytest.fixture
def seeded(runtime, backend):
    started, cpu_started = time.perf_counter(), time.process_time()
    added = seed_history(runtime)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"seed_history on {backend}: {seconds:.1f} s ({cpu:.1f} s of CPU)")
    if backend == "sqlite":  # about 4 s on an idle machine; CPU time, as a loaded machine stretches the wall clock
        assert cpu < 10, f"seeding the history took {cpu:.1f} s of CPU ({seconds:.1f} s)"
    return added


def count(db, query) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(query.subquery()))


def check_history_has_about_30_patients_mid_course_at_both_tms_sites(seeded, db):
    C = models.Course
    with db() as session:
        active = session.execute(select(C.site_id, func.count()).where(C.status == lifecycle.COURSE_ACTIVE)
                                 .group_by(C.site_id)).all()
        starts = list(session.scalars(select(C.start_date)))
    by_site = dict(active)
    assert set(by_site) == {"fullerton", "laguna-hills"}
    assert 25 <= sum(by_site.values()) <= 35
    assert all(min(by_site.values()) >= 10 for _ in by_site)
    # Started one to six weeks ago (a start pushed on by a full chair or a holiday stays within that).
    assert min(starts) >= date(2026, 10, 12) and max(starts) < TODAY
    assert any(s < date(2026, 10, 26) for s in starts) and any(s >= date(2026, 11, 23) for s in starts)
    assert seeded and any("30 patients" in line for line in seeded)


def check_completed_sessions_each_have_their_treatment_record_and_history(seeded, db):
    S, R, E = models.TreatmentSession, models.TreatmentRecord, models.SessionEvent
    completed = count(db, select(S.id).where(S.status == lifecycle.COMPLETED))
    assert completed > 300
    assert count(db, select(R.session_id).join(S, S.id == R.session_id).where(S.status == lifecycle.COMPLETED)) \
        == completed
    assert count(db, select(E.id).where(E.action == "complete")) == completed
    assert count(db, select(E.id).where(E.action == "check_in")) >= completed
    with db() as session:
        records = list(session.scalars(select(R)))
        technicians = {r.technician_id for r in records}
    assert len(technicians) == 1 and None not in technicians  # the demo technician
    assert {r.frequency for r in records} >= {10.0, 50.0, 18.0}
    assert all(r.supervising_physician for r in records)
    # Nothing is completed ahead of the clock: the history ends now.
    with db() as session:
        latest = session.scalar(select(func.max(S.starts_at)).where(S.status == lifecycle.COMPLETED))
    assert latest.date() <= TODAY


def check_missed_sessions_are_made_up(seeded, db):
    S = models.TreatmentSession
    with db() as session:
        missed = list(session.scalars(select(S).where(S.status.in_([lifecycle.NO_SHOW, lifecycle.CANCELLED]),
                                                      S.cancelled_by.is_(None) | (S.cancelled_by == "patient"))))
        makeups = {s.makeup_for_id for s in session.scalars(select(S).where(S.makeup_for_id.is_not(None)))}
    assert any(s.status == lifecycle.NO_SHOW for s in missed)
    assert len(missed) >= 5
    assert {s.id for s in missed} <= makeups


def check_phq9_scores_are_weekly_and_respond_in_the_published_proportions(seeded, db):
    A, C = models.Assessment, models.Course
    with db() as session:
        rows = session.execute(select(A.course_id, A.score, A.taken_on).order_by(A.course_id, A.taken_on, A.id)).all()
        starts = dict(session.execute(select(C.id, C.start_date)).all())
    scores: dict[int, list[tuple[int, date]]] = {}
    for course_id, score, taken_on in rows:
        scores.setdefault(course_id, []).append((score, taken_on))
    assert set(scores) == set(starts)  # every course has its baseline, before its first session
    assert all(scores[c][0][1] <= starts[c] for c in starts)
    long_ones = [c for c in starts if (TODAY - starts[c]).days >= 21]
    assert long_ones and all(len(scores[c]) >= 3 for c in long_ones)
    responding = [c for c in scores if scores[c][-1][0] <= scores[c][0][0] / 2]
    remitting = [c for c in scores if scores[c][-1][0] < 5]
    assert responding and remitting

    plans = plan_history(TODAY)
    assert len(plans) == PATIENT_COUNT == 30
    response = sum(p.final <= p.baseline / 2 for p in plans) / len(plans)
    remission = sum(p.final < 5 for p in plans) / len(plans)
    assert 0.5 <= response <= 0.6 and 0.28 <= remission <= 0.38


def check_reminders_were_sent_and_answered_and_a_closure_lies_ahead(seeded, db):
    M, R, Cl = models.Message, models.Reminder, models.Closure
    assert count(db, select(M.id).where(M.direction == "out")) >= 20
    assert count(db, select(R.id).where(R.status == "sent")) >= 20
    assert count(db, select(M.id).where(M.direction == "in")) >= 10
    assert count(db, select(models.SessionEvent.id).where(models.SessionEvent.action == "confirm")) >= 5
    assert count(db, select(R.id).where(R.status == "pending")) > 0  # the scheduler's to send from now on
    with db() as session:
        closures = list(session.scalars(select(Cl)))
    assert [c.site_id for c in closures] == ["laguna-hills"] and closures[0].date > TODAY
    assert count(db, select(models.SessionEvent.id).where(models.SessionEvent.action == "move")) > 0
    assert count(db, select(models.AuditEvent.id)) > 500


CHECKS = (check_history_has_about_30_patients_mid_course_at_both_tms_sites,
          check_completed_sessions_each_have_their_treatment_record_and_history, check_missed_sessions_are_made_up,
          check_phq9_scores_are_weekly_and_respond_in_the_published_proportions,
          check_reminders_were_sent_and_answered_and_a_closure_lies_ahead)


def test_the_history_on_either_database_and_a_second_run_adds_nothing(seeded, runtime, db):
    """One replay per database (seconds each), checked from every side, then run again: nothing more."""
    for check in CHECKS:
        check(seeded, db)
    before = row_counts(db)

    assert seed_history(runtime) == []

    assert row_counts(db) == before


def test_production_refuses_and_writes_nothing(runtime, db):
    before = row_counts(db)

    with pytest.raises(ProductionRefused):
        seed_history(runtime, env="production")

    assert row_counts(db) == before


# --- the command line, as dev.py serve runs it (the real clock: today)

@pytest.fixture
def upgraded(sqlite_file_url) -> dict[str, str]:
    migrate.upgrade(sqlite_file_url)
    return cli_environment(DATABASE_URL=sqlite_file_url)


def test_seed_demo_history_on_the_command_line_loads_once(upgraded, sqlite_file_url):
    first = ok(flask_cli("seed-demo", "--history", env=upgraded, timeout=120))
    after_first = file_row_counts(sqlite_file_url)

    second = ok(flask_cli("seed-demo", "--history", env=upgraded, timeout=120))

    assert "added site fullerton" in first and "30 patients" in first
    assert after_first["patients"] == 30 and after_first["treatment_records"] > 0
    assert "demo history already loaded" in second and "added" not in second
    assert file_row_counts(sqlite_file_url) == after_first


def test_seed_demo_history_is_refused_in_production(upgraded, sqlite_file_url):
    before = file_row_counts(sqlite_file_url)

    done = flask_cli("seed-demo", "--history",
                     env={**upgraded, **TWILIO, "TMS_ENV": "production", "SECRET_KEY": STRONG_KEY})

    assert done.returncode != 0
    assert "never in production" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert file_row_counts(sqlite_file_url) == before
