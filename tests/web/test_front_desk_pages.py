"""The front desk's pages: patients, intake, booking, a course's sessions, moves, cancellations, call-backs."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import func, select

from tests.factories import (
    book_course,
    create_patient,
    fill_fullerton_figure8_chairs,
    local,
    session_number,
    signed_in_at,
    writes_nothing,
)
from tms_scheduler.db import models


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _patient_count(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(models.Patient))


def _session(db, session_id: int) -> models.TreatmentSession:
    with db() as session:
        found = session.get(models.TreatmentSession, session_id)
        assert found is not None
        return found


def test_search_finds_a_patient_by_name_prefix_and_by_phone(pages, front_desk):
    patient = create_patient(front_desk, first_name="Marisol", last_name="Quintero", phone="(714) 555-0199")
    desk = pages("front_desk")

    by_name = desk.get("/desk/patients?q=quin")
    assert by_name.status_code == 200
    assert "Quintero, Marisol" in _text(by_name)
    assert f'href="/desk/patients/{patient["id"]}"' in _text(by_name)

    by_phone = desk.get("/desk/patients?q=714-555-0199")
    assert "Quintero, Marisol" in _text(by_phone)

    nobody = desk.get("/desk/patients?q=zzzz")
    assert "No patient matches" in _text(nobody)


def test_intake_registers_a_patient_and_warns_of_a_duplicate(pages, db):
    desk = pages("front_desk")
    assert desk.get("/desk/patients/new").status_code == 200
    form = {"first_name": "José", "last_name": "Núñez", "date_of_birth": "1970-05-04", "phone": "(714) 555-0142",
            "language": "es", "sms_consent": "yes"}

    created = desk.post("/desk/patients/new", form)
    assert created.status_code == 302
    patient_id = int(re.search(r"/desk/patients/(\d+)$", created.headers["Location"]).group(1))
    with db() as session:
        patient = session.get(models.Patient, patient_id)
        assert (patient.first_name, patient.phone, patient.language, patient.sms_consent) == (
            "José", "+17145550142", "es", True)
        assert patient.sms_consent_at is not None
    page = desk.get(created.headers["Location"])
    assert "José Núñez registered." in _text(page)
    assert "+17145550142" in _text(page)

    # The same name (case and accents aside) and birth date: not created, the existing one named and linked.
    twin = desk.post("/desk/patients/new", {**form, "first_name": "jose", "last_name": "NUNEZ"})
    assert twin.status_code == 422
    assert "Possibly the same person" in _text(twin)
    assert f'href="/desk/patients/{patient_id}"' in _text(twin)
    assert 'name="another_person"' in _text(twin)
    assert 'value="jose"' in _text(twin)  # what was typed is kept
    assert _patient_count(db) == 1

    confirmed = desk.post("/desk/patients/new", {**form, "first_name": "jose", "another_person": "yes"})
    assert confirmed.status_code == 302
    assert _patient_count(db) == 2


def test_intake_refuses_a_phone_with_letters_in_words(pages, db):
    desk = pages("front_desk")
    desk.get("/desk/patients/new")
    answer = desk.post("/desk/patients/new", {"first_name": "Ana", "last_name": "Ruiz", "date_of_birth": "1980-01-01",
                                              "phone": "714-CALL-NOW", "language": "en"})
    assert answer.status_code == 422
    assert "phone" in _text(answer).lower()
    assert _patient_count(db) == 0


def test_patient_page_shows_courses_and_texts_and_saves_contact_changes(pages, front_desk, db):
    course = book_course(front_desk)
    patient_id = course["patient_id"]
    desk = pages("front_desk")
    page = desk.get(f"/desk/patients/{patient_id}")
    assert page.status_code == 200
    assert f'href="/desk/courses/{course["id"]}"' in _text(page)
    assert "Texts" in _text(page)

    with db() as session:
        patient = session.get(models.Patient, patient_id)
        form = {"first_name": patient.first_name, "last_name": patient.last_name,
                "date_of_birth": patient.date_of_birth.isoformat(), "phone": "(949) 555-0100", "language": "es"}
    saved = desk.post(f"/desk/patients/{patient_id}/edit", form)
    assert saved.status_code == 302
    with db() as session:
        patient = session.get(models.Patient, patient_id)
        assert (patient.phone, patient.language, patient.sms_consent) == ("+19495550100", "es", False)

    assert desk.get("/desk/patients/999999").status_code == 404
    assert desk.get("/desk/patients/99999999999999999999").status_code == 404


def test_booking_a_course_end_to_end_shows_on_the_board(pages, front_desk, db):
    patient = create_patient(front_desk, first_name="Beatriz", last_name="Okafor")
    desk = pages("front_desk")

    search = desk.get(f"/desk/book?patient={patient['id']}&protocol=tms-10hz-standard&site=fullerton"
                      "&date=2027-03-01&time=09:00")
    assert search.status_code == 200
    text = _text(search)
    assert 'value="09:00"' in text and "checked" in text  # the preferred time fits and is offered
    assert "Next dates the course fits" in text
    assert "Monday 1 March 2027 at 09:00" in text
    assert "America/Los_Angeles" in text

    booked = desk.post("/desk/book", {"patient_id": patient["id"], "protocol_id": "tms-10hz-standard",
                                      "site_id": "fullerton", "start_date": "2027-03-01", "preferred_time": "09:00"})
    assert booked.status_code == 302, _text(booked)
    course_id = int(re.search(r"/desk/courses/(\d+)$", booked.headers["Location"]).group(1))
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)
                              .where(models.TreatmentSession.course_id == course_id)) == 36

    course_page = desk.get(booked.headers["Location"])
    assert "Course booked: 36 sessions" in _text(course_page)
    assert "Mapping (first visit)" in _text(course_page)
    assert "09:00–10:00 PST" in _text(course_page)  # the site's wall-clock time, zone named

    board = desk.get("/desk/board?site=fullerton&date=2027-03-01")
    assert "Beatriz Okafor" in _text(board)
    assert f"/desk/courses/{course_id}#session-" in _text(board)  # Move
    assert 'name="by"' in _text(board)  # Cancel


def test_a_booking_that_clashes_names_the_days_and_the_other_times(pages, front_desk, db):
    fill_fullerton_figure8_chairs(front_desk)
    patient = create_patient(front_desk)
    desk = pages("front_desk")
    desk.get(f"/desk/book?patient={patient['id']}")
    answer = desk.post("/desk/book", {"patient_id": patient["id"], "protocol_id": "tms-10hz-standard",
                                      "site_id": "fullerton", "start_date": "2027-03-01", "preferred_time": "09:00"})
    assert answer.status_code == 422
    with db() as session:  # all or nothing: the two fillers' courses only
        assert session.scalar(select(func.count()).select_from(models.Course)) == 2
    text = _text(answer)
    assert "2027-03-01: no free chair from 09:00" in text
    assert "The whole course fits from that day at:" in text
    offered = re.findall(r'name="preferred_time" value="(\d\d:\d\d)"', text)
    assert offered and "09:00" not in offered
    assert f"The whole course fits from that day at: {', '.join(offered)}" in text


def test_move_and_cancel_from_the_course_page(pages, front_desk, db):
    course = book_course(front_desk)
    second, third = session_number(course, 2), session_number(course, 3)
    desk = pages("front_desk")
    page = desk.get(f"/desk/courses/{course['id']}")
    assert page.status_code == 200
    assert f'action="/desk/sessions/{second["id"]}/move"' in _text(page)
    assert f'action="/desk/sessions/{second["id"]}/cancel"' in _text(page)

    moved = desk.post(f"/desk/sessions/{second['id']}/move",
                      {"date": "2027-03-02", "time": "11:30", "reason": "patient's work",
                       "back": f"/desk/courses/{course['id']}#session-{second['id']}"})
    assert moved.status_code == 302
    assert _session(db, second["id"]).starts_at == local(2027, 3, 2, 11, 30)
    after = desk.get(f"/desk/courses/{course['id']}")
    assert "Session 2 moved to Tuesday 2 March 2027 at 11:30 PST." in _text(after)

    cancelled = desk.post(f"/desk/sessions/{third['id']}/cancel",
                          {"by": "patient", "reason": "a cold", "back": f"/desk/courses/{course['id']}"})
    assert cancelled.status_code == 302
    row = _session(db, third["id"])
    assert (row.status, row.cancelled_by) == ("cancelled", "patient")
    after = desk.get(f"/desk/courses/{course['id']}")
    assert "Session 3 cancelled by the patient. Its make-up is booked" in _text(after)
    assert "Cancelled (by the patient)" in _text(after)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.TreatmentSession)
                              .where(models.TreatmentSession.makeup_for_id == third["id"])) == 1

    # A refused move is said in words, and nothing moves.
    refused = desk.post(f"/desk/sessions/{second['id']}/move", {"date": "2027-03-06", "time": "09:00"})
    assert refused.status_code == 302
    assert "closed" in _text(desk.get(refused.headers["Location"]))
    assert _session(db, second["id"]).starts_at == local(2027, 3, 2, 11, 30)


def test_technician_may_not_register_patients(pages):
    technician = pages("technician")
    assert technician.get("/desk/patients/new").status_code == 403
    assert technician.get("/desk/book").status_code == 403
    assert technician.get("/desk/callbacks").status_code == 403


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(pages, front_desk, db):
    course = book_course(front_desk)
    second = session_number(course, 2)
    desk = pages("front_desk")
    desk.get("/desk/patients/new")
    with writes_nothing(db):
        intake = desk.post("/desk/patients/new", {"first_name": "Ana", "last_name": "Ruiz",
                                                  "date_of_birth": "1980-01-01", "phone": "(714) 555-0177"},
                           csrf=False)
        cancel = desk.post(f"/desk/sessions/{second['id']}/cancel", {"by": "patient", "reason": "x"}, csrf=False)
    assert intake.status_code == 400
    assert cancel.status_code == 400
    assert _session(db, second["id"]).status == "scheduled"


def test_bad_ids_and_dates_in_urls_are_not_found(pages):
    desk = pages("front_desk")
    for path in ("/desk/courses/999999", "/desk/courses/99999999999999999999", "/desk/board?date=2027-13-40",
                 "/desk/board?site=nowhere", "/desk/book?date=yesterday", "/desk/book?patient=abc",
                 "/desk/book?time=9am&patient=1", "/desk/callbacks?site=nowhere"):
        assert desk.get(path).status_code == 404, path
    assert desk.post("/desk/sessions/99999999999999/move", {"date": "2027-03-02", "time": "09:00"}).status_code == 404
    assert desk.post("/desk/sessions/999999/cancel", {"by": "patient", "reason": "x"}).status_code == 404
    assert desk.post("/desk/callbacks/999999/done").status_code == 404


def test_the_front_desks_course_page_never_shows_treatment_records_or_phq9(pages, front_desk, client, clock):
    course = book_course(front_desk)
    first = session_number(course, 1)
    technician = signed_in_at(client, clock, local(2027, 3, 1, 9, 5), "technician")
    assert technician.post(f"/api/v1/sessions/{first['id']}/check-in").status_code == 200
    done = technician.post(f"/api/v1/sessions/{first['id']}/complete",
                           json={"motor_threshold": 57, "intensity": 120, "frequency": 10, "pulses": 3000,
                                 "coil_position": "5 cm anterior", "side_effects": ["headache"], "discomfort": 3,
                                 "supervising_physician": "Dr. Whitfield", "notes": "tolerated well"})
    assert done.status_code == 200, done.json
    clinician = signed_in_at(client, clock, local(2027, 3, 1, 10), "clinician")
    scored = clinician.post(f"/api/v1/courses/{course['id']}/assessments",
                            json={"instrument": "PHQ-9", "score": 19, "taken_on": "2027-03-01"})
    assert scored.status_code == 201, scored.json

    desk = pages("front_desk")
    page = desk.get(f"/desk/courses/{course['id']}")
    assert page.status_code == 200
    text = _text(page).lower()
    assert "completed" in text
    for secret in ("phq", "motor threshold", "intensity", "5 cm anterior", "headache", "dr. whitfield",
                   "tolerated well", "discomfort", "supervising", "side effect", "treatment record"):
        assert secret not in text, secret


def test_call_backs_are_listed_and_marked_done(pages, front_desk, db):
    patient = create_patient(front_desk, first_name="Ines", last_name="Calloway")
    with db() as session:
        callback = models.Callback(site_id="fullerton", patient_id=patient["id"], reason="call_back",
                                   created_at=datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
        session.add(callback)
        session.commit()
        callback_id = callback.id
    desk = pages("front_desk")
    listing = desk.get("/desk/callbacks?site=fullerton")
    assert listing.status_code == 200
    assert "Ines Calloway" in _text(listing)
    assert "The patient asked to be called back" in _text(listing)
    assert "1 Dec 2026 08:00 PST" in _text(listing)

    done = desk.post(f"/desk/callbacks/{callback_id}/done", {"back": "/desk/callbacks?site=fullerton"})
    assert done.status_code == 302
    after = desk.get(done.headers["Location"])
    assert "Call-back marked done." in _text(after)
    assert "Nobody to call back." in _text(after)
    with db() as session:
        assert session.get(models.Callback, callback_id).done_at is not None
    again = desk.post(f"/desk/callbacks/{callback_id}/done")
    assert "done already" in _text(desk.get(again.headers["Location"]))


class _Controls(HTMLParser):
    """Every form control's id, the labels' `for`, every id, and what a strict CSP would refuse."""

    def __init__(self):
        super().__init__()
        self.controls: list[str | None] = []
        self.labels: set[str] = set()
        self.ids: list[str] = []
        self.refused: list[str] = []
        self.forms: list[bool] = []  # per POST form: whether it carries the CSRF field
        self._in_post = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if "style" in a or any(name.startswith("on") for name in a):
            self.refused.append(f"{tag} {a}")
        if tag == "script" and "src" not in a:
            self.refused.append("inline script")
        if tag == "style":
            self.refused.append("style element")
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._in_post = True
            self.forms.append(False)
        if tag == "input" and a.get("name") == "csrf_token" and a.get("type") == "hidden" and self._in_post:
            self.forms[-1] = True
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") not in ("hidden", "submit")):
            self.controls.append(a.get("id"))
        if tag == "label" and "for" in a:
            self.labels.add(a["for"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_post = False


def test_every_page_labels_its_controls_and_needs_no_inline_script_or_style(pages, front_desk, db):
    course = book_course(front_desk)
    paused = book_course(front_desk)
    assert front_desk.post(f"/api/v1/courses/{paused['id']}/pause", json={"reason": "travel"}).status_code == 200
    with db() as session:
        session.add(models.Callback(site_id="fullerton", patient_id=course["patient_id"], reason="invalid_phone",
                                    created_at=datetime(2026, 12, 1, 16, 0, tzinfo=UTC)))
        session.commit()
    desk = pages("front_desk")
    for path in ("/desk/board?site=fullerton&date=2027-03-01", "/desk/patients?q=a", "/desk/patients/new",
                 f"/desk/patients/{course['patient_id']}", f"/desk/courses/{course['id']}",
                 f"/desk/courses/{paused['id']}",
                 f"/desk/book?patient={course['patient_id']}&protocol=itbs&site=fullerton&date=2027-03-08&time=09:00",
                 "/desk/book?q=a", "/desk/callbacks?site=fullerton"):
        answer = desk.get(path)
        assert answer.status_code == 200, path
        found = _Controls()
        found.feed(_text(answer))
        assert found.controls, path
        assert None not in found.controls, path
        assert set(found.controls) <= found.labels, (path, set(found.controls) - found.labels)
        assert len(found.ids) == len(set(found.ids)), path
        assert not found.refused, (path, found.refused)
        assert all(found.forms), path


# --- the authorization on the booking form, a whole course's changes, text reminders, make-ups

def _course_row(db, course_id: int) -> models.Course:
    with db() as session:
        found = session.get(models.Course, course_id)
        assert found is not None
        return found


def _booking_form(patient_id: int, **authorization) -> dict:
    return {"patient_id": patient_id, "protocol_id": "tms-10hz-standard", "site_id": "fullerton",
            "start_date": "2027-03-01", "preferred_time": "09:00", **authorization}


def test_booking_with_an_authorization_stores_it_and_a_course_beyond_it_needs_an_override(pages, front_desk, db):
    patient = create_patient(front_desk, first_name="Carmen", last_name="Ibarra")
    desk = pages("front_desk")
    search = desk.get(f"/desk/book?patient={patient['id']}&protocol=tms-10hz-standard&site=fullerton"
                      "&date=2027-03-01&time=09:00")
    for name in ("auth_payer", "auth_number", "auth_sessions", "auth_valid_from", "auth_valid_to",
                 "auth_override_reason"):
        assert f'<label for="{name}">' in _text(search), name

    # 36 sessions do not fit 30 authorized: refused, nothing booked, the form back with what was typed.
    typed = {"auth_payer": "Aetna", "auth_number": "PA-7781", "auth_sessions": "30",
             "auth_valid_from": "2027-02-15", "auth_valid_to": "2027-06-30"}
    refused = desk.post("/desk/book", _booking_form(patient["id"], **typed))
    assert refused.status_code == 422
    assert "30 are authorized" in _text(refused)
    assert 'value="PA-7781"' in _text(refused) and 'name="preferred_time" value="09:00"' in _text(refused)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(models.Course)) == 0

    malformed = desk.post("/desk/book", _booking_form(patient["id"], auth_sessions="lots"))
    assert malformed.status_code == 422
    assert "Sessions authorized:" in _text(malformed)
    backwards = desk.post("/desk/book", _booking_form(patient["id"], auth_valid_from="2027-06-30",
                                                      auth_valid_to="2027-02-15"))
    assert backwards.status_code == 422
    assert "cannot end before it starts" in _text(backwards)

    booked = desk.post("/desk/book", _booking_form(patient["id"], **typed,
                                                   auth_override_reason="extension of 6 requested"))
    assert booked.status_code == 302, _text(booked)
    course_id = int(re.search(r"/desk/courses/(\d+)$", booked.headers["Location"]).group(1))
    course = _course_row(db, course_id)
    assert (course.payer, course.authorization_number, course.authorized_sessions) == ("Aetna", "PA-7781", 30)
    assert (course.authorization_valid_from.isoformat(), course.authorization_valid_to.isoformat()) == (
        "2027-02-15", "2027-06-30")
    assert course.authorization_override_reason == "extension of 6 requested"
    page = _text(desk.get(booked.headers["Location"]))
    assert "Aetna no. PA-7781, 30 sessions" in page
    # The API answers the same authorization.
    assert front_desk.get(f"/api/v1/courses/{course_id}").json["authorization"]["number"] == "PA-7781"


def test_booking_without_an_authorization_stores_none(pages, front_desk, db):
    patient = create_patient(front_desk)
    desk = pages("front_desk")
    desk.get(f"/desk/book?patient={patient['id']}")
    blank = dict.fromkeys(("auth_payer", "auth_number", "auth_sessions", "auth_valid_from", "auth_valid_to",
                           "auth_override_reason"), "")
    booked = desk.post("/desk/book", _booking_form(patient["id"], **blank))
    assert booked.status_code == 302, _text(booked)
    course_id = int(re.search(r"/desk/courses/(\d+)$", booked.headers["Location"]).group(1))
    course = _course_row(db, course_id)
    assert (course.payer, course.authorization_number, course.authorized_sessions) == (None, None, None)


def test_pause_resume_and_cancel_the_course_from_its_page(pages, front_desk, db):
    course = book_course(front_desk)
    desk = pages("front_desk")
    path = f"/desk/courses/{course['id']}"
    page = _text(desk.get(path))
    assert f'action="{path}/pause"' in page and f'action="{path}/cancel"' in page
    assert f'action="{path}/resume"' not in page  # not paused
    assert re.search(r'aria-label="Pause the course: Ana Lopez"[^>]*>Pause the course</button>', page)

    paused = desk.post(f"{path}/pause", {"reason": "patient in hospital", "back": path})
    assert paused.status_code == 302 and paused.headers["Location"] == path
    assert _course_row(db, course["id"]).paused_at is not None
    answer = front_desk.get(f"/api/v1/courses/{course['id']}").json
    assert all(s["status"] == "cancelled" for s in answer["sessions"])
    page = _text(desk.get(path))
    assert f"Course {course['id']} paused" in page
    assert f'action="{path}/resume"' in page and f'action="{path}/pause"' not in page
    assert "Cancelled (course paused)" in page

    # A second pause is refused by the service, in words.
    again = desk.post(f"{path}/pause", {"reason": "again", "back": path})
    assert "Only an active, running course can be paused" in _text(desk.get(again.headers["Location"]))

    resumed = desk.post(f"{path}/resume", {"from_date": "2027-03-08", "back": path})
    assert resumed.status_code == 302
    assert _course_row(db, course["id"]).paused_at is None
    answer = front_desk.get(f"/api/v1/courses/{course['id']}").json
    ahead = [s for s in answer["sessions"] if s["status"] == "scheduled"]
    assert len(ahead) == 36 and min(s["starts_at"] for s in ahead) >= "2027-03-08"
    assert "resumed: its released sessions are booked again from Monday 8 March 2027" in _text(desk.get(path))

    cancelled = desk.post(f"{path}/cancel", {"reason": "moved away", "back": path})
    assert cancelled.status_code == 302
    row = _course_row(db, course["id"])
    assert (row.status, row.cancel_reason) == ("cancelled", "moved away")
    assert front_desk.get(f"/api/v1/courses/{course['id']}").json["status"] == "cancelled"
    page = _text(desk.get(path))
    assert f"Course {course['id']} cancelled" in page
    assert f'action="{path}/cancel"' not in page and f'action="{path}/pause"' not in page
    with db() as session:
        actions = session.scalars(select(models.CourseEvent.action)
                                  .where(models.CourseEvent.course_id == course["id"])
                                  .order_by(models.CourseEvent.id)).all()
    assert actions == ["pause", "resume", "cancel"]


def test_course_change_forms_refuse_bad_input_with_422_or_404(pages, front_desk, db):
    course = book_course(front_desk)
    desk = pages("front_desk")
    path = f"/desk/courses/{course['id']}"
    desk.get(path)
    with writes_nothing(db):
        no_reason = desk.post(f"{path}/pause", {"reason": "  "})
        control = desk.post(f"{path}/cancel", {"reason": "bad\x00text"})
        no_date = desk.post(f"{path}/resume", {"from_date": "soon"})
        too_long = desk.post(f"/desk/sessions/{session_number(course, 1)['id']}/makeup",
                             {"override_reason": "x" * 1001})
    for answer in (no_reason, control, no_date, too_long):
        assert answer.status_code == 422, _text(answer)
        assert 'href="/desk/' in _text(answer)
    assert "Why: say why." in _text(no_reason)
    assert "Resume from:" in _text(no_date)
    assert desk.post("/desk/courses/999999/pause", {"reason": "x"}).status_code == 404
    assert desk.post("/desk/courses/99999999999999/cancel", {"reason": "x"}).status_code == 404
    assert desk.post("/desk/courses/999999/resume", {"from_date": "2027-03-08"}).status_code == 404
    assert desk.post("/desk/sessions/999999/makeup", {"override_reason": "x"}).status_code == 404
    assert desk.post("/desk/reminders/999999/resend").status_code == 404
    assert desk.post("/desk/reminders/99999999999999/resend").status_code == 404
    # A `back` elsewhere than this service is not followed.
    elsewhere = desk.post(f"{path}/pause", {"reason": "travel", "back": "//evil.example/x"})
    assert elsewhere.headers["Location"] == path


def test_a_failed_reminder_is_listed_and_sent_again_from_the_course_page(pages, front_desk, db):
    course = book_course(front_desk)
    with db() as session:
        reminder = session.scalars(select(models.Reminder).where(models.Reminder.course_id == course["id"],
                                                                  models.Reminder.session_id.is_not(None))
                                   .order_by(models.Reminder.send_at)).first()
        assert reminder is not None
        reminder.status, reminder.attempts, reminder.error_code = "failed", 3, 30003
        session.commit()
        reminder_id, session_id = reminder.id, reminder.session_id
    number = next(s["number"] for s in course["sessions"] if s["id"] == session_id)
    desk = pages("front_desk")
    path = f"/desk/courses/{course['id']}"
    page = _text(desk.get(path))
    assert "Text reminders" in page and "30003" in page and "Failed" in page
    assert f'action="/desk/reminders/{reminder_id}/resend"' in page
    assert page.count("/resend\"") == 1  # only the failed one
    assert f'aria-label="Send again the reminder for session {number}">Send again</button>' in page

    sent = desk.post(f"/desk/reminders/{reminder_id}/resend", {"back": f"{path}#reminders"})
    assert sent.status_code == 302 and sent.headers["Location"] == f"{path}#reminders"
    with db() as session:
        again = session.get(models.Reminder, reminder_id)
        assert (again.status, again.attempts, again.error_code) == ("pending", 0, None)
    assert "The reminder is sent again now." in _text(desk.get(path))
    # Pending now: not sent again twice.
    twice = desk.post(f"/desk/reminders/{reminder_id}/resend", {"back": path})
    assert "Only a failed or undelivered reminder is sent again" in _text(desk.get(twice.headers["Location"]))


def test_a_make_up_refused_beyond_the_authorization_is_booked_from_the_page_with_an_override(
        pages, front_desk, client, clock, db):
    course = book_course(front_desk, authorization={"payer": "Aetna", "number": "A-1", "sessions": 30,
                                                    "override_reason": "extension of 6 requested"})
    missed = session_number(course, 5)
    technician = signed_in_at(client, clock, local(2027, 3, 5, 9, 10), "technician")
    answer = technician.post(f"/api/v1/sessions/{missed['id']}/no-show")
    assert answer.status_code == 200 and answer.json["makeup_session"] is None, answer.json
    clock.now = local(2027, 3, 5, 10, 0)
    desk = pages("front_desk")
    path = f"/desk/courses/{course['id']}"
    page = _text(desk.get(path))
    assert "No make-up booked" in page
    assert f'action="/desk/sessions/{missed["id"]}/makeup"' in page

    with writes_nothing(db):  # without the override: refused in words
        refused = desk.post(f"/desk/sessions/{missed['id']}/makeup", {"override_reason": "", "back": path})
    assert refused.status_code == 302
    assert "override" in _text(desk.get(refused.headers["Location"]))

    booked = desk.post(f"/desk/sessions/{missed['id']}/makeup",
                       {"override_reason": "payer approved by phone, ref 77", "back": f"{path}#session-{missed['id']}"})
    assert booked.status_code == 302
    assert booked.headers["Location"] == f"{path}#session-{missed['id']}"
    with db() as session:
        makeup = session.scalars(select(models.TreatmentSession)
                                 .where(models.TreatmentSession.makeup_for_id == missed["id"])).one()
        assert (makeup.kind, makeup.status) == ("makeup", "scheduled")
        overrides = session.scalars(select(models.CourseEvent.reason).where(
            models.CourseEvent.course_id == course["id"], models.CourseEvent.action == "authorization_override")).all()
    assert any("payer approved by phone, ref 77" in reason for reason in overrides)
    page = _text(desk.get(path))
    assert "The make-up for session 5 is booked on" in page
    assert f'action="/desk/sessions/{missed["id"]}/makeup"' not in page


def test_a_technician_may_not_change_a_course_resend_or_book_a_make_up(pages, front_desk, db):
    course = book_course(front_desk)
    tech = pages("technician")
    path = f"/desk/courses/{course['id']}"
    page = _text(tech.get(path))  # a technician reads the course
    for action in ("/pause", "/cancel\"", "/resume", "/resend", "/makeup"):
        assert action not in page, action
    assert "Text reminders" not in page
    with db() as session:
        reminder_id = session.scalars(select(models.Reminder.id)
                                      .where(models.Reminder.course_id == course["id"])).first()
    with writes_nothing(db):
        for url, form in ((f"{path}/pause", {"reason": "x"}), (f"{path}/cancel", {"reason": "x"}),
                          (f"{path}/resume", {"from_date": "2027-03-08"}),
                          (f"/desk/sessions/{session_number(course, 1)['id']}/makeup", {"override_reason": "x"}),
                          (f"/desk/reminders/{reminder_id}/resend", {})):
            assert tech.post(url, form).status_code == 403, url
    assert _course_row(db, course["id"]).status == "active"


def test_course_changes_without_their_csrf_token_are_refused(pages, front_desk, db):
    course = book_course(front_desk)
    desk = pages("front_desk")
    path = f"/desk/courses/{course['id']}"
    desk.get(path)
    with db() as session:
        reminder_id = session.scalars(select(models.Reminder.id)
                                      .where(models.Reminder.course_id == course["id"])).first()
    with writes_nothing(db):
        for url, form in ((f"{path}/pause", {"reason": "x"}), (f"{path}/cancel", {"reason": "x"}),
                          (f"{path}/resume", {"from_date": "2027-03-08"}),
                          (f"/desk/sessions/{session_number(course, 1)['id']}/makeup", {"override_reason": "x"}),
                          (f"/desk/reminders/{reminder_id}/resend", {})):
            assert desk.post(url, form, csrf=False).status_code == 400, url
    assert _course_row(db, course["id"]).paused_at is None
