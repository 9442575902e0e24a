"""The administrator's account operations (list, disable, enable, revoke a user's tokens) and the password rule
for new users, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime

from tests.conftest import DEMO_PASSWORDS
from tests.factories import error_fields, writes_nothing
from tms_scheduler.services import auth as auth_service
from tms_scheduler.services.demo import DEMO_USERS

USERS = "/api/v1/users"
TOKENS = "/api/v1/auth/tokens"


def sign_in(client, username: str, password: str):
    return client.post(TOKENS, json={"username": username, "password": password})


def token_of(client, role: str) -> str:
    answer = sign_in(client, *DEMO_PASSWORDS[role])
    assert answer.status_code == 201, answer.json
    return answer.json["token"]


def works(client, token: str) -> bool:
    """Whether the token opens the API (200) or is refused as no valid token (401)."""
    status = client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).status_code
    assert status in (200, 401), status
    return status == 200


def user_id(admin, role: str) -> int:
    username = DEMO_PASSWORDS[role][0]
    return next(u["id"] for u in admin.get(USERS).json if u["username"] == username)


def trail(admin, **query) -> list[dict]:
    answer = admin.get("/api/v1/audit", query_string={"limit": 500, **query})
    assert answer.status_code == 200, answer.json
    return answer.json


def new_user(admin, password: str, username: str = "nina"):
    return admin.post(USERS, json={"username": username, "role": "technician", "password": password})


# --- listing

def test_an_admin_lists_every_user_with_id_username_role_active_and_created_at(admin):
    answer = admin.get(USERS)

    assert answer.status_code == 200
    assert {(u["username"], u["role"]) for u in answer.json} == {(name, role) for name, role, _ in DEMO_USERS}
    for user in answer.json:
        assert set(user) == {"id", "username", "role", "active", "created_at"}
        assert isinstance(user["id"], int) and user["active"] is True


def test_the_user_list_carries_no_password_or_password_hash(admin):
    answer = admin.get(USERS)

    assert "argon2" not in answer.get_data(as_text=True)
    assert not [key for user in answer.json for key in user if "password" in key or "hash" in key]


def test_a_new_user_is_listed_active_with_the_time_of_creation(admin, clock):
    assert new_user(admin, "correct-mule-staple-27").status_code == 201

    (nina,) = [u for u in admin.get(USERS).json if u["username"] == "nina"]

    assert nina["active"] is True
    assert datetime.fromisoformat(nina["created_at"]) == clock.now


def test_only_an_admin_may_list_the_users(as_role):
    for role in ("front_desk", "technician", "clinician"):
        assert as_role(role).get(USERS).status_code == 403, role


# --- disabling and enabling

def test_disabling_a_user_answers_the_user_inactive(admin):
    answer = admin.post(f"{USERS}/{user_id(admin, 'technician')}/disable")

    assert answer.status_code == 200
    assert (answer.json["username"], answer.json["active"]) == ("technician", False)


def test_a_disabled_user_is_listed_inactive(admin):
    admin.post(f"{USERS}/{user_id(admin, 'technician')}/disable")

    listed = {u["username"]: u["active"] for u in admin.get(USERS).json}

    assert listed == {"frontdesk": True, "technician": False, "clinician": True, "admin": True}


def test_a_disabled_users_token_answers_401_at_once(admin, client):
    token = token_of(client, "technician")
    assert works(client, token)

    admin.post(f"{USERS}/{user_id(admin, 'technician')}/disable")

    assert not works(client, token)


def test_a_disabled_user_cannot_sign_in_with_the_right_password(admin, client):
    admin.post(f"{USERS}/{user_id(admin, 'technician')}/disable")

    assert sign_in(client, *DEMO_PASSWORDS["technician"]).status_code == 401


def test_an_admin_cannot_disable_themself(admin, db):
    with writes_nothing(db):
        answer = admin.post(f"{USERS}/{user_id(admin, 'admin')}/disable")

    assert answer.status_code == 409
    assert admin.get(USERS).status_code == 200  # still signed in


def test_an_admin_may_disable_another_admin(admin, client):
    new = admin.post(USERS, json={"username": "second-admin", "role": "admin", "password": "correct-mule-staple-27"})

    answer = admin.post(f"{USERS}/{new.json['id']}/disable")

    assert answer.status_code == 200 and answer.json["active"] is False


def test_disabling_an_unknown_user_answers_404(admin):
    assert admin.post(f"{USERS}/999/disable").status_code == 404


def test_disabling_is_noted_in_the_audit_trail_as_the_admins_doing(admin):
    technician = user_id(admin, "technician")

    admin.post(f"{USERS}/{technician}/disable")

    (row,) = trail(admin, action="disable")
    assert (row["username"], row["entity"], row["entity_id"]) == ("admin", "user", str(technician))


def test_a_re_enabled_user_can_sign_in_again(admin, client):
    technician = user_id(admin, "technician")
    admin.post(f"{USERS}/{technician}/disable")

    enabled = admin.post(f"{USERS}/{technician}/enable")

    assert enabled.status_code == 200 and enabled.json["active"] is True
    assert sign_in(client, *DEMO_PASSWORDS["technician"]).status_code == 201


def test_re_enabling_a_user_brings_none_of_their_old_tokens_back(admin, client):
    token = token_of(client, "technician")
    technician = user_id(admin, "technician")
    admin.post(f"{USERS}/{technician}/disable")

    admin.post(f"{USERS}/{technician}/enable")

    assert not works(client, token)


def test_enabling_is_noted_in_the_audit_trail_as_the_admins_doing(admin):
    technician = user_id(admin, "technician")
    admin.post(f"{USERS}/{technician}/disable")

    admin.post(f"{USERS}/{technician}/enable")

    (row,) = trail(admin, action="enable")
    assert (row["username"], row["entity"], row["entity_id"]) == ("admin", "user", str(technician))


def test_enabling_an_unknown_user_answers_404(admin):
    assert admin.post(f"{USERS}/999/enable").status_code == 404


# --- revoking a user's tokens

def test_revoking_a_users_tokens_answers_how_many_were_working(admin, client):
    token_of(client, "technician")
    token_of(client, "technician")
    signed_out = token_of(client, "technician")
    client.delete(f"{TOKENS}/current", headers={"Authorization": f"Bearer {signed_out}"})
    technician = user_id(admin, "technician")

    answer = admin.post(f"{USERS}/{technician}/revoke-tokens")

    assert answer.status_code == 200
    assert answer.json == {"user_id": technician, "revoked": 2}


def test_revoking_makes_every_token_of_the_user_answer_401(admin, client):
    tokens = [token_of(client, "technician"), token_of(client, "technician")]

    admin.post(f"{USERS}/{user_id(admin, 'technician')}/revoke-tokens")

    assert [works(client, token) for token in tokens] == [False, False]


def test_revoking_leaves_other_users_tokens_working(admin, client):
    clinician = token_of(client, "clinician")
    token_of(client, "technician")

    admin.post(f"{USERS}/{user_id(admin, 'technician')}/revoke-tokens")

    assert works(client, clinician)
    assert admin.get(USERS).status_code == 200


def test_a_user_whose_tokens_were_revoked_signs_in_again(admin, client):
    token_of(client, "technician")
    admin.post(f"{USERS}/{user_id(admin, 'technician')}/revoke-tokens")

    assert works(client, token_of(client, "technician"))


def test_revoking_is_noted_in_the_audit_trail_as_the_admins_doing(admin, client):
    technician = user_id(admin, "technician")

    admin.post(f"{USERS}/{technician}/revoke-tokens")

    (row,) = trail(admin, action="revoke")
    assert (row["username"], row["entity"], row["entity_id"]) == ("admin", "token", str(technician))


def test_revoking_the_tokens_of_an_unknown_user_answers_404(admin):
    assert admin.post(f"{USERS}/999/revoke-tokens").status_code == 404


def test_only_an_admin_may_disable_enable_or_revoke(as_role, admin, db):
    technician = user_id(admin, "technician")
    others = [as_role(role) for role in ("front_desk", "technician", "clinician")]

    with writes_nothing(db):
        answers = [other.post(f"{USERS}/{technician}/{action}").status_code
                   for other in others for action in ("disable", "enable", "revoke-tokens")]

    assert answers == [403] * 9


# --- the password rule

def test_a_password_of_11_characters_is_refused_naming_password(admin, db):
    with writes_nothing(db):
        answer = new_user(admin, "mule-staple")

    assert answer.status_code == 422
    assert "password" in error_fields(answer)


def test_a_password_containing_the_username_is_refused_whatever_the_case(admin, db):
    with writes_nothing(db):
        answer = new_user(admin, "garden-NiNa-staple-27", username="nina")

    assert answer.status_code == 422
    assert answer.json["errors"] == {"password": "The password contains the username"}


def test_a_common_password_is_refused_whatever_the_case(admin, db):
    with writes_nothing(db):
        answer = new_user(admin, "Password1234")

    assert answer.status_code == 422
    assert answer.json["errors"] == {"password": "The password is one of the commonest passwords"}


def test_a_password_of_four_different_characters_is_refused(admin, db):
    with writes_nothing(db):
        answer = new_user(admin, "abcdabcdabcd")

    assert answer.status_code == 422
    assert answer.json["errors"]["password"].startswith("The password repeats too few characters")


def test_a_password_of_12_characters_five_of_them_different_is_accepted(admin):
    assert new_user(admin, "abcdeabcdeab").status_code == 201


def test_adding_a_user_is_noted_in_the_audit_trail_as_the_admins_doing(admin):
    created = new_user(admin, "correct-mule-staple-27").json

    (row,) = [r for r in trail(admin, action="create") if r["entity"] == "user"]
    assert (row["username"], row["entity_id"]) == ("admin", str(created["id"]))


def test_the_demo_users_passwords_pass_the_password_rule():
    assert {username: auth_service.password_problem(username, password)
            for username, _role, password in DEMO_USERS} == {username: None for username, _, _ in DEMO_USERS}


def test_the_common_passwords_are_lower_case_and_long_enough_to_be_what_refuses_them():
    assert not [p for p in auth_service.COMMON_PASSWORDS
                if p != p.lower() or len(p) < auth_service.MIN_PASSWORD_LENGTH]
