"""The technicians' and clinicians' pages: today's list, check-in, the treatment record form, the
worklist and a course's page with its PHQ-9 chart; who may see them; CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.factories import book_course, create_patient, local, session_number
from tms_scheduler.db.models import TreatmentRecord, TreatmentSession

RECORD = {"motor_threshold": "62", "intensity": "120", "frequency": "10", "pulses": "3000",
          "coil_position": "F3 by Beam", "side_effects": ["headache"], "discomfort": "3",
          "supervising_physician": "Dr. Reyes", "notes": "Tolerated well"}


@pytest.fixture
def course(front_desk):
    """A standard course at Fullerton from Wednesday 2 December 2026 at 09:00 (the clock: Tuesday 1st)."""
    patient = create_patient(front_desk, first_name="Marisol", last_name="Quintero")
    return book_course(front_desk, patient["id"], start_date="2026-12-02", preferred_time="09:00")


def text(answer) -> str:
    return answer.get_data(as_text=True)


def assert_strict_page(html: str) -> None:
    """No inline script or style: the CSP allows neither."""
    assert " style=" not in html
    assert "<script>" not in html and "<style" not in html


def test_technician_checks_in_and_records_a_treatment_then_sees_it_next_time(pages, clock, course, db):
    first, second = session_number(course, 1), session_number(course, 2)
    clock.now = local(2026, 12, 2, 9, 5)
    tech = pages("technician")

    today = tech.get("/chair/today")
    assert today.status_code == 200
    html = text(today)
    assert_strict_page(html)
    assert "Marisol Quintero" in html and "09:00 PST" in html and "America/Los_Angeles" in html
    assert "Booked, not checked in" in html

    answer = tech.post(f"/chair/sessions/{first['id']}/check-in", {"back": "/chair/today?site=fullerton"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/chair/today?site=fullerton"
    html = text(tech.get("/chair/today?site=fullerton"))
    assert "Session 1 checked in." in html
    assert "Checked in, treatment not yet recorded" in html
    assert f"/chair/sessions/{first['id']}/record" in html

    form = tech.get(f"/chair/sessions/{first['id']}/record")
    assert form.status_code == 200
    html = text(form)
    assert_strict_page(html)
    assert "No earlier treatment of this course is recorded." in html
    assert "re-check due" not in html  # session 1 is the mapping session
    for field in ("motor_threshold", "intensity", "frequency", "pulses", "coil_position", "discomfort",
                  "supervising_physician", "notes"):
        assert f'<label for="f-{field}">' in html

    refused = tech.post(f"/chair/sessions/{first['id']}/record", {**RECORD, "motor_threshold": "500"})
    assert refused.status_code == 422
    assert "Refused:" in text(refused) and 'aria-invalid="true"' in text(refused)
    with db() as session:
        assert session.get(TreatmentRecord, first["id"]) is None

    done = tech.post(f"/chair/sessions/{first['id']}/record", RECORD)
    assert done.status_code == 302 and done.headers["Location"].startswith("/chair/today")
    assert "completed; its treatment is recorded" in text(tech.get(done.headers["Location"]))
    with db() as session:
        record = session.get(TreatmentRecord, first["id"])
        assert (record.motor_threshold, record.intensity, record.pulses, record.side_effects) == (62, 120, 3000,
                                                                                                 ["headache"])
        assert session.get(TreatmentSession, first["id"]).status == "completed"

    # The next day: the previous session's values are on the form for reference.
    clock.now = local(2026, 12, 3, 9, 2)
    tech = pages("technician")
    assert tech.post(f"/chair/sessions/{second['id']}/check-in").status_code == 302
    html = text(tech.get(f"/chair/sessions/{second['id']}/record"))
    assert "Last time: 62%" in html
    assert "Last time: 120% of MT" in html
    assert "Last time: 3,000" in html
    assert "Last time: Headache" in html
    assert "Last time: Dr. Reyes" in html
    assert "session 1 of this course" in html


def test_the_motor_threshold_recheck_is_called_out_at_the_first_session_of_a_week(pages, clock, course):
    monday = session_number(course, 4)  # sessions 1-3 Wednesday to Friday, 4 on Monday 7 December
    clock.now = local(2026, 12, 7, 9, 1)
    tech = pages("technician")
    assert tech.post(f"/chair/sessions/{monday['id']}/check-in").status_code == 302
    html = text(tech.get(f"/chair/sessions/{monday['id']}/record"))
    assert "Motor-threshold re-check due:" in html


def test_a_scheduled_session_asks_for_check_in_before_the_form(pages, clock, course):
    first = session_number(course, 1)
    clock.now = local(2026, 12, 2, 8, 30)
    tech = pages("technician")
    html = text(tech.get(f"/chair/sessions/{first['id']}/record"))
    assert "not checked in yet" in html and 'name="motor_threshold"' not in html
    assert "No-show" not in text(tech.get("/chair/today"))  # not started yet


def test_technician_marks_a_no_show_and_its_make_up_is_booked(pages, clock, course):
    first = session_number(course, 1)
    clock.now = local(2026, 12, 2, 10, 30)
    tech = pages("technician")
    assert "No-show</button>" in text(tech.get("/chair/today"))
    answer = tech.post(f"/chair/sessions/{first['id']}/no-show", {"back": "/chair/today"})
    assert answer.status_code == 302
    html = text(tech.get("/chair/today"))
    assert "marked a no-show" in html and "Missed: did not come (no-show)" in html


def test_completing_on_another_day_is_refused_in_words(pages, clock, course):
    first = session_number(course, 1)
    clock.now = local(2026, 12, 2, 9, 0)
    tech = pages("technician")
    assert tech.post(f"/chair/sessions/{first['id']}/check-in").status_code == 302
    clock.now = local(2026, 12, 2, 15, 0)
    answer = tech.post(f"/chair/sessions/{first['id']}/record", RECORD)
    assert answer.status_code == 302  # completes: same local day
    third = session_number(course, 3)
    answer = tech.post(f"/chair/sessions/{third['id']}/check-in", {"back": "/chair/today"})
    assert answer.status_code == 302
    assert "Check-in is only possible on the session" in text(tech.get("/chair/today"))


def test_clinician_records_phq9_and_sees_the_chart_with_response_and_remission_lines(pages, clock, course,
                                                                                       front_desk):
    # Two sessions cancelled by the patient: the course is at risk now.
    for number in (3, 4):
        answer = front_desk.post(f"/api/v1/sessions/{session_number(course, number)['id']}/cancel",
                                 json={"by": "patient", "reason": "travel"})
        assert answer.status_code == 200, answer.json
    doctor = pages("clinician")
    worklist = doctor.get("/clinic/worklist")
    assert worklist.status_code == 200
    html = text(worklist)
    assert_strict_page(html)
    assert "Marisol Quintero" in html
    assert "missed two or more sessions in a row" in html
    assert f'/clinic/courses/{course["id"]}' in html
    assert "Missed sessions in a row" in text(doctor.get("/clinic/worklist?flag=consecutive_misses"))
    assert "Marisol Quintero" not in text(doctor.get("/clinic/worklist?flag=low_week"))

    baseline = doctor.post(f"/clinic/courses/{course['id']}/assessments", {"score": "20", "taken_on": "2026-12-01"})
    assert baseline.status_code == 302
    assert "PHQ-9 score 20" in text(doctor.get(baseline.headers["Location"]))
    refused = doctor.post(f"/clinic/courses/{course['id']}/assessments", {"score": "9", "taken_on": "2026-12-09"})
    assert refused.status_code == 302
    assert "future" in text(doctor.get(refused.headers["Location"]))

    clock.now = local(2026, 12, 9, 12)
    doctor = pages("clinician")
    assert doctor.post(f"/clinic/courses/{course['id']}/assessments",
                       {"score": "9", "taken_on": "2026-12-09"}).status_code == 302
    assert doctor.post(f"/clinic/courses/{course['id']}/assessments",
                       {"score": "x", "taken_on": "2026-12-09"}).status_code == 302

    page = doctor.get(f"/clinic/courses/{course['id']}")
    assert page.status_code == 200
    html = text(page)
    assert_strict_page(html)
    svg = re.search(r"<svg.*?</svg>", html, re.S)
    assert svg, "the PHQ-9 chart is inline SVG"
    chart = svg.group(0)
    assert 'role="img"' in chart and "<title" in chart and "<desc" in chart
    assert 'class="line-response"' in chart and 'class="line-remission"' in chart
    assert "Response: half the baseline (10)" in chart
    assert "Remission: below 5" in chart
    # The scores as a table too.
    table = re.search(r'<table class="scores">.*?</table>', html, re.S).group(0)
    assert "<th scope=\"col\">Score</th>" in table
    assert "<td>20</td>" in table and "<td>9</td>" in table and "-55.0%" in table
    assert "Response (a drop of at least 50%): <strong>reached</strong>" in html
    assert "Remission (a score below 5): <strong>not reached</strong>" in html
    # The timeline in words.
    assert "Missed: cancelled by the patient" in html
    assert "Made up by session" in html
    assert "Ahead (booked)" in html
    assert "Taper" in html


def test_the_course_page_shows_treatment_parameters_over_time(pages, clock, course):
    tech_times = [(1, local(2026, 12, 2, 9, 5)), (2, local(2026, 12, 3, 9, 5))]
    for (number, when), threshold in zip(tech_times, ("62", "60")):
        clock.now = when
        tech = pages("technician")
        session_id = session_number(course, number)["id"]
        assert tech.post(f"/chair/sessions/{session_id}/check-in").status_code == 302
        assert tech.post(f"/chair/sessions/{session_id}/record",
                         {**RECORD, "motor_threshold": threshold}).status_code == 302
    html = text(pages("clinician").get(f"/clinic/courses/{course['id']}"))
    table = re.search(r'<table class="treatments">.*?</table>', html, re.S).group(0)
    assert "F3 by Beam" in table and "Dr. Reyes" in table and "technician" in table
    assert "(changed from 62)" in table
    assert "2 of 36 prescribed" in html


def test_technicians_see_a_course_without_phq9(pages, clock, course):
    doctor = pages("clinician")
    assert doctor.post(f"/clinic/courses/{course['id']}/assessments",
                       {"score": "18", "taken_on": "2026-12-01"}).status_code == 302
    html = text(pages("technician").get(f"/clinic/courses/{course['id']}"))
    assert "Sessions" in html
    assert "PHQ-9" not in html and "<svg" not in html
    assert pages("technician").get("/clinic/worklist").status_code == 403


def test_the_front_desk_never_gets_a_treatment_record_or_phq9(pages, course):
    desk = pages("front_desk")
    assert desk.get(f"/clinic/courses/{course['id']}").status_code == 403
    assert desk.get(f"/chair/sessions/{session_number(course, 1)['id']}/record").status_code == 403
    assert desk.post(f"/chair/sessions/{session_number(course, 1)['id']}/record", RECORD).status_code == 403
    assert desk.post(f"/clinic/courses/{course['id']}/assessments",
                     {"score": "9", "taken_on": "2026-12-01"}).status_code == 403
    assert desk.get("/clinic/worklist").status_code == 403
    assert "Worklist" not in text(desk.get("/desk/board"))


def test_a_form_without_its_csrf_token_is_refused(pages, clock, course, db):
    first = session_number(course, 1)
    clock.now = local(2026, 12, 2, 9, 0)
    tech = pages("technician")
    assert tech.post(f"/chair/sessions/{first['id']}/check-in", csrf=False).status_code == 400
    assert tech.post(f"/chair/sessions/{first['id']}/record", RECORD, csrf=False).status_code == 400
    doctor = pages("clinician")
    assert doctor.post(f"/clinic/courses/{course['id']}/assessments", {"score": "9", "taken_on": "2026-12-01"},
                       csrf=False).status_code == 400
    with db() as session:
        assert session.scalar(select(TreatmentSession.status).where(TreatmentSession.id == first["id"])) == \
            "scheduled"


def test_unknown_ids_are_404_pages(pages):
    tech, doctor = pages("technician"), pages("clinician")
    for client, path in ((tech, "/chair/sessions/999999/record"), (tech, "/chair/today?site=nowhere"),
                         (tech, "/chair/today?site=beverly-hills"), (doctor, "/clinic/courses/999999"),
                         (doctor, "/clinic/worklist?site=nowhere"), (doctor, "/clinic/worklist?flag=nothing")):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in text(answer)
    assert tech.post("/chair/sessions/999999/check-in").status_code == 404
    assert doctor.post("/clinic/courses/999999/assessments", {"score": "9", "taken_on": "2026-12-01"}).status_code \
        == 404


def test_menus_and_first_pages(pages):
    tech = pages("technician")
    assert tech.client.get("/").headers["Location"].endswith("/chair/today")
    html = text(tech.get("/chair/today"))
    assert ">Today</a>" in html and ">Worklist</a>" not in html
    doctor = pages("clinician")
    assert doctor.client.get("/").headers["Location"].endswith("/clinic/worklist")
    assert ">Worklist</a>" in text(doctor.get("/clinic/worklist"))



def test_a_clinician_pauses_resumes_and_cancels_the_course_from_their_course_page(pages, clock, course, front_desk,
                                                                                   db):
    from tms_scheduler.db.models import Course, CourseEvent

    doctor = pages("clinician")
    path = f"/clinic/courses/{course['id']}"
    html = text(doctor.get(path))
    assert_strict_page(html)
    desk = f"/desk/courses/{course['id']}"
    assert f'action="{desk}/pause"' in html and f'action="{desk}/cancel"' in html
    assert f'action="{desk}/resume"' not in html
    assert f'name="back" value="{path}"' in html
    assert re.search(r'aria-label="Cancel the rest of the course: Marisol Quintero"[^>]*>Cancel the rest of the '
                     r'course</button>', html)
    for control in ("pause-reason", "cancel-course-reason"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html

    paused = doctor.post(f"{desk}/pause", {"reason": "side effects under review", "back": path})
    assert paused.status_code == 302 and paused.headers["Location"] == path
    html = text(doctor.get(path))
    assert "paused: its future sessions are released" in html
    assert f'action="{desk}/resume"' in html and f'action="{desk}/pause"' not in html
    assert '<label for="resume-from">' in html
    with db() as session:
        assert session.get(Course, course["id"]).paused_at is not None

    resumed = doctor.post(f"{desk}/resume", {"from_date": "2026-12-07", "back": path})
    assert resumed.status_code == 302 and resumed.headers["Location"] == path
    assert "resumed" in text(doctor.get(path))
    answer = front_desk.get(f"/api/v1/courses/{course['id']}").json
    assert answer["paused"] is False
    assert min(s["starts_at"] for s in answer["sessions"] if s["status"] == "scheduled") >= "2026-12-07"

    cancelled = doctor.post(f"{desk}/cancel", {"reason": "patient withdrew consent", "back": path})
    assert cancelled.status_code == 302 and cancelled.headers["Location"] == path
    html = text(doctor.get(path))
    assert "cancelled: every session still ahead is released" in html
    assert f'action="{desk}/cancel"' not in html and f'action="{desk}/pause"' not in html
    with db() as session:
        row = session.get(Course, course["id"])
        assert (row.status, row.cancel_reason) == ("cancelled", "patient withdrew consent")
        events = session.scalars(select(CourseEvent).where(CourseEvent.course_id == course["id"])
                                 .order_by(CourseEvent.id)).all()
    assert [e.action for e in events] == ["pause", "resume", "cancel"]
    assert all(e.user_id is not None for e in events)  # the clinician, through the services


def test_the_course_change_forms_only_go_back_to_this_service(pages, course):
    doctor = pages("clinician")
    doctor.get(f"/clinic/courses/{course['id']}")
    for back in ("//evil.example/x", "https://evil.example/x", "", "\\\\evil"):
        answer = doctor.post(f"/desk/courses/{course['id']}/pause", {"reason": "travel", "back": back})
        assert answer.headers["Location"] == f"/desk/courses/{course['id']}", back


def test_a_technician_sees_no_course_change_forms_and_may_not_post_them(pages, course, db):
    from tms_scheduler.db.models import Course

    tech = pages("technician")
    html = text(tech.get(f"/clinic/courses/{course['id']}"))
    assert "/pause" not in html and "/resume" not in html and "Cancel the rest" not in html
    desk = f"/desk/courses/{course['id']}"
    for url, form in ((f"{desk}/pause", {"reason": "x"}), (f"{desk}/cancel", {"reason": "x"}),
                      (f"{desk}/resume", {"from_date": "2026-12-07"})):
        assert tech.post(url, {**form, "back": f"/clinic/courses/{course['id']}"}).status_code == 403, url
    doctor = pages("clinician")
    doctor.get(f"/clinic/courses/{course['id']}")
    for url, form in ((f"{desk}/pause", {"reason": "x"}), (f"{desk}/cancel", {"reason": "x"})):
        assert doctor.post(url, form, csrf=False).status_code == 400, url
    with db() as session:
        row = session.get(Course, course["id"])
        assert (row.status, row.paused_at) == ("active", None)
