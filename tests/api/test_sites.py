"""Sites, their chairs and their closure days."""
from __future__ import annotations

import pytest

from tests.factories import book_course, error_fields, writes_nothing

SITE_FIELDS = {"id", "name", "timezone", "offers_tms", "address", "phone", "open_days", "opens", "closes",
               "holiday_calendar"}


def new_site(**overrides) -> dict:
    body = {"id": "irvine", "name": "Oak Health Center Irvine", "timezone": "America/Los_Angeles",
            "offers_tms": True, "address": "1 Park Plaza, Irvine, CA 92614", "phone": "+19495550180",
            "open_days": [1, 2, 3, 4, 5], "opens": "08:00", "closes": "18:00"}
    return {**body, **overrides}


# --- listing and reading

def test_the_site_list_answers_the_four_demo_sites(front_desk):
    answer = front_desk.get("/api/v1/sites")

    assert answer.status_code == 200
    assert sorted(s["id"] for s in answer.json) == ["beverly-hills", "fullerton", "laguna-hills", "south-pasadena"]


def test_every_listed_site_has_the_contract_fields(front_desk):
    for site in front_desk.get("/api/v1/sites").json:
        assert set(site) >= SITE_FIELDS, site["id"]


def test_a_listed_site_answers_its_hours_days_zone_and_calendar(front_desk):
    fullerton = next(s for s in front_desk.get("/api/v1/sites").json if s["id"] == "fullerton")

    assert fullerton["timezone"] == "America/Los_Angeles"
    assert fullerton["offers_tms"] is True
    assert fullerton["open_days"] == [1, 2, 3, 4, 5]
    assert (fullerton["opens"], fullerton["closes"]) == ("07:00", "19:00")
    assert fullerton["holiday_calendar"] == "us-clinic"


def test_only_fullerton_and_laguna_hills_offer_tms(front_desk):
    offering = {s["id"] for s in front_desk.get("/api/v1/sites").json if s["offers_tms"]}

    assert offering == {"fullerton", "laguna-hills"}


def test_one_site_is_answered_by_its_id(front_desk):
    answer = front_desk.get("/api/v1/sites/laguna-hills")

    assert answer.status_code == 200
    assert answer.json["name"] == "Oak Health Center Laguna Hills"


def test_an_unknown_site_is_answered_404(front_desk):
    assert front_desk.get("/api/v1/sites/atlantis").status_code == 404


# --- creating

def test_an_admin_creates_a_site_with_the_slug_chosen(admin):
    answer = admin.post("/api/v1/sites", json=new_site())

    assert answer.status_code == 201
    assert answer.json["id"] == "irvine"
    assert answer.json["opens"] == "08:00"
    assert "irvine" in {s["id"] for s in admin.get("/api/v1/sites").json}


def test_a_new_site_closes_on_the_us_clinic_holidays_unless_told(admin):
    answer = admin.post("/api/v1/sites", json=new_site())

    assert answer.json["holiday_calendar"] == "us-clinic"


def test_a_new_site_may_close_on_no_holidays(admin):
    answer = admin.post("/api/v1/sites", json=new_site(holiday_calendar="none"))

    assert answer.status_code == 201
    assert answer.json["holiday_calendar"] == "none"


def test_a_site_id_that_is_not_a_slug_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(id="Irvine Site"))

    assert answer.status_code == 422
    assert "id" in error_fields(answer)


def test_a_site_with_an_unknown_time_zone_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(timezone="America/Atlantis"))

    assert answer.status_code == 422
    assert "timezone" in error_fields(answer)


def test_a_site_that_closes_before_it_opens_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(opens="18:00", closes="08:00"))

    assert answer.status_code == 422
    assert "closes" in error_fields(answer)


def test_a_site_with_an_unknown_holiday_calendar_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(holiday_calendar="mars-holidays"))

    assert answer.status_code == 422
    assert "holiday_calendar" in error_fields(answer)


def test_a_site_with_a_taken_id_is_answered_409(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(id="fullerton"))

    assert answer.status_code == 409


def test_a_site_with_an_unknown_field_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(parking="free"))

    assert answer.status_code == 422
    assert "parking" in error_fields(answer)


# --- changing

def test_an_admin_changes_a_sites_name_and_phone(admin):
    answer = admin.patch("/api/v1/sites/south-pasadena", json={"name": "Oak South Pas", "phone": "+16265550199"})

    assert answer.status_code == 200
    again = admin.get("/api/v1/sites/south-pasadena").json
    assert (again["name"], again["phone"]) == ("Oak South Pas", "+16265550199")


def test_a_change_leaves_the_fields_not_given_alone(admin):
    admin.patch("/api/v1/sites/south-pasadena", json={"name": "Oak South Pas"})

    again = admin.get("/api/v1/sites/south-pasadena").json
    assert again["opens"] == "07:00" and again["timezone"] == "America/Los_Angeles"


def test_changing_closing_time_to_before_opening_is_answered_422_and_changes_nothing(admin):
    answer = admin.patch("/api/v1/sites/fullerton", json={"closes": "06:30"})

    assert answer.status_code == 422
    assert "closes" in error_fields(answer)
    assert admin.get("/api/v1/sites/fullerton").json["closes"] == "19:00"


def test_changing_to_an_unknown_time_zone_is_answered_422_and_changes_nothing(admin):
    answer = admin.patch("/api/v1/sites/fullerton", json={"timezone": "Nowhere/Never"})

    assert answer.status_code == 422
    assert admin.get("/api/v1/sites/fullerton").json["timezone"] == "America/Los_Angeles"


def test_changing_an_unknown_site_is_answered_404(admin):
    assert admin.patch("/api/v1/sites/atlantis", json={"name": "Atlantis"}).status_code == 404


def test_only_an_admin_may_change_a_site(front_desk):
    answer = front_desk.patch("/api/v1/sites/fullerton", json={"name": "Mine now"})

    assert answer.status_code == 403
    assert front_desk.get("/api/v1/sites/fullerton").json["name"] == "Oak Health Center Fullerton"


# --- phone numbers, kept in E.164 like patients'

def test_a_new_sites_phone_as_typed_is_stored_and_answered_in_e164(admin):
    answer = admin.post("/api/v1/sites", json=new_site(phone="(949) 555-0180"))

    assert answer.status_code == 201, answer.json
    assert answer.json["phone"] == "+19495550180"
    assert admin.get("/api/v1/sites/irvine").json["phone"] == "+19495550180"


def test_a_changed_sites_phone_is_stored_in_e164(admin):
    answer = admin.patch("/api/v1/sites/south-pasadena", json={"phone": "626.555.0199"})

    assert answer.status_code == 200, answer.json
    assert admin.get("/api/v1/sites/south-pasadena").json["phone"] == "+16265550199"


def test_a_site_phone_with_letters_is_answered_422_with_the_reason_and_writes_nothing(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites", json=new_site(phone="1-800-OAK-CARE"))

    assert answer.status_code == 422
    assert answer.json["errors"]["phone"] == "a phone number has digits only; letters are not accepted"


def test_changing_a_sites_phone_to_one_with_an_extension_is_answered_422_and_keeps_the_old_one(admin):
    answer = admin.patch("/api/v1/sites/fullerton", json={"phone": "714-555-0160 ext 2"})

    assert answer.status_code == 422
    assert answer.json["errors"]["phone"] == "extensions are not accepted"
    assert admin.get("/api/v1/sites/fullerton").json["phone"] == "+17145550160"


def test_a_site_may_have_no_phone(admin):
    answer = admin.post("/api/v1/sites", json=new_site(phone=""))

    assert answer.status_code == 201, answer.json
    assert answer.json["phone"] == ""


# --- chairs

def test_fullerton_has_two_figure_8_chairs_and_one_h1(front_desk):
    answer = front_desk.get("/api/v1/sites/fullerton/chairs")

    assert answer.status_code == 200
    assert sorted(c["coil"] for c in answer.json) == ["figure-8", "figure-8", "h1"]
    assert all(set(c) >= {"id", "name", "coil", "active"} and c["active"] for c in answer.json)


def test_the_chairs_of_an_unknown_site_are_answered_404(front_desk):
    assert front_desk.get("/api/v1/sites/atlantis/chairs").status_code == 404


@pytest.mark.parametrize("coil", ["figure-8", "h1"])
def test_an_admin_adds_a_chair_with_either_coil_active_by_default(admin, coil):
    answer = admin.post("/api/v1/sites/laguna-hills/chairs", json={"name": "Laguna Hills chair 3", "coil": coil})

    assert answer.status_code == 201
    assert answer.json["coil"] == coil
    assert answer.json["active"] is True
    assert isinstance(answer.json["id"], int)
    assert answer.json["id"] in {c["id"] for c in admin.get("/api/v1/sites/laguna-hills/chairs").json}


def test_a_chair_with_another_coil_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/laguna-hills/chairs", json={"name": "Laguna Hills chair 3", "coil": "h7"})

    assert answer.status_code == 422
    assert "coil" in error_fields(answer)


def test_a_chair_with_the_id_given_by_the_caller_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/laguna-hills/chairs", json={"id": 99, "name": "Chair 99", "coil": "h1"})

    assert answer.status_code == 422


def test_a_chair_with_a_name_the_site_has_is_answered_409(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/fullerton/chairs", json={"name": "Fullerton chair 1", "coil": "h1"})

    assert answer.status_code == 409


def test_a_chair_for_an_unknown_site_is_answered_404(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/atlantis/chairs", json={"name": "Chair", "coil": "h1"})

    assert answer.status_code == 404


def chair_id(client, site_id: str, name: str) -> int:
    return next(c["id"] for c in client.get(f"/api/v1/sites/{site_id}/chairs").json if c["name"] == name)


def test_an_admin_renames_a_chair(admin):
    chair = chair_id(admin, "fullerton", "Fullerton chair 2")

    answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chair}", json={"name": "Fullerton window chair"})

    assert answer.status_code == 200
    assert answer.json["name"] == "Fullerton window chair"


def test_an_admin_takes_a_chair_out_of_service(admin):
    chair = chair_id(admin, "fullerton", "Fullerton chair 2")

    answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chair}", json={"active": False})

    assert answer.status_code == 200
    assert answer.json["active"] is False


def test_a_chair_is_not_found_under_another_site(admin):
    chair = chair_id(admin, "fullerton", "Fullerton chair 2")

    assert admin.patch(f"/api/v1/sites/laguna-hills/chairs/{chair}", json={"active": False}).status_code == 404


def test_renaming_a_chair_to_a_name_the_site_has_is_answered_409(admin):
    chair = chair_id(admin, "fullerton", "Fullerton chair 2")

    answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chair}", json={"name": "Fullerton chair 1"})

    assert answer.status_code == 409
    assert chair_id(admin, "fullerton", "Fullerton chair 2") == chair


def test_a_chairs_coil_cannot_be_changed(admin):
    chair = chair_id(admin, "fullerton", "Fullerton chair 2")

    answer = admin.patch(f"/api/v1/sites/fullerton/chairs/{chair}", json={"coil": "h1"})

    assert answer.status_code == 422


# --- closures

def test_a_new_site_has_no_closures(admin):
    answer = admin.get("/api/v1/sites/fullerton/closures")

    assert answer.status_code == 200
    assert answer.json == []


def test_an_admin_closes_a_site_for_a_day_and_it_is_listed(admin):
    answer = admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-02-10", "reason": "Power work"})

    assert answer.status_code == 201
    assert (answer.json["date"], answer.json["reason"]) == ("2027-02-10", "Power work")
    assert answer.json["affected_sessions"] == []
    listed = admin.get("/api/v1/sites/fullerton/closures").json
    assert [(c["date"], c["reason"]) for c in listed] == [("2027-02-10", "Power work")]


def test_a_closure_answers_the_sessions_booked_that_day(admin, front_desk):
    course = book_course(front_desk, start_date="2027-03-01")
    on_the_day = [s for s in course["sessions"] if s["starts_at"].startswith("2027-03-03")]

    answer = admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-03-03", "reason": "Flood"})

    assert answer.status_code == 201
    assert [s["id"] for s in answer.json["affected_sessions"]] == [s["id"] for s in on_the_day]
    assert answer.json["affected_sessions"][0]["course_id"] == course["id"]


def test_a_closure_at_another_site_affects_none_of_fullertons_sessions(admin, front_desk):
    book_course(front_desk, start_date="2027-03-01")

    answer = admin.post("/api/v1/sites/laguna-hills/closures", json={"date": "2027-03-03", "reason": "Flood"})

    assert answer.json["affected_sessions"] == []


def test_a_closure_in_the_past_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/fullerton/closures", json={"date": "2026-11-30", "reason": "Late"})

    assert answer.status_code == 422
    assert "date" in error_fields(answer)


def test_a_second_closure_on_the_same_day_is_answered_409(admin, db):
    admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-02-10", "reason": "Power work"})

    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-02-10", "reason": "Again"})

    assert answer.status_code == 409


def test_a_closure_for_an_unknown_site_is_answered_404(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/sites/atlantis/closures", json={"date": "2027-02-10", "reason": "Flood"})

    assert answer.status_code == 404


def test_only_an_admin_may_close_a_site(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/sites/fullerton/closures", json={"date": "2027-02-10", "reason": "Nap"})

    assert answer.status_code == 403


def test_closures_since_a_day_leave_out_earlier_ones(admin):
    admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-02-10", "reason": "First"})
    admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-04-10", "reason": "Second"})

    answer = admin.get("/api/v1/sites/fullerton/closures?since=2027-03-01")

    assert [c["date"] for c in answer.json] == ["2027-04-10"]
