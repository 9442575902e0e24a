"""Signing in and out, bearer tokens, the sign-in lockout, and adding users."""
from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import extract_parameters

from tests.conftest import DEMO_PASSWORDS
from tests.factories import error_fields, patient_body, writes_nothing
from tms_scheduler.services import auth as auth_service

TOKENS = "/api/v1/auth/tokens"


def sign_in(client, username, password):
    return client.post(TOKENS, json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_signing_in_answers_201_with_a_token_its_expiry_and_the_role(client, clock):
    username, password = DEMO_PASSWORDS["technician"]

    answer = sign_in(client, username, password)

    assert answer.status_code == 201
    assert {"token", "expires_at", "role"} <= set(answer.json)
    assert isinstance(answer.json["token"], str) and len(answer.json["token"]) >= 20
    assert answer.json["role"] == "technician"
    expires_at = datetime.fromisoformat(answer.json["expires_at"])
    assert expires_at.tzinfo is not None
    assert expires_at > clock.now


def test_the_token_from_signing_in_opens_the_api(client):
    token = sign_in(client, *DEMO_PASSWORDS["clinician"]).json["token"]

    assert client.get("/api/v1/sites", headers=bearer(token)).status_code == 200


def test_a_wrong_password_is_answered_401(client):
    username, _ = DEMO_PASSWORDS["admin"]

    answer = sign_in(client, username, "not-the-password")

    assert answer.status_code == 401
    assert "token" not in answer.json


def test_an_unknown_username_is_answered_401(client):
    answer = sign_in(client, "nobody-here", "whatever-password")

    assert answer.status_code == 401


def test_signing_in_without_a_password_is_answered_422(client):
    answer = client.post(TOKENS, json={"username": "admin"})

    assert answer.status_code == 422
    assert "password" in error_fields(answer)


def test_a_call_without_a_token_is_answered_401(client):
    answer = client.get("/api/v1/sites")

    assert answer.status_code == 401


def test_a_call_with_a_garbage_token_is_answered_401(client):
    answer = client.get("/api/v1/sites", headers=bearer("garbage-token-that-was-never-issued"))

    assert answer.status_code == 401


def test_a_call_with_a_non_bearer_authorization_is_answered_401(client):
    token = sign_in(client, *DEMO_PASSWORDS["admin"]).json["token"]

    answer = client.get("/api/v1/sites", headers={"Authorization": f"Basic {token}"})

    assert answer.status_code == 401


def test_a_token_still_works_just_before_it_expires(client, clock):
    issued = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json
    clock.now = datetime.fromisoformat(issued["expires_at"]) - timedelta(seconds=1)

    assert client.get("/api/v1/sites", headers=bearer(issued["token"])).status_code == 200


def test_an_expired_token_is_answered_401(client, clock):
    issued = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json
    clock.now = datetime.fromisoformat(issued["expires_at"]) + timedelta(seconds=1)

    answer = client.get("/api/v1/sites", headers=bearer(issued["token"]))

    assert answer.status_code == 401


def test_signing_out_answers_204(client):
    token = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json["token"]

    answer = client.delete(f"{TOKENS}/current", headers=bearer(token))

    assert answer.status_code == 204


def test_a_signed_out_token_is_answered_401(client):
    token = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json["token"]
    client.delete(f"{TOKENS}/current", headers=bearer(token))

    answer = client.get("/api/v1/sites", headers=bearer(token))

    assert answer.status_code == 401


def test_signing_out_leaves_the_users_other_tokens_working(client):
    first = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json["token"]
    second = sign_in(client, *DEMO_PASSWORDS["front_desk"]).json["token"]

    client.delete(f"{TOKENS}/current", headers=bearer(first))

    assert client.get("/api/v1/sites", headers=bearer(second)).status_code == 200


def test_signing_out_without_a_token_is_answered_401(client):
    answer = client.delete(f"{TOKENS}/current")

    assert answer.status_code == 401


def test_a_role_not_allowed_is_answered_403_technician_registering_a_patient(as_role, db):
    technician = as_role("technician")

    with writes_nothing(db):
        answer = technician.post("/api/v1/patients", json=patient_body())

    assert answer.status_code == 403


def test_a_role_not_allowed_is_answered_403_front_desk_adding_a_site(front_desk, db):
    body = {"id": "irvine", "name": "Irvine", "timezone": "America/Los_Angeles", "opens": "07:00", "closes": "19:00"}

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/sites", json=body)

    assert answer.status_code == 403


def test_every_role_may_read_sites_chairs_and_protocols(as_role):
    for role in ("front_desk", "technician", "clinician", "admin"):
        signed_in = as_role(role)
        for path in ("/api/v1/sites", "/api/v1/sites/fullerton", "/api/v1/sites/fullerton/chairs",
                     "/api/v1/protocols"):
            assert signed_in.get(path).status_code == 200, (role, path)


# --- the sign-in lockout

def test_five_failed_sign_ins_lock_the_username_with_429_and_retry_after(client):
    username, password = DEMO_PASSWORDS["clinician"]
    for _ in range(5):
        assert sign_in(client, username, "wrong-password").status_code == 401

    answer = sign_in(client, username, password)

    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 15 * 60 + 1


def test_four_failed_sign_ins_do_not_lock_the_username(client):
    username, password = DEMO_PASSWORDS["clinician"]
    for _ in range(4):
        sign_in(client, username, "wrong-password")

    assert sign_in(client, username, password).status_code == 201


def test_an_unknown_username_is_locked_after_five_failures_as_well(client):
    for _ in range(5):
        sign_in(client, "ghost", "wrong-password")

    answer = sign_in(client, "ghost", "wrong-password")

    assert answer.status_code == 429
    assert "Retry-After" in answer.headers


def test_the_lockout_of_one_username_leaves_others_signing_in(client):
    for _ in range(5):
        sign_in(client, DEMO_PASSWORDS["clinician"][0], "wrong-password")

    assert sign_in(client, *DEMO_PASSWORDS["technician"]).status_code == 201


def test_the_lockout_ends_fifteen_minutes_after_the_failures(client, clock):
    username, password = DEMO_PASSWORDS["clinician"]
    for _ in range(5):
        sign_in(client, username, "wrong-password")
    clock.now += timedelta(minutes=15, seconds=1)

    assert sign_in(client, username, password).status_code == 201


# --- no user enumeration: the same answers, and the same work, for unknown, known and disabled names

class CountingHasher:
    """The service's password hasher, noting each hash a password is checked against."""

    def __init__(self, hasher):
        self._hasher = hasher
        self.checked: list[str] = []

    def verify(self, password_hash, password):
        self.checked.append(password_hash)
        return self._hasher.verify(password_hash, password)

    def __getattr__(self, name):
        return getattr(self._hasher, name)


def disable(admin, role: str) -> None:
    username = DEMO_PASSWORDS[role][0]
    (user_id,) = [u["id"] for u in admin.get("/api/v1/users").json if u["username"] == username]
    assert admin.post(f"/api/v1/users/{user_id}/disable").status_code == 200


def test_an_unknown_name_a_wrong_password_and_a_disabled_user_get_the_same_401(admin, client):
    disable(admin, "clinician")

    answers = [sign_in(client, "nobody-here", "whatever-password"),
               sign_in(client, DEMO_PASSWORDS["technician"][0], "not-the-password"),
               sign_in(client, *DEMO_PASSWORDS["clinician"])]  # the right password, but disabled

    assert [a.status_code for a in answers] == [401, 401, 401]
    assert answers[0].json == answers[1].json == answers[2].json
    assert answers[0].json["message"] == "Unknown username or wrong password"


def test_after_five_failures_a_known_and_an_unknown_name_get_the_same_429(client):
    known, unknown = DEMO_PASSWORDS["technician"][0], "nobody-here"
    for username in (known, unknown):
        for _ in range(5):
            sign_in(client, username, "not-the-password")

    answers = [sign_in(client, known, DEMO_PASSWORDS["technician"][1]), sign_in(client, unknown, "whatever")]

    assert [a.status_code for a in answers] == [429, 429]
    assert answers[0].json == answers[1].json
    assert answers[0].headers["Retry-After"] == answers[1].headers["Retry-After"]


def test_each_401_checks_one_password_at_the_same_cost_for_unknown_known_and_disabled_names(admin, client,
                                                                                           monkeypatch):
    disable(admin, "clinician")
    counting = CountingHasher(auth_service._hasher)
    monkeypatch.setattr(auth_service, "_hasher", counting)

    sign_in(client, "nobody-here", "whatever-password")
    sign_in(client, DEMO_PASSWORDS["technician"][0], "not-the-password")
    sign_in(client, *DEMO_PASSWORDS["clinician"])

    assert len(counting.checked) == 3
    assert len({str(extract_parameters(h)) for h in counting.checked}) == 1  # one Argon2 cost for all three


def test_a_429_checks_no_password_for_known_or_unknown_names(client, monkeypatch):
    for username in (DEMO_PASSWORDS["technician"][0], "nobody-here"):
        for _ in range(5):
            sign_in(client, username, "not-the-password")
    counting = CountingHasher(auth_service._hasher)
    monkeypatch.setattr(auth_service, "_hasher", counting)

    sign_in(client, *DEMO_PASSWORDS["technician"])
    sign_in(client, "nobody-here", "whatever-password")

    assert counting.checked == []


# --- users

def test_an_admin_adds_a_user_answered_201_without_the_password(admin):
    answer = admin.post("/api/v1/users", json={"username": "nina", "role": "technician", "password": "long-enough-1"})

    assert answer.status_code == 201
    assert answer.json["username"] == "nina"
    assert answer.json["role"] == "technician"
    assert isinstance(answer.json["id"], int)
    assert "password" not in answer.json and "password_hash" not in answer.json


def test_a_new_user_signs_in_with_the_role_given(admin, client):
    admin.post("/api/v1/users", json={"username": "nina", "role": "clinician", "password": "long-enough-1"})

    answer = sign_in(client, "nina", "long-enough-1")

    assert answer.status_code == 201
    assert answer.json["role"] == "clinician"


def test_adding_a_user_with_a_taken_username_is_answered_409(admin, db):
    taken = DEMO_PASSWORDS["front_desk"][0]

    with writes_nothing(db):
        answer = admin.post("/api/v1/users", json={"username": taken, "role": "admin", "password": "long-enough-1"})

    assert answer.status_code == 409
    assert "username" in error_fields(answer)


def test_adding_a_user_with_a_short_password_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/users", json={"username": "nina", "role": "admin", "password": "short"})

    assert answer.status_code == 422
    assert "password" in error_fields(answer)


def test_adding_a_user_with_an_unknown_role_is_answered_422(admin, db):
    with writes_nothing(db):
        answer = admin.post("/api/v1/users", json={"username": "nina", "role": "janitor", "password": "long-enough-1"})

    assert answer.status_code == 422
    assert "role" in error_fields(answer)


def test_only_an_admin_may_add_users(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/users",
                                 json={"username": "nina", "role": "admin", "password": "long-enough-1"})

    assert answer.status_code == 403
