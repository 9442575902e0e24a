"""A text the dispatcher has sent is put on record even if the database goes away for a moment: the
record is tried again until the batch's lease ends, so no other dispatcher claims and sends it again.
(tests/integration/test_drills.py shows it end to end, restarting PostgreSQL mid-send.)"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import exc as sa_exc

from tms_scheduler.services import dispatch


def lost_connection() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT ...", {}, ConnectionError("server closed the connection"))


@pytest.fixture
def runtime(app):
    return app.extensions["tms"].runtime


@pytest.fixture
def quick_retries(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(dispatch.time, "sleep", slept.append)
    return slept


def lease(runtime, seconds: float) -> dispatch._Lease:
    return dispatch._Lease("worker-1", [1], runtime.now() + timedelta(seconds=seconds))


def test_a_record_refused_by_a_lost_connection_is_tried_again_until_it_lands(runtime, monkeypatch, quick_retries):
    tries = []

    def flaky(rt, values):
        tries.append(values["sent_sid"])
        if len(tries) < 4:
            raise lost_connection()
        return True

    monkeypatch.setattr(dispatch, "_record_sent", flaky)

    assert dispatch._record_sent_surely(runtime, {"sent_reminder_id": 1, "sent_sid": "SM1"}, lease(runtime, 300))

    assert tries == ["SM1"] * 4
    assert quick_retries == [0.1, 0.2, 0.4]


def test_the_waits_between_tries_stay_short_to_land_before_another_dispatcher_claims(runtime, monkeypatch,
                                                                                       quick_retries):
    tries = []

    def flaky(rt, values):
        tries.append(1)
        if len(tries) < 8:
            raise lost_connection()
        return True

    monkeypatch.setattr(dispatch, "_record_sent", flaky)

    assert dispatch._record_sent_surely(runtime, {"sent_reminder_id": 1, "sent_sid": "SM1"}, lease(runtime, 300))
    assert max(quick_retries) == dispatch.RECORD_RETRY_MOST_SECONDS <= 0.5


def test_past_the_lease_and_the_retry_window_the_failure_is_raised(runtime, clock, monkeypatch):
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the app's clock moves as the dispatcher waits
        slept.append(seconds)
        clock.now += timedelta(seconds=seconds)

    def down(rt, values):
        raise lost_connection()

    monkeypatch.setattr(dispatch.time, "sleep", sleep)
    monkeypatch.setattr(dispatch, "_record_sent", down)

    with pytest.raises(sa_exc.OperationalError):
        dispatch._record_sent_surely(runtime, {"sent_reminder_id": 1, "sent_sid": "SM1"}, lease(runtime, 0.05))
    window = max(runtime.texting.lease, dispatch.RECORD_RETRY_WINDOW).total_seconds()
    assert window - 1 <= sum(slept) <= window  # a short lease still gets the whole window


def test_a_statement_the_database_refuses_is_not_retried(runtime, monkeypatch, quick_retries):
    def refused(rt, values):
        raise sa_exc.ProgrammingError("INSERT ...", {}, Exception("syntax error"))

    monkeypatch.setattr(dispatch, "_record_sent", refused)

    with pytest.raises(sa_exc.ProgrammingError):
        dispatch._record_sent_surely(runtime, {"sent_reminder_id": 1, "sent_sid": "SM1"}, lease(runtime, 300))
    assert quick_retries == []


def test_a_record_already_taken_by_a_try_whose_answer_was_lost_counts_as_recorded(runtime, monkeypatch,
                                                                                   quick_retries):
    def already(rt, values):
        raise sa_exc.IntegrityError("INSERT ...", {}, Exception("duplicate key value violates unique constraint"))

    monkeypatch.setattr(dispatch, "_record_sent", already)
    monkeypatch.setattr(dispatch, "_is_marked_sent", lambda rt, values: True)

    assert dispatch._record_sent_surely(runtime, {"sent_reminder_id": 1, "sent_sid": "SM1"}, lease(runtime, 300))
