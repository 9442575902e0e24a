"""What the front desk sees and does about texts: reminders, a patient's messages, resending, call-backs.

Reminders go out through the Twilio SDK to the project's own Twilio-compatible peer (in-process),
so Twilio's answers (a 500, an invalid number) are Twilio's own shape. The course is the iTBS
course at Fullerton from Monday 2027-03-01 at 09:00; its first session's reminders fall due on
Saturday 2027-02-27 and Sunday 2027-02-28 at 09:00 (Los Angeles).
"""
from __future__ import annotations

import dataclasses
import itertools
import threading
from datetime import datetime

import pytest

from tests.factories import book_course, create_patient, local, session_number, signed_in, user_id_of, writes_nothing
from tests.peers.twilio_peer import TwilioPeer
from tms_scheduler.db import models
from tms_scheduler.domain.errors import StateConflict
from tms_scheduler.services import inbound, reminders
from tms_scheduler.services.actor import Actor
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.services.runtime import Texting
from tms_scheduler.sms.twilio_sender import TwilioSender

API = "/api/v1"
FIRST_DUE, SECOND_DUE = local(2027, 2, 27, 9, 0), local(2027, 2, 28, 9, 0)
REMINDER_FIELDS = {"id", "session_id", "kind", "due_at", "status", "twilio_sid", "error_code"}

_sids = itertools.count(1)


@pytest.fixture(scope="module")
def twilio():
    with TwilioPeer() as peer:
        yield peer


@pytest.fixture
def peer(twilio):
    twilio.reset()
    return twilio


def dispatch(app, peer) -> dict[str, int]:
    """The scheduler's send step, through the Twilio SDK to the peer; one try per reminder."""
    runtime = app.extensions["tms"].runtime
    sender = TwilioSender(account_sid=peer.account_sid, auth_token=peer.auth_token, api_url=peer.url,
                          from_number="+17145550100")
    texting = Texting(sender=sender, max_attempts=1, status_callback_url="https://tms.example.org/webhooks/twilio/status")
    return dispatch_due(dataclasses.replace(runtime, texting=texting), worker="front-desk-test").counts


def text_in(app, phone: str, body: str) -> str | None:
    """A patient's text, as the inbound webhook hands it to the service."""
    return inbound.receive_text(app.extensions["tms"].runtime, sid=f"SM{next(_sids):032x}", phone=phone, body=body)


def twilio_reports(app, sid: str, status: str, error_code: int | None = None) -> None:
    """A status callback, as the status webhook hands it to the service."""
    inbound.record_status(app.extensions["tms"].runtime, sid, status, error_code)


@pytest.fixture
def patient(front_desk) -> dict:
    return create_patient(front_desk)


@pytest.fixture
def course(front_desk, patient) -> dict:
    return book_course(front_desk, patient["id"], protocol_id="itbs")


def desk(client):
    return signed_in(client, "front_desk")


def reminders_of(client, course: dict) -> list[dict]:
    answer = desk(client).get(f"{API}/courses/{course['id']}/reminders")
    assert answer.status_code == 200, answer.json
    return answer.json


def first_reminder(client, course: dict) -> dict:
    """The first session's 48-hour reminder."""
    return next(r for r in reminders_of(client, course) if r["due_at"] == "2027-02-27T09:00:00-08:00")


def callbacks_of(client, query: str = "") -> list[dict]:
    answer = desk(client).get(f"{API}/sites/fullerton/callbacks{query}")
    assert answer.status_code == 200, answer.json
    return answer.json


@pytest.fixture
def failed(app, client, clock, peer, course) -> dict:
    """The 48-hour reminder, failed: Twilio answered 500 to its one try."""
    clock.now = FIRST_DUE
    peer.control(fail_rate=1.0, fail_with=["500"])
    assert dispatch(app, peer) == {"failed": 1}
    peer.control(fail_rate=0.0)
    reminder = first_reminder(client, course)
    assert (reminder["status"], reminder["error_code"]) == ("failed", 20500)
    return reminder


# --- reading reminders

@pytest.fixture
def new_york_course(admin, front_desk, patient) -> dict:
    """A course at a site whose zone is not the clinic's, so answers in the wrong zone show."""
    assert admin.patch(f"{API}/sites/fullerton", json={"timezone": "America/New_York"}).status_code == 200
    return book_course(front_desk, patient["id"], protocol_id="itbs")


def test_a_sessions_and_a_courses_reminders_answer_the_documented_fields_in_the_sites_zone(front_desk,
                                                                                          new_york_course):
    first = session_number(new_york_course, 1)

    of_session = front_desk.get(f"{API}/sessions/{first['id']}/reminders")
    of_course = front_desk.get(f"{API}/courses/{new_york_course['id']}/reminders")

    assert (of_session.status_code, of_course.status_code) == (200, 200)
    assert of_session.json == of_course.json  # the iTBS course's reminders are all its first session's
    assert all(set(r) >= REMINDER_FIELDS for r in of_session.json)
    assert [{k: r[k] for k in REMINDER_FIELDS - {"id"}} for r in of_session.json] == [
        {"session_id": first["id"], "kind": "first", "due_at": "2027-02-27T09:00:00-05:00", "status": "pending",
         "twilio_sid": None, "error_code": None},
        {"session_id": first["id"], "kind": "first", "due_at": "2027-02-28T09:00:00-05:00", "status": "pending",
         "twilio_sid": None, "error_code": None}]


def test_an_unknown_id_is_404_for_every_front_desk_text_call(front_desk):
    reads = ["sessions/999999/reminders", "courses/999999/reminders", "patients/999999/messages",
             "sites/nowhere/callbacks"]
    writes = ["reminders/999999/resend", "callbacks/999999/done"]

    answers = {**{path: front_desk.get(f"{API}/{path}").status_code for path in reads},
               **{path: front_desk.post(f"{API}/{path}").status_code for path in writes}}

    assert answers == dict.fromkeys(reads + writes, 404)


def reads_of(course: dict, patient: dict) -> list[str]:
    return [f"sessions/{session_number(course, 1)['id']}/reminders", f"courses/{course['id']}/reminders",
            f"patients/{patient['id']}/messages", "sites/fullerton/callbacks"]


def test_the_front_desk_and_an_admin_may_read_reminders_messages_and_call_backs(as_role, course, patient):
    answers = {(role, path): as_role(role).get(f"{API}/{path}").status_code
               for role in ("front_desk", "admin") for path in reads_of(course, patient)}

    assert set(answers.values()) == {200}


def test_a_technician_or_clinician_may_not_read_or_act_on_texts(app, as_role, db, course, patient):
    text_in(app, patient["phone"], "R")
    callback_id = callbacks_of(as_role("front_desk"))[0]["id"]
    reminder_id = reminders_of(as_role("front_desk"), course)[0]["id"]
    writes = [f"reminders/{reminder_id}/resend", f"callbacks/{callback_id}/done"]
    callers = {role: as_role(role) for role in ("technician", "clinician")}

    with writes_nothing(db):
        answers = {}
        for role, caller in callers.items():
            answers |= {(role, path): caller.get(f"{API}/{path}").status_code for path in reads_of(course, patient)}
            answers |= {(role, path): caller.post(f"{API}/{path}").status_code for path in writes}

    assert len(answers) == 12
    assert set(answers.values()) == {403}
    assert callbacks_of(as_role("front_desk"))[0]["done_at"] is None


# --- a patient's messages

def test_a_patients_messages_are_listed_newest_first_with_both_directions(app, client, clock, peer, course, patient):
    clock.now = FIRST_DUE
    dispatch(app, peer)
    clock.now = local(2027, 2, 27, 10, 0)
    text_in(app, patient["phone"], "C")
    clock.now = SECOND_DUE
    dispatch(app, peer)

    answer = desk(client).get(f"{API}/patients/{patient['id']}/messages")

    assert answer.status_code == 200, answer.json
    assert [(m["at"], m["direction"]) for m in answer.json] == [
        ("2027-02-28T09:00:00-08:00", "out"), ("2027-02-27T10:00:00-08:00", "in"),
        ("2027-02-27T09:00:00-08:00", "out")]
    sent = {r["sid"]: r["body"] for r in peer.messages()}
    assert [m["body"] for m in answer.json] == [sent[answer.json[0]["twilio_sid"]], "C",
                                                 sent[answer.json[2]["twilio_sid"]]]


# --- resending

def test_resending_a_failed_reminder_sets_it_pending_again_and_the_next_dispatch_sends_it(app, client, peer,
                                                                                         course, patient, failed):
    answer = desk(client).post(f"{API}/reminders/{failed['id']}/resend")

    assert answer.status_code == 200, answer.json
    assert (answer.json["status"], answer.json["error_code"]) == ("pending", None)
    assert dispatch(app, peer) == {"sent": 1}
    assert [m["to"] for m in peer.messages()] == [patient["phone"]]
    reminder = first_reminder(client, course)
    assert (reminder["status"], reminder["twilio_sid"]) == ("sent", peer.messages()[0]["sid"])


def test_a_reminder_twilio_reported_undelivered_is_resent_even_if_the_report_comes_again(app, client, peer, clock,
                                                                                        course):
    clock.now = FIRST_DUE
    dispatch(app, peer)
    first_sid = peer.messages()[0]["sid"]
    twilio_reports(app, first_sid, "undelivered", 30003)
    assert desk(client).post(f"{API}/reminders/{first_reminder(client, course)['id']}/resend").status_code == 200

    twilio_reports(app, first_sid, "undelivered", 30003)  # Twilio posts the first send's status callback again

    assert first_reminder(client, course)["status"] == "pending"
    assert dispatch(app, peer) == {"sent": 1}
    reminder = first_reminder(client, course)
    assert (reminder["status"], reminder["twilio_sid"]) == ("sent", peer.messages()[1]["sid"])


def test_a_reminder_pending_sent_or_delivered_is_not_resent_409_and_nothing_is_written(app, client, clock, db, peer,
                                                                                       course):
    answers = {}

    def resend_as_it_is() -> None:
        reminder = first_reminder(client, course)
        caller = desk(client)
        with writes_nothing(db):
            answers[reminder["status"]] = caller.post(f"{API}/reminders/{reminder['id']}/resend").status_code
        assert first_reminder(client, course) == reminder

    resend_as_it_is()  # pending
    clock.now = FIRST_DUE
    dispatch(app, peer)
    resend_as_it_is()  # sent
    twilio_reports(app, peer.messages()[0]["sid"], "delivered")
    resend_as_it_is()  # delivered

    assert answers == {"pending": 409, "sent": 409, "delivered": 409}
    assert len(peer.messages()) == 1


def test_resending_for_a_patient_who_opted_out_is_409_and_writes_nothing(app, client, db, patient, course, failed):
    text_in(app, patient["phone"], "STOP")
    caller = desk(client)

    with writes_nothing(db):
        answer = caller.post(f"{API}/reminders/{failed['id']}/resend")

    assert answer.status_code == 409, answer.json
    assert first_reminder(client, course)["status"] == "failed"


# --- numbers Twilio calls invalid

def test_a_number_twilio_calls_invalid_is_flagged_on_the_patient_and_listed_as_a_call_back(
        app, client, clock, peer, patient, course):
    clock.now = FIRST_DUE
    peer.control(invalid=[patient["phone"]])

    assert dispatch(app, peer) == {"failed": 1}

    assert [(c["reason"], c["patient"]["id"], c["phone"]) for c in callbacks_of(client)] == [
        ("invalid_phone", patient["id"], patient["phone"])]
    flagged = desk(client).get(f"{API}/patients/{patient['id']}").json["phone_invalid_at"]
    assert datetime.fromisoformat(flagged) == FIRST_DUE
    reminder = first_reminder(client, course)
    assert (reminder["status"], reminder["error_code"]) == ("failed", 21211)


# --- the call-back list

@pytest.fixture
def callback(app, client, patient) -> dict:
    text_in(app, patient["phone"], "R")
    (entry,) = callbacks_of(client)
    return entry


def test_a_call_back_marked_done_leaves_the_list_but_for_include_done(client, callback):
    answer = desk(client).post(f"{API}/callbacks/{callback['id']}/done")

    assert answer.status_code == 204, answer.json
    assert callbacks_of(client) == []
    assert [(c["id"], c["done_at"]) for c in callbacks_of(client, "?include_done=true")] == [
        (callback["id"], "2026-12-01T09:00:00-08:00")]


def test_marking_a_call_back_done_twice_is_409_and_writes_nothing(client, clock, db, callback):
    caller = desk(client)
    caller.post(f"{API}/callbacks/{callback['id']}/done")
    before = callbacks_of(client, "?include_done=true")
    clock.now = local(2026, 12, 1, 9, 30)

    with writes_nothing(db):
        answer = caller.post(f"{API}/callbacks/{callback['id']}/done")

    assert answer.status_code == 409, answer.json
    assert callbacks_of(client, "?include_done=true") == before



def test_two_desks_marking_one_call_back_done_at_once_get_one_success_and_one_409(app, db, callback):
    runtime = app.extensions["tms"].runtime
    desk_user = Actor(user_id_of(db, "front_desk"), "front_desk")
    outcome: list[str] = []

    def second_desk() -> None:
        try:
            reminders.callback_done(runtime, callback["id"], desk_user)
            outcome.append("done")
        except StateConflict:
            outcome.append("409")
        except Exception as problem:  # shown in the assertion rather than lost in the thread
            outcome.append(repr(problem))

    with runtime.transaction() as first_desk:  # the first desk's done, not committed yet
        row = first_desk.get(models.Callback, callback["id"], with_for_update=True)
        row.done_at = runtime.now()
        first_desk.flush()
        racer = threading.Thread(target=second_desk)
        racer.start()
        racer.join(0.3)  # the second desk is under way meanwhile
    racer.join(10)

    assert outcome == ["409"]


def test_correcting_a_phone_twilio_called_invalid_clears_the_flag(front_desk, db):
    from sqlalchemy import func, update

    from tms_scheduler.db import models

    patient = front_desk.post("/api/v1/patients", json={
        "first_name": "Iva", "last_name": "Novak", "date_of_birth": "1971-05-06", "phone": "(714) 555-0198"}).json
    with db.begin() as session:
        session.execute(update(models.Patient).where(models.Patient.id == patient["id"])
                        .values(phone_invalid_at=func.now()))
    assert front_desk.get(f"/api/v1/patients/{patient['id']}").json["phone_invalid_at"] is not None

    fixed = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"phone": "(714) 555-0199"})

    assert fixed.status_code == 200, fixed.json
    assert fixed.json["phone_invalid_at"] is None
