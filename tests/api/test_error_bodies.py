"""Every refusal is JSON in flask-smorest's shape: {code, status, message, errors?}."""
from __future__ import annotations

import json
from http import HTTPStatus

from tests.factories import book_course, course_body, create_patient


def assert_error_body(answer, code: int) -> None:
    assert answer.status_code == code
    assert answer.is_json, answer.get_data(as_text=True)[:200]
    body = answer.json
    assert body["code"] == code
    assert body["status"] == HTTPStatus(code).phrase
    assert isinstance(body.get("message"), str) and body["message"], f"no message in {body}"
    assert isinstance(body.get("errors", {}), dict)


def test_a_401_has_the_error_shape(client):
    assert_error_body(client.get("/api/v1/sites"), 401)


def test_a_bad_sign_in_has_the_error_shape(client):
    assert_error_body(client.post("/api/v1/auth/tokens", json={"username": "x", "password": "y"}), 401)


def test_a_403_has_the_error_shape(as_role):
    assert_error_body(as_role("technician").post("/api/v1/sites", json={}), 403)


def test_a_404_for_an_unknown_id_has_the_error_shape(front_desk):
    assert_error_body(front_desk.get("/api/v1/patients/987654"), 404)


def test_a_404_for_an_unknown_path_has_the_error_shape(front_desk):
    assert_error_body(front_desk.get("/api/v1/no-such-thing"), 404)


def test_a_409_has_the_error_shape(front_desk):
    course = book_course(front_desk)

    assert_error_body(front_desk.post("/api/v1/courses", json=course_body(course["patient_id"])), 409)


def test_a_broken_business_rule_has_the_error_shape_with_errors_by_field(front_desk):
    patient = create_patient(front_desk)

    answer = front_desk.post("/api/v1/courses", json=course_body(patient["id"], site_id="beverly-hills"))

    assert_error_body(answer, 422)
    assert "site_id" in answer.json["errors"]


def test_an_invalid_field_has_the_error_shape(front_desk):
    assert_error_body(front_desk.post("/api/v1/courses", json={"unknown": 1}), 422)


def test_an_unreadable_body_has_the_error_shape(front_desk):
    assert_error_body(front_desk.post("/api/v1/courses", data="{", content_type="application/json"), 400)


def test_a_body_over_1_mib_has_the_error_shape(front_desk):
    body = json.dumps({"padding": "x" * (1024 * 1024)})

    assert_error_body(front_desk.post("/api/v1/courses", data=body, content_type="application/json"), 413)


def test_a_method_not_allowed_has_the_error_shape(front_desk):
    assert_error_body(front_desk.delete("/api/v1/sites"), 405)
