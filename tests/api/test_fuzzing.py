"""Fuzzing: schemathesis reads /openapi.json and sends every operation what its description allows and
what it does not, as each role and with no token, on SQLite and PostgreSQL, and runs all its checks
on every answer: no server error, no status, header, content type or body the description does not
declare, invalid input refused, valid input not refused for being malformed.

The number of examples per operation is bounded so the run takes a minute or two;
TMS_FUZZ_EXAMPLES raises it for a longer session (see the README).
"""
from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.conftest import DEMO_PASSWORDS

EXAMPLES = int(os.environ.get("TMS_FUZZ_EXAMPLES", "4"))
# The suite's run draws the same examples each time; a longer session draws new ones.
SAME_EACH_RUN = "TMS_FUZZ_EXAMPLES" not in os.environ
CALLERS = ("front_desk", "technician", "clinician", "admin", "anonymous")


@pytest.fixture(params=CALLERS)
def caller(request) -> str:
    return request.param


@pytest.fixture
def api_schema(app, caller):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


@pytest.fixture
def caller_headers(client, caller):
    """Headers signed in as `caller`: a fresh token for each case, since a case may sign out, or
    revoke or disable its own user's tokens, and the next case should still be that role."""

    def headers() -> dict[str, str]:
        if caller == "anonymous":
            return {}
        username, password = DEMO_PASSWORDS[caller]
        answer = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.json
        return {"Authorization": f"Bearer {answer.json['token']}"}

    return headers


MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# The words of a refusal for the shape of a value (marshmallow's and api/inputs.py's): valid data
# refused with one of these means the description allows what the service does not.
SHAPE_REFUSAL = re.compile(r"Not a valid|Missing data|Unknown field|must not contain|must be in the years|"
                           r"does not match|Length must|Must be greater|Must be less|Must be one of|HH:MM|"
                           r"at least one field|not JSON|Content-Type|digits only|extensions are not")


def _messages(errors) -> list[str]:
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in _messages(value)]
    if isinstance(errors, list):
        return [message for value in errors for message in _messages(value)]
    return [str(errors)]


def valid_data_is_refused_only_by_a_clinic_rule(ctx, response, case) -> None:
    """schemathesis's positive_data_acceptance, but a 422 for a clinic rule the description cannot
    say (a site closed that day, a common password, an unknown time zone) is an answer, not a gap."""
    if not case.meta.generation.mode.is_positive or response.status_code not in (400, 413, 415, 422):
        return
    body = response.json()
    said = _messages(body.get("errors") or body.get("message"))
    assert response.status_code == 422 and not any(SHAPE_REFUSAL.search(m) for m in said), \
        f"valid data refused {response.status_code}: {said}"


def test_no_answer_is_a_server_error_or_breaks_its_description(api_schema, caller_headers):
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in MODES:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=SAME_EACH_RUN, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def fuzz(case):
                case.call_and_validate(headers=caller_headers(), excluded_checks=[positive_data_acceptance],
                                       additional_checks=[valid_data_is_refused_only_by_a_clinic_rule])

            try:
                fuzz()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be made"
            except (Exception, BaseExceptionGroup) as failure:  # every operation is tried; all failures reported
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert operations > 50, f"only {operations} operations described"
    assert not failures, "\n\n".join(failures)
