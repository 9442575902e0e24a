"""Who may call what: every operation in /openapi.json, for every role and without a token, answers
exactly as the permission table (tms_scheduler/api/permissions.py) says; the README shows that table."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tms_scheduler.api import permissions
from tms_scheduler.domain.roles import ROLES

# No such user: disabling a demo user (or revoking their tokens) would sign out the roles the walk goes on with.
PATH_VALUES = {"site_id": "fullerton", "chair_id": "1", "course_id": "1", "session_id": "1", "patient_id": "1",
               "reminder_id": "1", "callback_id": "1", "user_id": "999"}
README = Path(__file__).resolve().parents[2] / "README.md"


def described_operations(client) -> list[tuple[str, str, str, dict]]:
    """(method, OpenAPI path, a URL to call, the operation) for every /api/v1 operation described."""
    spec = client.get("/openapi.json").json
    found = []
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        url = re.sub(r"{([^}]+)}", lambda m: PATH_VALUES[m.group(1)], path)
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, url, operation))
    return found


def rule_of(method: str, path: str) -> permissions.Operation:
    (op,) = [op for op in permissions.OPERATIONS
             if op.method == method and permissions.openapi_path(op.rule) == path]
    return op


def call(client, method: str, url: str):
    send = getattr(client, method.lower())
    return send(url, json={}) if method in ("POST", "PUT", "PATCH") else send(url)


def test_every_described_operation_has_a_permission_rule_and_its_id(client):
    for method, path, _, operation in described_operations(client):
        assert operation["operationId"] == rule_of(method, path).id, (method, path)


def test_every_permission_rule_names_a_described_operation(client):
    described = {(method, path) for method, path, _, _ in described_operations(client)}

    assert {(op.method, permissions.openapi_path(op.rule)) for op in permissions.OPERATIONS} == described


def test_each_operation_refuses_exactly_the_roles_the_table_does_not_allow(client, as_role):
    wrong = []
    for method, path, url, _ in described_operations(client):
        op = rule_of(method, path)
        if op.allowed == permissions.PUBLIC or op.id == "signOut":
            continue  # signing out (any role; below) would end the tokens the walk goes on with
        for role in ROLES:
            answer = call(as_role(role), method, url)
            if (answer.status_code == 403) != (role not in op.roles) or answer.status_code in (401, 500):
                wrong.append(f"{method} {path} as {role}: {answer.status_code}")
    assert not wrong, wrong


def test_each_operation_but_signing_in_answers_401_without_a_token(client):
    wrong = []
    for method, path, url, _ in described_operations(client):
        if rule_of(method, path).allowed == permissions.PUBLIC:
            continue
        answer = call(client, method, url)
        if answer.status_code != 401:
            wrong.append(f"{method} {path}: {answer.status_code}")
    assert not wrong, wrong


def test_each_operation_says_who_may_call_it(client):
    for method, path, _, operation in described_operations(client):
        assert permissions.allowed_phrase(rule_of(method, path)) in operation["description"], (method, path)


def test_the_front_desk_never_receives_treatment_records_or_phq9_scores():
    clinical = {"getTreatmentRecord", "listAssessments", "recordAssessment", "getWorklist", "completeSession"}

    assert not [op.id for op in permissions.OPERATIONS if op.id in clinical and "front_desk" in op.roles]
    assert "front_desk" not in permissions.SEES_PHQ9


def test_only_the_front_desk_and_admins_book_a_make_up_with_an_override():
    (makeup,) = [op for op in permissions.OPERATIONS if op.id == "bookMakeup"]

    assert set(makeup.roles) == {"front_desk", "admin"}


def test_the_readmes_role_table_is_the_permission_table():
    text = README.read_text()
    table = text.split("<!-- role table: python -m tms_scheduler.api.permissions -->\n", 1)[1].split("\n\n", 1)[0]

    assert table == permissions.role_table()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_may_sign_out(as_role, role):
    assert as_role(role).delete("/api/v1/auth/tokens/current").status_code == 204
