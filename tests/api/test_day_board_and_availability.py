"""The day board of a site, and the start times at which a whole course fits."""
from __future__ import annotations

from tests.factories import book_course, create_patient, fill_fullerton_figure8_chairs

BOARD = "/api/v1/sites/fullerton/schedule"
AVAILABILITY = "/api/v1/sites/fullerton/availability"


def test_the_board_answers_every_chair_of_the_site(front_desk):
    answer = front_desk.get(BOARD, query_string={"date": "2027-03-01"})

    assert answer.status_code == 200
    assert (answer.json["site_id"], answer.json["date"]) == ("fullerton", "2027-03-01")
    chairs = front_desk.get("/api/v1/sites/fullerton/chairs").json
    assert [c["id"] for c in answer.json["chairs"]] == [c["id"] for c in chairs]
    assert all(c["sessions"] == [] for c in answer.json["chairs"])


def test_the_board_shows_the_days_session_in_its_chair_with_the_patient(front_desk):
    patient = create_patient(front_desk, first_name="Maya", last_name="Brooks")
    course = book_course(front_desk, patient["id"], start_date="2027-03-01")
    first = course["sessions"][0]

    board = front_desk.get(BOARD, query_string={"date": "2027-03-01"}).json

    chair = next(c for c in board["chairs"] if c["id"] == first["chair_id"])
    assert len(chair["sessions"]) == 1
    shown = chair["sessions"][0]
    assert (shown["id"], shown["course_id"], shown["status"]) == (first["id"], course["id"], "scheduled")
    assert (shown["starts_at"], shown["ends_at"]) == (first["starts_at"], first["ends_at"])
    assert shown["patient"] == {"id": patient["id"], "name": "Maya Brooks"}


def test_the_board_leaves_out_other_days_sessions(front_desk):
    book_course(front_desk, start_date="2027-03-02")

    board = front_desk.get(BOARD, query_string={"date": "2027-03-01"}).json

    assert all(c["sessions"] == [] for c in board["chairs"])


def test_the_board_of_another_site_leaves_out_fullertons_sessions(front_desk):
    book_course(front_desk, start_date="2027-03-01")

    board = front_desk.get("/api/v1/sites/laguna-hills/schedule", query_string={"date": "2027-03-01"}).json

    assert all(c["sessions"] == [] for c in board["chairs"])


def test_the_board_without_a_date_is_answered_422(front_desk):
    answer = front_desk.get(BOARD)

    assert answer.status_code == 422


def test_the_board_of_an_unknown_site_is_answered_404(front_desk):
    assert front_desk.get("/api/v1/sites/atlantis/schedule", query_string={"date": "2027-03-01"}).status_code == 404


def test_a_technician_may_read_the_board(as_role):
    assert as_role("technician").get(BOARD, query_string={"date": "2027-03-01"}).status_code == 200


def availability(client, **query):
    return client.get(AVAILABILITY, query_string={"protocol_id": "tms-10hz-standard", "start_date": "2027-03-01",
                                                  **query})


def test_availability_answers_hh_mm_times_with_fitting_chairs(front_desk):
    figure_8 = {c["id"] for c in front_desk.get("/api/v1/sites/fullerton/chairs").json if c["coil"] == "figure-8"}

    answer = availability(front_desk)

    assert answer.status_code == 200
    times = answer.json["times"]
    assert times
    assert all(len(t["time"]) == 5 and t["time"][2] == ":" for t in times)
    assert all(t["chair_ids"] and set(t["chair_ids"]) <= figure_8 for t in times)


def test_availability_at_an_empty_site_runs_from_opening_to_the_last_time_that_fits(front_desk):
    times = [t["time"] for t in availability(front_desk).json["times"]]

    assert times[0] == "07:00"
    assert "09:00" in times
    assert times[-1] == "18:00"


def test_a_time_taken_in_every_fitting_chair_disappears_from_availability(front_desk):
    fill_fullerton_figure8_chairs(front_desk, "09:00")

    times = [t["time"] for t in availability(front_desk).json["times"]]

    assert "09:00" not in times
    assert "07:00" in times


def test_a_time_taken_in_one_chair_of_two_stays_available(front_desk):
    book_course(front_desk, preferred_time="09:00")

    times = [t["time"] for t in availability(front_desk).json["times"]]

    assert "09:00" in times


def test_availability_at_a_site_without_tms_is_answered_422(front_desk):
    answer = front_desk.get("/api/v1/sites/beverly-hills/availability",
                            query_string={"protocol_id": "tms-10hz-standard", "start_date": "2027-03-01"})

    assert answer.status_code == 422
    assert "site_id" in answer.json["errors"]


def test_availability_from_a_past_day_is_answered_422(front_desk):
    assert availability(front_desk, start_date="2026-11-02").status_code == 422


def test_availability_from_a_closed_day_is_answered_422(front_desk):
    assert availability(front_desk, start_date="2027-03-06").status_code == 422


def test_availability_of_a_protocol_no_chair_fits_is_answered_422(front_desk):
    answer = front_desk.get("/api/v1/sites/laguna-hills/availability",
                            query_string={"protocol_id": "deep-tms-h1", "start_date": "2027-03-01"})

    assert answer.status_code == 422


def test_availability_of_an_unknown_protocol_is_answered_404(front_desk):
    assert availability(front_desk, protocol_id="magnets-deluxe").status_code == 404


def test_availability_without_a_protocol_is_answered_422(front_desk):
    answer = front_desk.get(AVAILABILITY, query_string={"start_date": "2027-03-01"})

    assert answer.status_code == 422
