"""Test data through the API, with sensible defaults a test overrides only where it matters."""
from __future__ import annotations

import itertools

_phones = itertools.count(100)


def patient_body(**overrides) -> dict:
    body = {
        "first_name": "Ana", "last_name": "Lopez", "date_of_birth": "1980-02-03",
        "phone": f"(714) 555-{next(_phones) % 10000:04d}", "language": "en", "sms_consent": True,
    }
    return {**body, **overrides}


def create_patient(client, **overrides) -> dict:
    answer = client.post("/api/v1/patients", json=patient_body(**overrides))
    assert answer.status_code == 201, answer.json
    return answer.json


def course_body(patient_id: int, **overrides) -> dict:
    body = {"patient_id": patient_id, "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": "2027-03-01", "preferred_time": "09:00"}
    return {**body, **overrides}


def book_course(client, patient_id: int | None = None, **overrides) -> dict:
    if patient_id is None:
        patient_id = create_patient(client)["id"]
    answer = client.post("/api/v1/courses", json=course_body(patient_id, **overrides))
    assert answer.status_code == 201, answer.json
    return answer.json
