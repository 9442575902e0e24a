"""Who may call what: every /api/v1 endpoint refuses exactly the roles it does not allow."""
from __future__ import annotations

import re

from tms_scheduler.domain.roles import ROLES

# Answered to anyone signed in (sign-out) or to anyone at all (sign-in); every other endpoint names its roles.
UNRESTRICTED = {("POST", "/api/v1/auth/tokens"), ("DELETE", "/api/v1/auth/tokens/current")}
PATH_VALUES = {"site_id": "fullerton", "chair_id": "1", "course_id": "1", "session_id": "1", "patient_id": "1",
               "reminder_id": "1", "callback_id": "1"}
HIDDEN_METHODS = {"HEAD", "OPTIONS"}


def api_endpoints(app):
    """(method, rule, url, allowed roles or None) for every /api/v1 route."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view_class = app.view_functions[rule.endpoint].view_class
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: PATH_VALUES[m.group(1)], rule.rule)
        for method in sorted(rule.methods - HIDDEN_METHODS):
            allowed = getattr(getattr(view_class, method.lower()), "_roles", None)
            yield method, rule.rule, url, allowed


def test_every_api_endpoint_but_signing_in_and_out_names_the_roles_it_allows(app):
    unnamed = {(method, rule) for method, rule, _, allowed in api_endpoints(app) if allowed is None}

    assert unnamed == UNRESTRICTED


def test_the_roles_named_are_known_roles(app):
    for method, rule, _, allowed in api_endpoints(app):
        assert allowed is None or set(allowed) <= set(ROLES), (method, rule, allowed)


def test_each_endpoint_answers_403_exactly_to_the_roles_it_does_not_allow(app, as_role):
    wrong = []
    for method, rule, url, allowed in api_endpoints(app):
        if allowed is None:
            continue
        for role in ROLES:
            send = getattr(as_role(role), method.lower())
            answer = send(url, json={}) if method in ("POST", "PUT", "PATCH") else send(url)
            refused = answer.status_code == 403
            if refused != (role not in allowed):
                wrong.append(f"{method} {rule} as {role}: {answer.status_code}")

    assert not wrong, wrong


def test_each_endpoint_but_signing_in_answers_401_without_a_token(app, client):
    wrong = []
    for method, rule, url, _ in api_endpoints(app):
        if (method, rule) == ("POST", "/api/v1/auth/tokens"):
            continue
        answer = getattr(client, method.lower())(url, json={}) if method != "GET" else client.get(url)
        if answer.status_code != 401:
            wrong.append(f"{method} {rule}: {answer.status_code}")

    assert not wrong, wrong


def test_every_role_may_sign_out(as_role):
    for role in ROLES:
        assert as_role(role).delete("/api/v1/auth/tokens/current").status_code == 204, role


# What the contract fixes, whatever the decorators say.
ADMIN_ONLY = {("POST", "/api/v1/sites"), ("PATCH", "/api/v1/sites/<string:site_id>"),
              ("POST", "/api/v1/sites/<string:site_id>/chairs"), ("POST", "/api/v1/sites/<string:site_id>/closures"),
              ("POST", "/api/v1/protocols"), ("POST", "/api/v1/users")}
EVERY_ROLE = {("GET", "/api/v1/sites"), ("GET", "/api/v1/sites/<string:site_id>"),
              ("GET", "/api/v1/sites/<string:site_id>/chairs"), ("GET", "/api/v1/protocols")}


def test_the_contracts_admin_only_calls_allow_only_admins(app):
    declared = {(method, rule): allowed for method, rule, _, allowed in api_endpoints(app)}

    assert {key: tuple(declared[key]) for key in ADMIN_ONLY} == dict.fromkeys(ADMIN_ONLY, ("admin",))


def test_the_contracts_reads_of_sites_chairs_and_protocols_allow_every_role(app):
    declared = {(method, rule): allowed for method, rule, _, allowed in api_endpoints(app)}

    assert {key: set(declared[key]) for key in EVERY_ROLE} == {key: set(ROLES) for key in EVERY_ROLE}
