"""Patients: intake, reading, search and changes."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories import create_patient, error_fields, patient_body, writes_nothing

PATIENT_FIELDS = {"id", "first_name", "last_name", "date_of_birth", "phone", "language", "sms_consent",
                  "sms_opted_out"}
LETTERS = "a phone number has digits only; letters are not accepted"
EXTENSION = "extensions are not accepted"


def test_registering_a_patient_answers_201_with_the_contract_fields(front_desk):
    answer = front_desk.post("/api/v1/patients", json=patient_body(first_name="Rosa", last_name="Diaz",
                                                                   date_of_birth="1980-02-03"))

    assert answer.status_code == 201
    assert set(answer.json) >= PATIENT_FIELDS
    assert (answer.json["first_name"], answer.json["last_name"]) == ("Rosa", "Diaz")
    assert answer.json["date_of_birth"] == "1980-02-03"


def test_a_us_phone_as_typed_is_stored_in_e164(front_desk):
    answer = front_desk.post("/api/v1/patients", json=patient_body(phone="(714) 555-0123"))

    assert answer.json["phone"] == "+17145550123"
    assert front_desk.get(f"/api/v1/patients/{answer.json['id']}").json["phone"] == "+17145550123"


def test_an_invalid_phone_is_answered_422_naming_phone(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(phone="555-01"))

    assert answer.status_code == 422
    assert "phone" in error_fields(answer)


def test_a_patient_without_a_phone_is_answered_422(front_desk, db):
    body = patient_body()
    del body["phone"]

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=body)

    assert answer.status_code == 422
    assert "phone" in error_fields(answer)


def test_a_date_of_birth_in_the_future_is_answered_422(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(date_of_birth="2030-01-01"))

    assert answer.status_code == 422
    assert "date_of_birth" in error_fields(answer)


def test_a_language_other_than_english_or_spanish_is_answered_422(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(language="fr"))

    assert answer.status_code == 422
    assert "language" in error_fields(answer)


def test_consent_given_at_intake_is_recorded_with_its_time(front_desk, clock):
    answer = front_desk.post("/api/v1/patients", json=patient_body(sms_consent=True))

    assert answer.json["sms_consent"] is True
    assert datetime.fromisoformat(answer.json["sms_consent_at"]) == clock.now


def test_no_consent_at_intake_leaves_the_consent_time_empty(front_desk):
    answer = front_desk.post("/api/v1/patients", json=patient_body(sms_consent=False))

    assert answer.json["sms_consent"] is False
    assert answer.json.get("sms_consent_at") is None


def test_a_patient_is_answered_by_id(front_desk):
    patient = create_patient(front_desk, first_name="Rosa")

    answer = front_desk.get(f"/api/v1/patients/{patient['id']}")

    assert answer.status_code == 200
    assert answer.json == patient


def test_an_unknown_patient_is_answered_404(front_desk):
    answer = front_desk.get("/api/v1/patients/987654")

    assert answer.status_code == 404


def test_search_finds_patients_by_last_name_prefix_in_any_case(front_desk):
    wanted = create_patient(front_desk, last_name="Hernandez")
    create_patient(front_desk, last_name="Nguyen")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "hern"})

    assert answer.status_code == 200
    assert [p["id"] for p in answer.json] == [wanted["id"]]


def test_search_with_two_words_matches_first_and_last_name_prefixes(front_desk):
    wanted = create_patient(front_desk, first_name="Ana", last_name="Lopez")
    create_patient(front_desk, first_name="Ana", last_name="Nguyen")
    create_patient(front_desk, first_name="Luis", last_name="Lopez")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "ana lop"})

    assert [p["id"] for p in answer.json] == [wanted["id"]]


def test_search_treats_a_percent_sign_as_a_letter_not_a_wildcard(front_desk):
    create_patient(front_desk, last_name="Lopez")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "%"})

    assert answer.status_code == 200
    assert answer.json == []


def test_search_finds_a_patient_by_phone_in_e164(front_desk):
    wanted = create_patient(front_desk, phone="(949) 555-0111")
    create_patient(front_desk, first_name="Bea", phone="(949) 555-0112")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "+19495550111"})

    assert [p["id"] for p in answer.json] == [wanted["id"]]


def test_search_finds_a_patient_by_phone_typed_with_dashes(front_desk):
    wanted = create_patient(front_desk, phone="(949) 555-0111")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "949-555-0111"})

    assert [p["id"] for p in answer.json] == [wanted["id"]]


def test_search_finds_a_patient_by_phone_typed_as_at_intake(front_desk):
    wanted = create_patient(front_desk, phone="(949) 555-0111")

    answer = front_desk.get("/api/v1/patients", query_string={"q": "(949) 555-0111"})

    assert [p["id"] for p in answer.json] == [wanted["id"]]


def test_search_without_q_answers_every_patient_as_a_bare_list(front_desk):
    create_patient(front_desk, last_name="Adams")
    create_patient(front_desk, last_name="Baker")

    answer = front_desk.get("/api/v1/patients")

    assert isinstance(answer.json, list)
    assert [p["last_name"] for p in answer.json] == ["Adams", "Baker"]


def test_search_pages_with_limit_and_offset(front_desk):
    for name in ("Adams", "Baker", "Clark"):
        create_patient(front_desk, last_name=name)

    answer = front_desk.get("/api/v1/patients", query_string={"limit": 1, "offset": 1})

    assert [p["last_name"] for p in answer.json] == ["Baker"]


def test_changing_a_patient_changes_the_fields_given(front_desk):
    patient = create_patient(front_desk, first_name="Rosa", language="en")

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"first_name": "Rosalia", "language": "es"})

    assert answer.status_code == 200
    again = front_desk.get(f"/api/v1/patients/{patient['id']}").json
    assert (again["first_name"], again["language"], again["last_name"]) == ("Rosalia", "es", patient["last_name"])


def test_a_changed_phone_is_stored_in_e164(front_desk):
    patient = create_patient(front_desk)

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"phone": "949.555.0199"})

    assert answer.json["phone"] == "+19495550199"


def test_changing_to_an_invalid_phone_is_answered_422_and_keeps_the_old_one(front_desk):
    patient = create_patient(front_desk)

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"phone": "12"})

    assert answer.status_code == 422
    assert "phone" in error_fields(answer)
    assert front_desk.get(f"/api/v1/patients/{patient['id']}").json["phone"] == patient["phone"]


def test_withdrawing_consent_clears_its_time(front_desk):
    patient = create_patient(front_desk, sms_consent=True)

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"sms_consent": False})

    assert answer.json["sms_consent"] is False
    assert answer.json["sms_consent_at"] is None


def test_changing_an_unknown_patient_is_answered_404(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.patch("/api/v1/patients/987654", json={"first_name": "X"})

    assert answer.status_code == 404


def test_changing_a_patient_with_an_unknown_field_is_answered_422(front_desk):
    patient = create_patient(front_desk)

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"diagnosis": "MDD"})

    assert answer.status_code == 422
    assert "diagnosis" in error_fields(answer)


def test_a_technician_may_read_but_not_change_a_patient(front_desk, as_role):
    patient = create_patient(front_desk, first_name="Rosa")
    technician = as_role("technician")

    assert technician.get(f"/api/v1/patients/{patient['id']}").status_code == 200
    assert technician.patch(f"/api/v1/patients/{patient['id']}", json={"first_name": "X"}).status_code == 403
    assert front_desk.get(f"/api/v1/patients/{patient['id']}").json["first_name"] == "Rosa"


# --- one person, one record

def test_a_patient_with_the_name_and_birth_date_of_another_in_other_case_and_accents_is_answered_409_naming_them(
        front_desk):
    first = create_patient(front_desk, first_name="José", last_name="Núñez", date_of_birth="1975-05-06")

    answer = front_desk.post("/api/v1/patients", json=patient_body(first_name="jose", last_name="NUNEZ",
                                                                    date_of_birth="1975-05-06"))

    assert answer.status_code == 409
    assert answer.json["existing_patient_id"] == first["id"]
    assert f"patient {first['id']}" in answer.json["message"]
    assert "another_person" in error_fields(answer)


def test_a_refused_second_patient_writes_nothing(front_desk, db):
    create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06")

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(first_name="Rosa", last_name="Diaz",
                                                                        date_of_birth="1975-05-06"))

    assert answer.status_code == 409


def test_a_patient_with_the_same_name_and_birth_date_confirmed_as_another_person_is_registered(front_desk):
    first = create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06")

    answer = front_desk.post("/api/v1/patients", json=patient_body(first_name="Rosa", last_name="Diaz",
                                                                    date_of_birth="1975-05-06", another_person=True))

    assert answer.status_code == 201, answer.json
    assert answer.json["id"] != first["id"]
    assert "another_person" not in answer.json


def test_a_patient_with_the_same_name_and_another_birth_date_is_not_a_duplicate(front_desk):
    create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06")

    answer = front_desk.post("/api/v1/patients", json=patient_body(first_name="Rosa", last_name="Diaz",
                                                                    date_of_birth="1975-05-07"))

    assert answer.status_code == 201, answer.json


def test_a_change_that_makes_a_patient_the_double_of_another_is_answered_409_and_changes_nothing(front_desk):
    first = create_patient(front_desk, first_name="Rosa", last_name="Díaz", date_of_birth="1975-05-06")
    other = create_patient(front_desk, first_name="Rosa", last_name="Diego", date_of_birth="1975-05-06")

    answer = front_desk.patch(f"/api/v1/patients/{other['id']}", json={"last_name": "DIAZ"})

    assert answer.status_code == 409
    assert answer.json["existing_patient_id"] == first["id"]
    assert front_desk.get(f"/api/v1/patients/{other['id']}").json["last_name"] == "Diego"


def test_a_change_into_the_double_of_another_confirmed_as_another_person_is_made(front_desk):
    create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06")
    other = create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-07")

    answer = front_desk.patch(f"/api/v1/patients/{other['id']}", json={"date_of_birth": "1975-05-06",
                                                                       "another_person": True})

    assert answer.status_code == 200, answer.json
    assert answer.json["date_of_birth"] == "1975-05-06"


def test_changing_the_phone_of_a_confirmed_second_person_needs_no_new_confirmation(front_desk):
    create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06")
    second = create_patient(front_desk, first_name="Rosa", last_name="Diaz", date_of_birth="1975-05-06",
                            another_person=True)

    answer = front_desk.patch(f"/api/v1/patients/{second['id']}", json={"phone": "949.555.0198"})

    assert answer.status_code == 200, answer.json
    assert answer.json["phone"] == "+19495550198"


# --- phone numbers: digits, as people type them

@pytest.mark.parametrize("phone", ["1-800-FLOWERS", "(714) 555-O123"])
def test_a_phone_with_letters_is_answered_422_saying_letters_are_not_accepted(front_desk, db, phone):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(phone=phone))

    assert answer.status_code == 422
    assert answer.json["errors"]["phone"] == LETTERS


@pytest.mark.parametrize("phone", ["714-555-0123 ext 4", "(714) 555-0123 x12"])
def test_a_phone_with_an_extension_is_answered_422_saying_extensions_are_not_accepted(front_desk, db, phone):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(phone=phone))

    assert answer.status_code == 422
    assert answer.json["errors"]["phone"] == EXTENSION


def test_changing_to_a_phone_with_an_extension_is_answered_422_and_keeps_the_old_one(front_desk):
    patient = create_patient(front_desk)

    answer = front_desk.patch(f"/api/v1/patients/{patient['id']}", json={"phone": "714-555-0123 ext 4"})

    assert answer.status_code == 422
    assert answer.json["errors"]["phone"] == EXTENSION
    assert front_desk.get(f"/api/v1/patients/{patient['id']}").json["phone"] == patient["phone"]


@pytest.mark.parametrize(("typed", "e164"), [
    ("(714) 555-0123", "+17145550123"),
    ("714.555.0123", "+17145550123"),
    ("+1 714 555 0123", "+17145550123"),
    ("+52 55 1234 5678", "+525512345678"),
])
def test_a_phone_as_people_type_it_is_accepted_in_e164(front_desk, typed, e164):
    answer = front_desk.post("/api/v1/patients", json=patient_body(phone=typed))

    assert answer.status_code == 201, answer.json
    assert answer.json["phone"] == e164


# --- the date of birth is the clinic's local date

def test_a_birth_date_of_today_in_los_angeles_is_accepted_when_utc_is_already_tomorrow(front_desk, clock):
    clock.now = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # 17:30 on 2026-12-01 in Los Angeles

    answer = front_desk.post("/api/v1/patients", json=patient_body(date_of_birth="2026-12-01"))

    assert answer.status_code == 201, answer.json


def test_a_birth_date_of_tomorrow_in_los_angeles_is_refused_although_it_is_today_in_utc(front_desk, clock, db):
    clock.now = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # 17:30 on 2026-12-01 in Los Angeles

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(date_of_birth="2026-12-02"))

    assert answer.status_code == 422
    assert "date_of_birth" in error_fields(answer)


def test_the_openapi_description_declares_a_duplicates_409_with_the_existing_patients_id(client):
    spec = client.get("/openapi.json").json

    conflict = spec["paths"]["/api/v1/patients"]["post"]["responses"]["409"]
    schema = conflict["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    extension = spec["components"]["schemas"][schema]["allOf"]  # the one Error schema, and what this one adds
    assert extension[0] == {"$ref": "#/components/schemas/Error"}
    assert "existing_patient_id" in extension[1]["properties"]
    assert "another_person" in spec["components"]["schemas"]["PatientCreate"]["properties"]
