"""The reminder dispatcher in-process, on SQLite and PostgreSQL, sending through the real Twilio SDK
to the project's own Twilio-compatible peer (tests/peers/twilio_peer.py), never a patched function.

The course is the standard 10 Hz course at Fullerton from Monday 2027-03-01 at 09:00, booked
through the API; the default policy gives its first session a text 48 h before (Saturday 02-27
09:00) and 24 h before (Sunday 02-28 09:00); quiet hours are 21:00-08:00 in Los Angeles. The
app's clock is moved to when a test runs the dispatcher.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from tests.factories import book_course, create_patient, local, session_number
from tests.peers.twilio_peer import TwilioPeer
from tms_scheduler.bootstrap import make_sender
from tms_scheduler.db import models
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.services.runtime import Runtime
from tms_scheduler.settings import Settings
from tms_scheduler.sms.log_sender import LogSender
from tms_scheduler.sms.sender import Outgoing
from tms_scheduler.sms.twilio_sender import TwilioSender

CLINIC_NUMBER = "+17145550160"
SDK_TIMEOUT_SECONDS = 1
RETRY_BASE = timedelta(seconds=30)
MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=5)
FIRST_48H = local(2027, 2, 27, 9, 0)  # the 48 h text of the course's first session is due
FIRST_24H = local(2027, 2, 28, 9, 0)  # and its 24 h text


@pytest.fixture(autouse=True)
def sdk_environment(monkeypatch):
    """The SDK reads TWILIO_REGION / TWILIO_EDGE (they rewrite the host) and requests reads proxies."""
    for name in ("TWILIO_REGION", "TWILIO_EDGE", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                 "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def peer():
    with TwilioPeer() as peer:
        yield peer


@pytest.fixture
def rt(app, peer) -> Runtime:
    """The app's runtime (its clock, its status callback URL) sending through Twilio's SDK to the peer.

    One text at a time: these tests step the app's one clock between sends.
    """
    runtime = app.extensions["tms"].runtime
    sender = TwilioSender(account_sid=peer.account_sid, auth_token=peer.auth_token, api_url=peer.url,
                          from_number=CLINIC_NUMBER, timeout=SDK_TIMEOUT_SECONDS)
    return replace(runtime, texting=replace(runtime.texting, sender=sender, max_attempts=MAX_ATTEMPTS,
                                            retry_base=RETRY_BASE, lease=LEASE, concurrency=1))


def dispatch(rt: Runtime, clock, when: datetime, *, worker: str = "dispatcher-1", **options):
    clock.now = when
    return dispatch_due(rt, worker=worker, **options)


def reminder_rows(db, patient_id: int) -> list[models.Reminder]:
    with db() as session:
        return list(session.scalars(select(models.Reminder).where(models.Reminder.patient_id == patient_id)
                                    .order_by(models.Reminder.send_at, models.Reminder.id)))


def first_two(db, patient_id: int) -> tuple[models.Reminder, models.Reminder]:
    """The 48 h and the 24 h text of the course's first session."""
    first, second = reminder_rows(db, patient_id)[:2]
    assert (first.minutes_before, second.minutes_before) == (2880, 1440)
    return first, second


def reminder(db, reminder_id: int) -> models.Reminder:
    with db() as session:
        return session.get(models.Reminder, reminder_id)


def patient_row(db, patient_id: int) -> models.Patient:
    with db() as session:
        return session.get(models.Patient, patient_id)


def messages_of(db, patient_id: int) -> list[models.Message]:
    with db() as session:
        return list(session.scalars(select(models.Message).where(models.Message.patient_id == patient_id)
                                    .order_by(models.Message.id)))


@pytest.fixture
def course(front_desk) -> dict:
    return book_course(front_desk)


@pytest.fixture
def patient(db, course) -> models.Patient:
    return patient_row(db, course["patient_id"])


# --- sent, and when

def test_a_due_reminder_goes_through_the_sdk_with_basic_auth_and_the_status_callback_and_is_recorded_sent(
        rt, clock, db, peer, patient):
    due, later = first_two(db, patient.id)

    report = dispatch(rt, clock, FIRST_48H)

    assert report.counts == {"sent": 1}
    [record] = peer.records()
    assert record["outcome"] == "accepted", "the peer checks Basic auth (account SID, auth token) first"
    assert record["account_sid"] == peer.account_sid
    assert (record["to"], record["from"]) == (patient.phone, CLINIC_NUMBER)
    assert record["status_callback"] == rt.texting.status_callback_url == "http://127.0.0.1:5000/webhooks/twilio/status"
    assert record["body"].startswith(f"Hi {patient.first_name},")
    sent = reminder(db, due.id)
    assert (sent.status, sent.twilio_sid, sent.sent_at, sent.attempts) == ("sent", record["sid"], FIRST_48H, 1)
    assert (sent.lease_until, sent.error_code) == (None, None)
    [message] = messages_of(db, patient.id)
    assert (message.direction, message.phone, message.body, message.status, message.twilio_sid, message.reminder_id,
            message.at) == ("out", patient.phone, record["body"], "sent", record["sid"], due.id, FIRST_48H)
    assert reminder(db, later.id).status == "pending"


def test_a_reminder_is_not_sent_before_its_send_at(rt, clock, db, peer, patient):
    due, _ = first_two(db, patient.id)

    report = dispatch(rt, clock, FIRST_48H - timedelta(minutes=1))

    assert report.handled == 0
    assert peer.records() == []
    waiting = reminder(db, due.id)
    assert (waiting.status, waiting.attempts, waiting.lease_until) == ("pending", 0, None)


# --- failures

@pytest.mark.parametrize(("failure", "code"), [("500", 20500), ("503", 20503), ("429", 20429), ("timeout", None),
                                               ("reset", None)])
def test_a_transient_failure_is_tried_again_after_a_backoff_and_sent_on_a_later_run(
        rt, clock, db, peer, patient, failure, code):
    due, _ = first_two(db, patient.id)
    peer.control(fail_rate=1, fail_with=[failure], timeout_seconds=SDK_TIMEOUT_SECONDS + 2)

    assert dispatch(rt, clock, FIRST_48H).counts == {"retried": 1}

    waiting = reminder(db, due.id)
    assert (waiting.status, waiting.attempts, waiting.error_code) == ("pending", 1, code)
    assert (waiting.send_at, waiting.lease_until) == (FIRST_48H + RETRY_BASE, None)
    peer.control(fail_rate=0)
    assert dispatch(rt, clock, FIRST_48H + RETRY_BASE - timedelta(seconds=1)).handled == 0, "not before the backoff"
    assert dispatch(rt, clock, FIRST_48H + RETRY_BASE).counts == {"sent": 1}
    sent = reminder(db, due.id)
    records = peer.records()
    assert [(r["outcome"], r["attempt"]) for r in records] == [(failure, 1), ("accepted", 2)]
    assert (sent.status, sent.attempts, sent.twilio_sid, sent.error_code) == ("sent", 2, records[1]["sid"], None)


def test_the_wait_before_each_new_try_doubles(rt, clock, db, peer, patient):
    due, _ = first_two(db, patient.id)
    peer.control(fail_rate=1, fail_with=["503"])
    waits = []
    at = FIRST_48H
    for _ in range(MAX_ATTEMPTS - 1):
        assert dispatch(rt, clock, at).counts == {"retried": 1}
        next_try = reminder(db, due.id).send_at
        waits.append(next_try - at)
        at = next_try

    assert waits == [RETRY_BASE, 2 * RETRY_BASE]


def test_after_max_attempts_failed_tries_a_reminder_is_failed_with_twilios_error_code(rt, clock, db, peer, patient):
    due, _ = first_two(db, patient.id)
    peer.control(fail_rate=1, fail_with=["500"])
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        outcomes += dispatch(rt, clock, reminder(db, due.id).send_at).counts

    assert outcomes == ["retried"] * (MAX_ATTEMPTS - 1) + ["failed"]
    failed = reminder(db, due.id)
    assert (failed.status, failed.error_code, failed.attempts, failed.lease_until) == ("failed", 20500, MAX_ATTEMPTS,
                                                                                        None)
    assert dispatch(rt, clock, FIRST_48H + timedelta(hours=2)).handled == 0, "never tried again"
    assert len(peer.records()) == MAX_ATTEMPTS
    assert peer.messages() == []


def test_twilio_21610_fails_the_reminder_opts_the_patient_out_and_is_not_tried_again(rt, clock, db, peer, patient):
    due, later = first_two(db, patient.id)
    peer.control(opted_out=[patient.phone])

    assert dispatch(rt, clock, FIRST_48H).counts == {"failed": 1}

    failed = reminder(db, due.id)
    assert (failed.status, failed.error_code, failed.attempts) == ("failed", 21610, 1)
    opted_out = patient_row(db, patient.id)
    assert (opted_out.sms_opted_out, opted_out.sms_opted_out_at) == (True, FIRST_48H)
    assert dispatch(rt, clock, FIRST_48H + timedelta(hours=1)).handled == 0
    assert dispatch(rt, clock, FIRST_24H).counts == {"suppressed": 1}, "the next text is not even tried"
    assert reminder(db, later.id).status == "suppressed"
    assert [r["outcome"] for r in peer.records()] == ["opted_out"]


def test_twilio_21211_fails_the_reminder_flags_the_phone_and_asks_the_front_desk_to_call_once(
        rt, clock, db, peer, patient):
    due, later = first_two(db, patient.id)
    peer.control(invalid=[patient.phone])

    assert dispatch(rt, clock, FIRST_48H).counts == {"failed": 1}
    assert dispatch(rt, clock, FIRST_24H).counts == {"suppressed": 1}

    failed, suppressed = reminder(db, due.id), reminder(db, later.id)
    assert (failed.status, failed.error_code) == ("failed", 21211)
    assert (suppressed.status, suppressed.error_code) == ("suppressed", 21211)
    assert patient_row(db, patient.id).phone_invalid_at == FIRST_48H
    with db() as session:
        callbacks = session.execute(select(models.Callback.patient_id, models.Callback.site_id, models.Callback.reason,
                                           models.Callback.done_at)).all()
    assert callbacks == [(patient.id, "fullerton", "invalid_phone", None)]
    assert [r["outcome"] for r in peer.records()] == ["invalid_to"]


# --- quiet hours, consent, opt-outs, voided reminders

def test_a_reminder_due_in_quiet_hours_at_dispatch_is_held_until_they_end(rt, clock, db, peer, patient):
    due, _ = first_two(db, patient.id)

    assert dispatch(rt, clock, local(2027, 2, 27, 21, 30)).counts == {"held": 1}

    held = reminder(db, due.id)
    assert (held.status, held.send_at, held.attempts, held.lease_until) == ("pending", local(2027, 2, 28, 8, 0), 0,
                                                                             None)
    assert dispatch(rt, clock, local(2027, 2, 28, 7, 59)).handled == 0
    assert peer.records() == []
    assert dispatch(rt, clock, local(2027, 2, 28, 8, 0)).counts == {"sent": 1}
    assert reminder(db, due.id).status == "sent"


def test_a_reminder_quiet_hours_would_hold_past_its_sessions_start_is_expired(rt, clock, db, peer, front_desk):
    course = book_course(front_desk, preferred_time="07:30")
    first_session = session_number(course, 1)
    assert datetime.fromisoformat(first_session["starts_at"]) == local(2027, 3, 1, 7, 30)

    report = dispatch(rt, clock, local(2027, 3, 1, 7, 0))  # a late run: quiet until 08:00, the visit at 07:30

    assert report.counts == {"expired": 2}
    mine = [r for r in reminder_rows(db, course["patient_id"]) if r.session_id == first_session["id"]]
    assert [r.status for r in mine] == ["expired", "expired"]
    assert peer.records() == []


def test_an_opted_out_patients_reminder_is_suppressed_and_nothing_reaches_twilio(rt, clock, db, peer, patient):
    due, _ = first_two(db, patient.id)
    with db.begin() as session:
        session.execute(update(models.Patient).where(models.Patient.id == patient.id).values(sms_opted_out=True))

    assert dispatch(rt, clock, FIRST_48H).counts == {"suppressed": 1}

    assert reminder(db, due.id).status == "suppressed"
    assert peer.records() == []
    assert messages_of(db, patient.id) == []


def test_without_consent_a_patient_gets_at_most_one_text_a_local_day_and_three_a_week(
        rt, clock, db, peer, admin, front_desk):
    policy = {"rules": [{"applies_to": "every", "minutes_before": 1440},
                        {"applies_to": "every", "minutes_before": 120}],
              "weekly_digest": None, "quiet_start": "21:00", "quiet_end": "08:00"}
    assert admin.put("/api/v1/sites/fullerton/reminder-policy", json=policy).status_code == 200
    unconsented = book_course(front_desk, create_patient(front_desk, sms_consent=False)["id"])
    consented = book_course(front_desk, create_patient(front_desk, sms_consent=True)["id"], preferred_time="10:00")
    numbers = {s["id"]: s["number"] for c in (unconsented, consented) for s in c["sessions"]}
    # Sessions 1-4 (Monday 03-01 to Thursday 03-04): texts the day before at the visit's time and,
    # two hours before (quiet until 08:00), at 08:00 on the day.
    until = local(2027, 3, 4, 8, 0)
    for moment in sorted({r.send_at for c in (unconsented, consented) for r in reminder_rows(db, c["patient_id"])
                          if r.send_at <= until}):
        dispatch(rt, clock, moment)

    def outcomes(course: dict) -> list[tuple[int, int, str]]:
        return [(numbers[r.session_id], r.minutes_before, r.status) for r in reminder_rows(db, course["patient_id"])
                if r.send_at <= until]

    assert outcomes(unconsented) == [
        (1, 1440, "sent"),         # Sunday 02-28 09:00
        (1, 120, "sent"),          # Monday 08:00
        (2, 1440, "suppressed"),   # Monday 09:00: one a day
        (2, 120, "sent"),          # Tuesday 08:00: the third in 7 days
        (3, 1440, "suppressed"),   # Tuesday 09:00: one a day
        (3, 120, "suppressed"),    # Wednesday 08:00: three a week
        (4, 1440, "suppressed"),
        (4, 120, "suppressed"),    # Thursday 08:00
    ]
    assert {status for _, _, status in outcomes(consented)} == {"sent"}
    assert len(outcomes(consented)) == 8
    assert sorted(r["to"] for r in peer.messages()).count(patient_row(db, unconsented["patient_id"]).phone) == 3


def test_a_reminder_voided_by_cancelling_its_session_before_dispatch_is_never_sent(
        rt, clock, db, peer, front_desk, course, patient):
    first_session = session_number(course, 1)["id"]
    answer = front_desk.post(f"/api/v1/sessions/{first_session}/cancel", json={"reason": "flu", "by": "patient"})
    assert answer.status_code == 200, answer.json

    dispatch(rt, clock, FIRST_48H)
    dispatch(rt, clock, FIRST_24H)

    mine = [r for r in reminder_rows(db, patient.id) if r.session_id == first_session]
    assert [r.status for r in mine] == ["cancelled", "cancelled"]
    assert peer.records() == []


def test_a_reminder_whose_session_is_no_longer_scheduled_when_claimed_is_cancelled_not_sent(
        app, rt, clock, db, peer, course, patient):
    due, _ = first_two(db, patient.id)
    unguarded = sessionmaker(app.extensions["tms"].engine)  # the session changed, its reminders left pending
    with unguarded.begin() as session:
        session.execute(update(models.TreatmentSession).where(models.TreatmentSession.id == due.session_id)
                        .values(status="cancelled", cancelled_by="patient"))

    assert dispatch(rt, clock, FIRST_48H).counts == {"cancelled": 1}

    assert reminder(db, due.id).status == "cancelled"
    assert peer.records() == []


# --- the embedded default sender

def test_the_log_sender_records_texts_as_sent_without_a_network_and_never_logs_the_phone_or_the_text(
        rt, clock, db, peer, patient, database_url, caplog):
    settings = Settings.from_env({"DATABASE_URL": database_url})
    assert settings.sms_backend == "log", "the embedded default"
    sender = make_sender(settings)
    assert isinstance(sender, LogSender)
    due, _ = first_two(db, patient.id)
    caplog.set_level(logging.DEBUG)

    assert dispatch(replace(rt, texting=replace(rt.texting, sender=sender)), clock, FIRST_48H).counts == {"sent": 1}

    sent = reminder(db, due.id)
    [message] = messages_of(db, patient.id)
    assert sent.status == "sent" and sent.twilio_sid.startswith("LG")
    assert message.twilio_sid == sent.twilio_sid
    assert peer.records() == []
    [line] = [r.getMessage() for r in caplog.records if sent.twilio_sid in r.getMessage()]
    assert "SMS_BACKEND=log" in line
    everything = caplog.text
    digits = patient.phone.removeprefix("+1")
    assert patient.phone not in everything and digits not in everything
    assert message.body not in everything


# --- batches and leases

class Sender:
    """The SDK sender, with something done around chosen sends (counted from 1)."""

    def __init__(self, inner: TwilioSender, *, before: dict[int, Callable[[], None]] | None = None,
                 after: dict[int, Callable[[], None]] | None = None):
        self.name = "twilio"
        self.inner, self.before, self.after = inner, before or {}, after or {}
        self.sends = 0

    def send(self, text: Outgoing) -> str:
        self.sends += 1
        self.before.get(self.sends, lambda: None)()
        sid = self.inner.send(text)
        self.after.get(self.sends, lambda: None)()
        return sid


class Killed(BaseException):
    """The dispatcher's process dying: nothing after it runs."""


def with_sender(rt: Runtime, sender, **texting) -> Runtime:
    return replace(rt, texting=replace(rt.texting, sender=sender, **texting))


@pytest.fixture
def three_courses(front_desk) -> list[dict]:
    """Three patients' courses at 09:00, 10:00 and 11:00: at Sunday 02-28 11:00, six texts are due."""
    return [book_course(front_desk, preferred_time=at) for at in ("09:00", "10:00", "11:00")]


def pending_ids(db) -> set[int]:
    with db() as session:
        return set(session.scalars(select(models.Reminder.id).where(models.Reminder.status == "pending",
                                                                    models.Reminder.send_at <= FIRST_24H
                                                                    + timedelta(hours=2))))


def test_stop_is_asked_only_between_batches_so_a_batch_claimed_is_finished(rt, clock, db, peer, three_courses):
    stopping = []
    sender = Sender(rt.texting.sender, after={1: lambda: stopping.append(True)})
    due_now = pending_ids(db)
    assert len(due_now) == 6

    report = dispatch(with_sender(rt, sender, batch=4), clock, FIRST_24H + timedelta(hours=2),
                      stop=lambda: bool(stopping))

    assert report.counts == {"sent": 4}, "the stop came during the first batch: all four of it went"
    assert len(peer.messages()) == 4
    with db() as session:
        left = session.execute(select(models.Reminder.attempts, models.Reminder.lease_until)
                               .where(models.Reminder.id.in_(pending_ids(db)))).all()
    assert left == [(0, None), (0, None)], "the next batch was never claimed"


def test_a_dispatcher_dying_mid_batch_leaves_its_claim_to_another_after_the_lease_only_the_text_in_flight_goes_twice(
        rt, clock, db, peer, three_courses):
    def die() -> None:
        raise Killed

    at = FIRST_24H + timedelta(hours=2)
    dying = with_sender(rt, Sender(rt.texting.sender, after={2: die}), batch=4)
    with pytest.raises(Killed):
        dispatch(dying, clock, at, worker="dying")
    in_flight = peer.messages()[1]

    assert dispatch(rt, clock, at + LEASE - timedelta(seconds=1), worker="other").counts == {"sent": 2}, \
        "only the two texts nobody claimed"
    assert dispatch(rt, clock, at + LEASE + timedelta(seconds=1), worker="other").counts == {"sent": 3}

    with db() as session:
        rows = session.execute(select(models.Reminder.status, models.Reminder.twilio_sid)
                               .where(models.Reminder.send_at <= at)).all()
    assert [status for status, _ in rows] == ["sent"] * 6
    accepted = [r["sid"] for r in peer.messages()]
    assert len(accepted) == 7
    assert set(accepted) - {sid for _, sid in rows} == {in_flight["sid"]}, \
        "the one text sent and not yet recorded at the death went twice; no other"


def test_a_dispatcher_whose_claim_lapsed_during_a_slow_send_sends_nothing_another_has_claimed_since(
        rt, clock, db, peer, front_desk):
    book_course(front_desk, preferred_time="09:00")
    book_course(front_desk, preferred_time="10:00")  # four texts due at 02-28 10:00
    at = FIRST_24H + timedelta(hours=1)
    other_report = []

    def slow_send_outlasting_the_lease() -> None:
        other_report.append(dispatch(rt, clock, at + LEASE + timedelta(seconds=1), worker="other"))

    slow = with_sender(rt, Sender(rt.texting.sender, after={1: slow_send_outlasting_the_lease}))
    report = dispatch(slow, clock, at, worker="slow")

    assert other_report[0].counts == {"sent": 4}, "the other took every text of the lapsed claim"
    assert report.counts.get("sent", 0) == 1, report.counts
    with db() as session:
        recorded = set(session.scalars(select(models.Reminder.twilio_sid).where(models.Reminder.status == "sent")))
    accepted = [r["sid"] for r in peer.messages()]
    assert len(recorded) == 4
    assert len(accepted) == 5, "only the text in flight when the claim lapsed went twice"
    assert set(accepted) - recorded == {accepted[0]}


def test_a_dispatcher_whose_batch_outlasts_half_its_lease_renews_its_claim_so_no_other_takes_the_rest(
        rt, clock, db, peer, front_desk):
    book_course(front_desk, preferred_time="09:00")
    book_course(front_desk, preferred_time="10:00")  # four texts due at 02-28 10:00
    at = FIRST_24H + timedelta(hours=1)
    other_report = []

    def slow_send() -> None:
        clock.now += LEASE * 3 / 4  # past half the lease: the next send renews the claim

    def another_dispatcher_once_the_first_lease_ran_out() -> None:
        clock.now += LEASE / 2
        assert clock.now > at + LEASE
        other_report.append(dispatch_due(rt, worker="other"))

    patient = with_sender(rt, Sender(rt.texting.sender, after={1: slow_send,
                                                                2: another_dispatcher_once_the_first_lease_ran_out}))
    report = dispatch(patient, clock, at, worker="patient")

    assert other_report[0].handled == 0, "the renewed claim held"
    assert report.counts == {"sent": 4}
    assert len(peer.messages()) == 4


class Overlapping:
    """The SDK sender, noting how many texts are in flight at once, overall and per number."""

    def __init__(self, inner: TwilioSender):
        self.name = "twilio"
        self.inner = inner
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.most = self.most_for_one_number = 0

    def send(self, text: Outgoing) -> str:
        with self.lock:
            self.in_flight[text.to] = self.in_flight.get(text.to, 0) + 1
            self.most = max(self.most, sum(self.in_flight.values()))
            self.most_for_one_number = max(self.most_for_one_number, self.in_flight[text.to])
        try:
            time.sleep(0.05)  # Twilio's answer takes a while: the other senders go meanwhile
            return self.inner.send(text)
        finally:
            with self.lock:
                self.in_flight[text.to] -= 1


def test_a_batch_has_several_texts_in_flight_at_once_but_one_patients_go_in_turn(rt, clock, db, peer, three_courses):
    sender = Overlapping(rt.texting.sender)

    report = dispatch(with_sender(rt, sender, concurrency=3), clock, FIRST_24H + timedelta(hours=2))

    assert report.counts == {"sent": 6}
    assert sender.most > 1, "the texts of different patients overlapped"
    assert sender.most_for_one_number == 1, "each patient's two texts went one after the other"
    assert len({r["sid"] for r in peer.messages()}) == 6
