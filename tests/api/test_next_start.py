"""GET /api/v1/availability: the next start dates at which a whole course fits, per TMS site; and the
next date a booking refused for the whole day is told."""
from __future__ import annotations

from tests.factories import book_course, chair_ids, course_body, create_patient, fill_fullerton_figure8_chairs

SEARCH = "/api/v1/availability"
COURSES = "/api/v1/courses"


def search(client, **query):
    return client.get(SEARCH, query_string={"protocol_id": "tms-10hz-standard", "from_date": "2027-03-01",
                                            "time": "09:00", **query})


def starts_at(answer, site_id: str) -> list[tuple[str, str]]:
    assert answer.status_code == 200, answer.json
    return [(s["date"], s["time"]) for s in answer.json["starts"] if s["site_id"] == site_id]


def block_fullerton_figure8_chairs(admin, desk, start_date: str, days: int) -> None:
    """Both Fullerton figure-8 chairs taken from opening to closing on `days` open days from `start_date`:
    two courses of a made-up protocol of two 6-hour sessions a day (07:00-13:00, 13:00-19:00)."""
    protocol_id = f"whole-day-{days}"
    answer = admin.post("/api/v1/protocols", json={
        "id": protocol_id, "name": "Chair held all day", "coil": "figure-8",
        "phases": [{"sessions": 2 * days, "days_per_week": 5}], "mapping_minutes": 360, "session_minutes": 360,
        "sessions_per_day": 2, "min_gap_minutes": 0})
    assert answer.status_code == 201, answer.json
    for i in range(2):
        patient = create_patient(desk, first_name=f"Blocker{i}", last_name="Patient")
        book_course(desk, patient["id"], protocol_id=protocol_id, start_date=start_date, preferred_time="07:00")


# --- what the search answers ------------------------------------------------------------------------------

def test_without_a_site_both_tms_sites_are_answered_with_their_first_three_open_days(front_desk):
    answer = search(front_desk)

    expected = [("2027-03-01", "09:00"), ("2027-03-02", "09:00"), ("2027-03-03", "09:00")]
    assert starts_at(answer, "fullerton") == expected
    assert starts_at(answer, "laguna-hills") == expected
    assert [s["site_id"] for s in answer.json["starts"]] == ["fullerton"] * 3 + ["laguna-hills"] * 3


def test_each_start_names_fitting_chairs_of_its_site(front_desk):
    answer = search(front_desk)

    for start in answer.json["starts"]:
        assert start["chair_ids"] and set(start["chair_ids"]) <= set(chair_ids(front_desk, start["site_id"]))


def test_the_time_asked_is_answered_when_it_is_free(front_desk):
    book_course(front_desk, preferred_time="10:30")  # one Fullerton chair of two taken at 10:30

    answer = search(front_desk, time="10:30", site_id="fullerton")

    assert {time for _, time in starts_at(answer, "fullerton")} == {"10:30"}


def test_with_fullertons_chairs_full_at_the_time_asked_for_weeks_its_starts_move_to_the_nearest_time(front_desk):
    fill_fullerton_figure8_chairs(front_desk, "09:00", start_date="2027-03-01")

    answer = search(front_desk)

    # Both 09:00 courses run for weeks. Starting with them, a 60-minute mapping fits at 08:00 or 10:00, an hour
    # away (the earlier wins); a day later, it fits at 09:45, after their 45-minute session.
    assert starts_at(answer, "fullerton") == [("2027-03-01", "08:00"), ("2027-03-02", "09:45"),
                                              ("2027-03-03", "09:45")]
    assert starts_at(answer, "laguna-hills")[0] == ("2027-03-01", "09:00")


def test_with_fullertons_chairs_taken_all_day_its_next_start_is_a_later_date(admin, front_desk):
    block_fullerton_figure8_chairs(admin, front_desk, "2027-03-01", days=1)

    answer = search(front_desk, site_id="fullerton", limit=1)

    assert starts_at(answer, "fullerton") == [("2027-03-02", "09:00")]


def test_an_answered_start_is_booked_as_answered(front_desk):
    fill_fullerton_figure8_chairs(front_desk, "09:00")
    start = search(front_desk, site_id="fullerton", limit=1).json["starts"][0]

    course = book_course(front_desk, start_date=start["date"], preferred_time=start["time"])

    assert course["sessions"][0]["starts_at"] == f"{start['date']}T{start['time']}:00-08:00"
    assert {s["chair_id"] for s in course["sessions"]} == set(start["chair_ids"])


def test_holidays_weekends_and_closures_are_never_proposed_as_start_dates(admin, front_desk):
    # Friday 28 May 2027, the weekend, Memorial Day (Monday 31 May), then a closure on Tuesday 1 June.
    assert admin.post("/api/v1/sites/fullerton/closures",
                      json={"date": "2027-06-01", "reason": "Staff training"}).status_code == 201

    answer = search(front_desk, site_id="fullerton", from_date="2027-05-28", limit=3)

    assert [d for d, _ in starts_at(answer, "fullerton")] == ["2027-05-28", "2027-06-02", "2027-06-03"]


def test_from_today_the_times_already_past_are_skipped(front_desk):
    # The clock is 2026-12-01 17:00 UTC: 09:00 in Fullerton.
    answer = search(front_desk, site_id="fullerton", from_date="2026-12-01", time="08:00", limit=1)

    assert starts_at(answer, "fullerton") == [("2026-12-01", "09:15")]


def test_limit_sets_how_many_start_dates_each_site_answers(front_desk):
    answer = search(front_desk, limit=5)

    assert len(starts_at(answer, "fullerton")) == len(starts_at(answer, "laguna-hills")) == 5


def test_the_search_stops_at_the_end_of_its_weeks_with_an_empty_list_for_a_site_where_nothing_fits(admin, front_desk):
    block_fullerton_figure8_chairs(admin, front_desk, "2027-03-01", days=5)  # Monday 1 to Friday 5 March

    within_a_week = search(front_desk, weeks=1)
    within_two = search(front_desk, weeks=2, site_id="fullerton", limit=1)

    assert starts_at(within_a_week, "fullerton") == []
    assert len(starts_at(within_a_week, "laguna-hills")) == 3
    assert starts_at(within_two, "fullerton") == [("2027-03-08", "09:00")]


def test_a_site_whose_fitting_chairs_are_out_of_service_answers_no_start_dates(admin, front_desk):
    for chair_id in chair_ids(admin):
        answer = admin.post(f"/api/v1/sites/fullerton/chairs/{chair_id}/out-of-service",
                            json={"from_date": "2027-01-04", "reason": "Coil recall"})
        assert answer.status_code == 200, answer.json

    answer = search(front_desk, weeks=12)

    assert starts_at(answer, "fullerton") == []
    assert starts_at(answer, "laguna-hills")


def test_without_a_site_only_the_sites_with_a_chair_for_the_protocol_are_answered(front_desk):
    answer = search(front_desk, protocol_id="deep-tms-h1")

    assert {s["site_id"] for s in answer.json["starts"]} == {"fullerton"}


# --- refusals ---------------------------------------------------------------------------------------------------

def test_a_site_without_tms_is_answered_422(front_desk):
    answer = search(front_desk, site_id="beverly-hills")

    assert answer.status_code == 422
    assert "site_id" in answer.json["errors"]


def test_a_site_without_a_chair_for_the_protocol_is_answered_422(front_desk):
    assert search(front_desk, site_id="laguna-hills", protocol_id="deep-tms-h1").status_code == 422


def test_an_unknown_site_is_answered_404(front_desk):
    assert search(front_desk, site_id="atlantis").status_code == 404


def test_an_unknown_protocol_is_answered_404_as_by_the_sites_availability(front_desk):
    answer = search(front_desk, protocol_id="magnets-deluxe")

    assert answer.status_code == 404
    assert "protocol_id" in answer.json["errors"]


def test_a_from_date_in_the_past_is_answered_422(front_desk):
    answer = search(front_desk, from_date="2026-11-30")

    assert answer.status_code == 422
    assert "from_date" in answer.json["errors"]


def test_a_time_not_in_hh_mm_is_answered_422(front_desk):
    assert search(front_desk, time="9am").status_code == 422


def test_a_search_without_a_time_is_answered_422(front_desk):
    answer = front_desk.get(SEARCH, query_string={"protocol_id": "tms-10hz-standard", "from_date": "2027-03-01"})

    assert answer.status_code == 422


def test_more_than_12_weeks_or_10_dates_is_answered_422(front_desk):
    assert search(front_desk, weeks=13).status_code == 422
    assert search(front_desk, limit=11).status_code == 422


def test_technicians_and_clinicians_may_not_search(as_role):
    assert search(as_role("technician")).status_code == 403
    assert search(as_role("clinician")).status_code == 403


def test_the_front_desk_and_an_admin_may_search(as_role):
    assert search(as_role("front_desk")).status_code == 200
    assert search(as_role("admin")).status_code == 200


# --- a refused booking names the next date -----------------------------------------------------------------------

def test_a_booking_409_with_no_time_that_day_names_the_next_date_that_fits(admin, front_desk):
    block_fullerton_figure8_chairs(admin, front_desk, "2027-03-01", days=1)
    patient = create_patient(front_desk, first_name="Rosa")

    answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-01", preferred_time="09:00"))

    assert answer.status_code == 409
    assert answer.json["alternatives"] == []
    assert answer.json["next_start"]["date"] == "2027-03-02"
    assert answer.json["next_start"]["time"] == "09:00"
    assert set(answer.json["next_start"]["chair_ids"]) <= set(chair_ids(front_desk))
    assert ("no start time on 2027-03-01 fits the whole course; the next date that fits is 2027-03-02 at 09:00"
            in answer.json["message"])


def test_the_next_date_a_409_names_is_booked(admin, front_desk):
    block_fullerton_figure8_chairs(admin, front_desk, "2027-03-01", days=5)
    patient = create_patient(front_desk, first_name="Rosa")
    refused = front_desk.post(COURSES, json=course_body(patient["id"], start_date="2027-03-01"))
    next_start = refused.json["next_start"]

    answer = front_desk.post(COURSES, json=course_body(patient["id"], start_date=next_start["date"],
                                                       preferred_time=next_start["time"]))

    assert next_start["date"] == "2027-03-08"
    assert answer.status_code == 201, answer.json


def test_a_booking_409_with_alternatives_names_no_next_start(front_desk):
    fill_fullerton_figure8_chairs(front_desk, "09:00")
    patient = create_patient(front_desk, first_name="Rosa")

    answer = front_desk.post(COURSES, json=course_body(patient["id"], preferred_time="09:00"))

    assert answer.status_code == 409
    assert answer.json["alternatives"]
    assert answer.json["next_start"] is None


# --- the description ----------------------------------------------------------------------------------------------

def test_the_openapi_description_gives_the_search_its_parameters_and_the_409_its_next_start(client):
    spec = client.get("/openapi.json").json

    get = spec["paths"]["/api/v1/availability"]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"protocol_id", "from_date", "time", "site_id", "limit", "weeks"}
    assert {"200", "404", "422"} <= set(get["responses"])
    error, extension = spec["components"]["schemas"]["BookingConflictError"]["allOf"]  # Error, and what it adds
    assert error == {"$ref": "#/components/schemas/Error"}
    assert "next_start" in extension["properties"]
