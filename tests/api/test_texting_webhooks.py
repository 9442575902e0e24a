"""Twilio's webhooks: delivery statuses and the patients' own texts, accepted only when Twilio signed them.

Every request is signed as Twilio signs it (the SDK's RequestValidator, the account's auth token,
PUBLIC_BASE_URL + the path). The patients' texts are answered in TwiML only. The course is the
iTBS course at Oak Health Center Fullerton from Monday 2027-03-01 at 09:00 (Los Angeles).
"""
from __future__ import annotations

import itertools
from xml.etree import ElementTree

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from tests.factories import book_course, create_patient, local, session_number, signed_in, writes_nothing
from tms_scheduler.db import models
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.settings import Settings

BASE_URL = "https://tms.example.org"
AUTH_TOKEN = "webhook-test-auth-token"
ACCOUNT_SID = "AC" + "5" * 32
CLINIC_NUMBER = "+17145550100"
STATUS, INBOUND = "/webhooks/twilio/status", "/webhooks/twilio/inbound"
SITE_NAME, SITE_PHONE = "Oak Health Center Fullerton", "(714) 555-0160"

_sids = itertools.count(1)


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, env="test", secret_key="test-secret", twilio_account_sid=ACCOUNT_SID,
                    twilio_auth_token=AUTH_TOKEN, twilio_from_number=CLINIC_NUMBER, sms_backend="log",
                    public_base_url=BASE_URL)


# --- Twilio's side

def new_sid(prefix: str = "SM") -> str:
    return f"{prefix}{next(_sids):032x}"


def signature(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post_signed(client, path: str, params: dict):
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature(BASE_URL + path, params)})


def inbound_form(phone: str, body: str, sid: str | None = None) -> dict:
    sid = sid or new_sid()
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "From": phone, "To": CLINIC_NUMBER,
            "Body": body, "NumMedia": "0", "NumSegments": "1"}


def status_form(sid: str, status: str, error_code: int | None = None) -> dict:
    form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": status,
            "SmsStatus": status, "From": CLINIC_NUMBER, "To": "+17145550199", "ApiVersion": "2010-04-01"}
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def text_in(client, phone: str, body: str, sid: str | None = None):
    """The patient's text, as Twilio posts it; answers the webhook's answer."""
    return post_signed(client, INBOUND, inbound_form(phone, body, sid))


def report(client, sid: str, status: str, error_code: int | None = None):
    return post_signed(client, STATUS, status_form(sid, status, error_code))


def reply_of(answer) -> str | None:
    """The reply in a TwiML answer (None for an empty <Response/>), checking the answer is TwiML."""
    assert answer.status_code == 200, answer.data
    assert answer.mimetype == "text/xml"
    root = ElementTree.fromstring(answer.data)
    assert root.tag == "Response"
    assert [child.tag for child in root] in ([], ["Message"]), answer.data
    return root[0].text if len(root) else None


# --- what the service holds

def desk(client):
    """The front desk, signed in at the app clock's present time."""
    return signed_in(client, "front_desk")


def patient_of(client, patient_id: int) -> dict:
    answer = desk(client).get(f"/api/v1/patients/{patient_id}")
    assert answer.status_code == 200, answer.json
    return answer.json


def session_of(client, session_id: int) -> dict:
    answer = desk(client).get(f"/api/v1/sessions/{session_id}")
    assert answer.status_code == 200, answer.json
    return answer.json


def reminders_of(client, course: dict) -> list[dict]:
    answer = desk(client).get(f"/api/v1/courses/{course['id']}/reminders")
    assert answer.status_code == 200, answer.json
    return answer.json


def messages_of(client, patient_id: int) -> list[dict]:
    answer = desk(client).get(f"/api/v1/patients/{patient_id}/messages")
    assert answer.status_code == 200, answer.json
    return answer.json


def callbacks_of(client, site_id: str = "fullerton") -> list[dict]:
    answer = desk(client).get(f"/api/v1/sites/{site_id}/callbacks")
    assert answer.status_code == 200, answer.json
    return answer.json


def rows(db, model) -> list[tuple]:
    """Every row of a table, every column, to show that nothing was written."""
    columns = [c.name for c in model.__table__.columns]
    with db() as session:
        return [tuple(getattr(r, c) for c in columns) for r in session.scalars(select(model).order_by(model.id))]


def snapshot(db) -> dict:
    return {model.__name__: rows(db, model) for model in
            (models.Patient, models.TreatmentSession, models.Reminder, models.Message, models.Callback)}


# --- fixtures

@pytest.fixture
def patient(front_desk) -> dict:
    return create_patient(front_desk)


@pytest.fixture
def course(front_desk, patient) -> dict:
    return book_course(front_desk, patient["id"], protocol_id="itbs")


@pytest.fixture
def sent(app, clock, course, patient) -> dict:
    """The first session's 48-hour reminder, sent (through the log sender) when it fell due."""
    clock.now = local(2027, 2, 27, 9, 0)
    report_ = dispatch_due(app.extensions["tms"].runtime, worker="test")
    assert report_.counts == {"sent": 1}
    with app.extensions["tms"].runtime.sessions() as db:
        reminder = db.scalar(select(models.Reminder).where(models.Reminder.status == "sent"))
        return {"id": reminder.id, "sid": reminder.twilio_sid, "course": course, "patient": patient}


def the_reminder(client, sent: dict) -> dict:
    return next(r for r in reminders_of(client, sent["course"]) if r["id"] == sent["id"])


def the_message(client, sent: dict) -> dict:
    return next(m for m in messages_of(client, sent["patient"]["id"]) if m["twilio_sid"] == sent["sid"])


# --- signatures

FORGERIES = ["unsigned", "wrong signature", "signed for another URL", "a field changed after signing"]


def forged(kind: str, path: str, params: dict) -> tuple[dict, dict]:
    """A request (form, headers) that Twilio did not sign as it is sent to `path`."""
    if kind == "unsigned":
        return params, {}
    if kind == "wrong signature":
        return params, {"X-Twilio-Signature": signature(BASE_URL + path, params, token="someone-elses-token")}
    if kind == "signed for another URL":
        return params, {"X-Twilio-Signature": signature(BASE_URL + (INBOUND if path == STATUS else STATUS), params)}
    tampered = {**params, "Body": "STOP"} if path == INBOUND else {**params, "MessageStatus": "failed",
                                                                    "ErrorCode": "30008"}
    return tampered, {"X-Twilio-Signature": signature(BASE_URL + path, params)}


def test_a_request_twilio_did_not_sign_as_sent_to_this_address_is_refused_403_and_changes_nothing(client, db, sent):
    requests = [(INBOUND, inbound_form(sent["patient"]["phone"], "See you Monday")),
                (STATUS, status_form(sent["sid"], "delivered"))]

    with writes_nothing(db):
        before = snapshot(db)
        answers = {}
        for kind in FORGERIES:
            for path, params in requests:
                form, headers = forged(kind, path, params)
                answers[kind, path] = client.post(path, data=form, headers=headers).status_code

    assert answers == {(kind, path): 403 for kind in FORGERIES for path in (INBOUND, STATUS)}
    assert snapshot(db) == before


# --- delivery statuses

def test_a_delivered_callback_moves_a_sent_reminder_and_its_message_to_delivered(client, sent):
    answer = report(client, sent["sid"], "delivered")

    assert answer.status_code == 204, answer.data
    assert the_reminder(client, sent)["status"] == "delivered"
    assert the_message(client, sent)["status"] == "delivered"


def test_a_late_sent_after_delivered_changes_nothing(client, clock, db, sent):
    report(client, sent["sid"], "delivered")
    before = snapshot(db)
    clock.now = local(2027, 2, 27, 9, 5)

    answer = report(client, sent["sid"], "sent")

    assert answer.status_code == 204, answer.data
    assert snapshot(db) == before
    assert the_reminder(client, sent)["status"] == the_message(client, sent)["status"] == "delivered"


def test_an_undelivered_or_failed_report_keeps_twilios_error_code(app, client, clock, sent):
    other = create_patient(desk(client), first_name="Eva")  # a second patient, to have a second sent reminder
    other_course = book_course(desk(client), other["id"], protocol_id="itbs", preferred_time="10:00")
    clock.now = local(2027, 2, 27, 10, 0)
    assert dispatch_due(app.extensions["tms"].runtime, worker="test").counts == {"sent": 1}
    other_sent = next(r for r in reminders_of(client, other_course) if r["status"] == "sent")
    failed = {"id": other_sent["id"], "sid": other_sent["twilio_sid"], "course": other_course, "patient": other}

    report(client, sent["sid"], "undelivered", 30003)
    report(client, failed["sid"], "failed", 30008)

    seen = {which: [(x["status"], x["error_code"]) for x in (the_reminder(client, r), the_message(client, r))]
            for which, r in (("undelivered", sent), ("failed", failed))}
    assert seen == {"undelivered": [("undelivered", 30003)] * 2, "failed": [("failed", 30008)] * 2}


def test_a_status_for_an_unknown_message_sid_is_answered_204_and_changes_nothing(client, db, sent):
    with writes_nothing(db):
        before = snapshot(db)
        answer = report(client, new_sid(), "failed", 30008)

    assert answer.status_code == 204, answer.data
    assert snapshot(db) == before


def test_the_same_status_callback_twice_changes_nothing_the_second_time(client, clock, db, sent):
    report(client, sent["sid"], "undelivered", 30003)
    before = snapshot(db)
    clock.now = local(2027, 2, 27, 9, 10)

    answer = report(client, sent["sid"], "undelivered", 30003)

    assert answer.status_code == 204, answer.data
    assert snapshot(db) == before


# --- opting out and back in

def test_each_stop_word_opts_out_every_patient_with_the_number(client, front_desk):
    stranger = create_patient(front_desk, first_name="Rosa")
    opted_out = {}
    for body in ("STOP", "STOPALL", "stop ", "Cancel"):
        patient = create_patient(front_desk)
        sibling = create_patient(front_desk, first_name="Eva", phone=patient["phone"])

        text_in(client, patient["phone"], body)

        opted_out[body] = [patient_of(client, p["id"])["sms_opted_out"] for p in (patient, sibling, stranger)]

    assert opted_out == dict.fromkeys(("STOP", "STOPALL", "stop ", "Cancel"), [True, True, False])


def test_a_stop_word_is_answered_with_the_opt_out_confirmation_in_twiml(client, course, patient):
    answer = text_in(client, patient["phone"], "stop ")

    assert answer.headers["Content-Type"].startswith("text/xml")
    assert reply_of(answer) == f"Hi Ana, you will get no more texts from {SITE_NAME}. Reply START to get them again."


def test_cancel_opts_out_but_cancels_no_session(client, course, patient):
    text_in(client, patient["phone"], "CANCEL")

    answer = desk(client).get(f"/api/v1/courses/{course['id']}")
    assert answer.json["status"] == "active"
    assert {s["status"] for s in answer.json["sessions"]} == {"scheduled"}
    assert len(answer.json["sessions"]) == len(course["sessions"])
    assert patient_of(client, patient["id"])["sms_opted_out"] is True


def test_start_or_yes_opts_the_patient_back_in(client, course, patient):
    seen = {}
    for body in ("START", "YES"):
        text_in(client, patient["phone"], "STOP")
        assert patient_of(client, patient["id"])["sms_opted_out"] is True

        reply = reply_of(text_in(client, patient["phone"], body))

        seen[body] = (patient_of(client, patient["id"])["sms_opted_out"], reply)

    back_on = f"Hi Ana, texts from {SITE_NAME} are back on. Reply STOP to opt out."
    assert seen == {"START": (False, back_on), "YES": (False, back_on)}


def test_help_answers_the_clinics_site_name_phone_and_how_to_stop(client, course, patient):
    reply = reply_of(text_in(client, patient["phone"], "HELP"))

    assert reply is not None
    assert SITE_NAME in reply
    assert SITE_PHONE in reply
    assert "STOP to opt out" in reply


# --- confirming

def test_c_confirm_and_c_dot_each_confirm_the_patients_next_scheduled_session(client, front_desk):
    confirmed = {}
    for hour, body in enumerate(("C", "confirm", "c."), start=9):
        patient = create_patient(front_desk)
        course = book_course(front_desk, patient["id"], protocol_id="itbs", preferred_time=f"{hour:02d}:00")

        text_in(client, patient["phone"], body)

        confirmed[body] = [session_of(client, session_number(course, n)["id"])["confirmed_at"] for n in (1, 2)]

    now = "2026-12-01T09:00:00-08:00"  # the app clock, in the site's zone
    assert confirmed == {"C": [now, None], "confirm": [now, None], "c.": [now, None]}


def test_c_confirms_the_next_session_still_scheduled_not_one_cancelled(client, course, patient):
    first, second = session_number(course, 1), session_number(course, 2)
    cancelled = desk(client).post(f"/api/v1/sessions/{first['id']}/cancel", json={"reason": "trip", "by": "patient"})
    assert cancelled.status_code == 200, cancelled.json

    text_in(client, patient["phone"], "C")

    assert session_of(client, first["id"])["confirmed_at"] is None
    assert session_of(client, second["id"])["confirmed_at"] == "2026-12-01T09:00:00-08:00"


def test_a_confirmation_shows_on_the_day_board(client, course, patient):
    text_in(client, patient["phone"], "C")

    board = desk(client).get("/api/v1/sites/fullerton/schedule?date=2027-03-01")
    assert board.status_code == 200, board.json
    first = session_number(course, 1)["id"]
    shown = [s for chair in board.json["chairs"] for s in chair["sessions"] if s["id"] == first]
    assert [s["confirmed_at"] for s in shown] == ["2026-12-01T09:00:00-08:00"]


def test_c_is_answered_with_the_confirmed_sessions_day_and_time(client, course, patient):
    reply = reply_of(text_in(client, patient["phone"], "C"))

    assert reply is not None
    assert "Mon Mar 1 at 9:00 AM" in reply
    assert "confirmed" in reply


def test_c_with_no_session_ahead_answers_politely_and_confirms_nothing(client, course, patient):
    cancelled = desk(client).post(f"/api/v1/courses/{course['id']}/cancel", json={"reason": "moved away"})
    assert cancelled.status_code == 200, cancelled.json

    reply = reply_of(text_in(client, patient["phone"], "C"))

    assert reply == f"Hi Ana, we found no upcoming visit to confirm. Please call {SITE_NAME} at {SITE_PHONE}."
    sessions = desk(client).get(f"/api/v1/courses/{course['id']}").json["sessions"]
    assert {s["confirmed_at"] for s in sessions} == {None}


# --- call-backs and other texts

def test_r_adds_a_call_back_for_the_front_desk(client, course, patient):
    reply = reply_of(text_in(client, patient["phone"], "R"))

    entries = callbacks_of(client)
    assert [(e["reason"], e["patient"]["id"], e["phone"], e["text"]) for e in entries] == [
        ("call_back", patient["id"], patient["phone"], "R")]
    assert reply == f"Thanks Ana, the front desk at {SITE_NAME} will call you back soon."


def test_any_other_text_is_kept_listed_as_a_call_back_and_answered_politely(client, course, patient):
    reply = reply_of(text_in(client, patient["phone"], "Running 10 min late, sorry!"))

    assert [(m["direction"], m["body"]) for m in messages_of(client, patient["id"])] == [
        ("in", "Running 10 min late, sorry!")]
    assert [(e["reason"], e["patient"]["id"], e["text"]) for e in callbacks_of(client)] == [
        ("unhandled_text", patient["id"], "Running 10 min late, sorry!")]
    assert reply == (f"Thanks Ana, the front desk at {SITE_NAME} will read your message. "
                     f"For urgent matters call {SITE_PHONE}.")


def test_a_text_from_an_unknown_number_is_answered_generically_and_listed_as_a_call_back(client, course):
    reply = reply_of(text_in(client, "+17145559876", "Who is this?"))

    assert reply == "Thanks, the front desk will read your message. For urgent matters please call the front desk."
    assert [(e["reason"], e["patient"], e["phone"], e["text"]) for e in callbacks_of(client)] == [
        ("unhandled_text", None, "+17145559876", "Who is this?")]


def test_after_an_opt_out_a_c_or_any_text_gets_no_reply_but_is_kept(client, course, patient):
    text_in(client, patient["phone"], "STOP")

    replies = [reply_of(text_in(client, patient["phone"], body)) for body in ("C", "Is parking free?")]

    assert replies == [None, None]
    assert [(m["direction"], m["body"]) for m in messages_of(client, patient["id"])][:2] == [
        ("in", "Is parking free?"), ("in", "C")]


# --- the same text twice

def test_the_same_confirmation_delivered_twice_acts_once_and_is_answered_the_same(client, clock, db, course, patient):
    sid = new_sid()
    first = text_in(client, patient["phone"], "C", sid)
    confirmed_at = session_of(client, session_number(course, 1)["id"])["confirmed_at"]
    clock.now = local(2026, 12, 1, 10, 0)  # Twilio delivers it again later

    again = text_in(client, patient["phone"], "C", sid)

    assert again.data == first.data
    assert reply_of(again) is not None
    assert session_of(client, session_number(course, 1)["id"])["confirmed_at"] == confirmed_at
    assert len(messages_of(client, patient["id"])) == 1
    with db() as session:
        events = session.scalars(select(models.SessionEvent.action)
                                 .where(models.SessionEvent.session_id == session_number(course, 1)["id"])).all()
    assert events.count("confirm") == 1


def test_the_same_other_text_delivered_twice_makes_one_call_back(client, clock, course, patient):
    sid = new_sid()
    first = text_in(client, patient["phone"], "Can I come earlier?", sid)
    clock.now = local(2026, 12, 1, 10, 0)  # Twilio delivers it again later

    again = text_in(client, patient["phone"], "Can I come earlier?", sid)

    assert again.data == first.data
    assert len(callbacks_of(client)) == 1
    assert len(messages_of(client, patient["id"])) == 1


# --- every reply is one SMS

LONG_FIRST_NAME = "Maria-Guadalupe Esperanza Concepcion"
LONG_SITE_NAME = "Oak Health Center of North Orange County at Fullerton, Chapman Avenue Campus"


def test_every_reply_is_at_most_160_characters(client, admin, front_desk):
    assert admin.patch("/api/v1/sites/fullerton", json={"name": LONG_SITE_NAME}).status_code == 200
    replies = []
    for language, time in (("en", "09:00"), ("es", "10:00")):
        patient = create_patient(front_desk, first_name=LONG_FIRST_NAME, language=language)
        book_course(front_desk, patient["id"], protocol_id="itbs", preferred_time=time)
        replies += [reply_of(text_in(client, patient["phone"], body))
                    for body in ("HELP", "C", "R", "Is parking free on Saturdays? And can my sister come?",
                                 "STOP", "START")]
    replies.append(reply_of(text_in(client, "+17145559876", "hello")))

    assert all(replies)
    assert max(len(r) for r in replies) <= 160, [r for r in replies if len(r) > 160]
