"""A partner's client, generated from /openapi.json with openapi-python-client, drives the front desk's
day against the running service and reads every answer into its typed models: no nested object left
as a dict, no field the description lacks, no null or missing value where it promised one, no
warning while generating."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import urllib.request
from datetime import date, timedelta
from types import ModuleType

import attrs
import pytest

from tests.conftest import DEMO_PASSWORDS
from tms_scheduler.settings import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
GENERATOR = VENV_BIN / "openapi-python-client"
PACKAGE = "tms_generated_client"
GENERATE_TIMEOUT_SECONDS = 120
# Fields an answer may leave out (the description does not list them as required), and why.
MAY_BE_LEFT_OUT = {("Progress", "phq9"): "PHQ-9 scores are never sent to the front desk"}

_generated: dict[str, ModuleType] = {}


def generated_client(spec_text: str, folder) -> ModuleType:
    """The client openapi-python-client generates from `spec_text`, imported (once per description)."""
    key = hashlib.sha256(spec_text.encode()).hexdigest()
    if key in _generated:
        return _generated[key]
    assert PACKAGE not in sys.modules, "one description per test run"
    spec_path = folder / "openapi.json"
    spec_path.write_text(spec_text)
    # The generator formats its output with ruff (a dev dependency, in .venv/bin); nothing is fetched.
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([str(GENERATOR), "generate", "--path", str(spec_path), "--output-path",
                           str(folder / PACKAGE), "--meta", "none"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=GENERATE_TIMEOUT_SECONDS)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Warning" not in said and "Error" not in said, f"the generator could not read all of it:\n{said}"
    sys.path.insert(0, str(folder))
    _generated[key] = importlib.import_module(PACKAGE)
    return _generated[key]


def module(client: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{client.__name__}.{name}")


def assert_typed(value, where: str, unset_type: type) -> None:
    """`value` is read into the generated models all the way down."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            assert_typed(item, f"{where}[{i}]", unset_type)
        return
    assert not isinstance(value, dict), f"{where} is an untyped dict: {value}"
    if not attrs.has(type(value)):
        return
    model = type(value).__name__
    assert value.additional_properties == {}, f"{where} ({model}) has fields the description lacks: " \
                                              f"{sorted(value.additional_properties)}"
    for field in attrs.fields(type(value)):
        if field.name == "additional_properties":
            continue
        inner = getattr(value, field.name)
        if isinstance(inner, unset_type):
            assert (model, field.name) in MAY_BE_LEFT_OUT, f"{where}.{field.name} ({model}) was left out"
            continue
        if inner is None:
            assert "None" in str(field.type), f"{where}.{field.name} ({model}) is null; described as {field.type}"
            continue
        assert_typed(inner, f"{where}.{field.name}", unset_type)


@pytest.fixture
def spec_text(live_server) -> str:
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            live_server.base_url + "/openapi.json", timeout=30) as answer:
        return answer.read().decode()


def test_a_generated_client_reads_every_answer_of_the_front_desks_day(live_server, spec_text, tmp_path):
    client = generated_client(spec_text, tmp_path)
    models = module(client, "models")
    unset = module(client, "types").Unset
    auth, patients, courses, sessions, sites = (module(client, f"api.{tag}") for tag in
                                                ("auth", "patients", "courses", "sessions", "sites"))
    api = {name: module(client, f"api.{tag}.{name}") for tag, names in {
        "auth": ("sign_in", "sign_out"), "patients": ("register_patient", "get_patient"),
        "courses": ("book_course", "get_course", "get_progress"),
        "sessions": ("reschedule_session", "cancel_session", "get_session_history", "get_session"),
        "sites": ("get_day_board",)}.items() for name in names}
    assert auth and patients and courses and sessions and sites
    http = {"trust_env": False}  # straight to 127.0.0.1, whatever proxy the environment names

    def call(name: str, expected_status: int, expected_model: str, **kwargs):
        answer = api[name].sync_detailed(**kwargs)
        assert answer.status_code == expected_status, (name, answer.status_code, answer.content[:500])
        parsed = answer.parsed
        if expected_model.startswith("list["):
            assert isinstance(parsed, list) and parsed, (name, parsed)
            wanted = getattr(models, expected_model[5:-1])
            assert all(type(item) is wanted for item in parsed), (name, parsed)
        else:
            assert type(parsed) is getattr(models, expected_model), (name, parsed)
        assert_typed(parsed, name, unset)
        json.loads(answer.content)  # and the raw answer is JSON
        return parsed

    anonymous = client.Client(base_url=live_server.base_url, raise_on_unexpected_status=True, httpx_args=http)
    username, password = DEMO_PASSWORDS["front_desk"]
    token = call("sign_in", 201, "Token", client=anonymous,
                 body=models.TokenRequest(username=username, password=password))
    assert token.role == models.Role.FRONT_DESK
    desk = client.AuthenticatedClient(base_url=live_server.base_url, token=token.token,
                                      raise_on_unexpected_status=True, httpx_args=http)

    patient = call("register_patient", 201, "Patient", client=desk, body=models.PatientCreate(
        first_name="Rosa", last_name="Generated", date_of_birth=date(1961, 4, 9), phone="(714) 555-0177",
        language=models.PatientCreateLanguage.EN, sms_consent=True))
    assert patient.phone == "+17145550177"
    call("get_patient", 200, "Patient", client=desk, patient_id=patient.id)

    course = call("book_course", 201, "Course", client=desk, body=models.CourseCreate(
        patient_id=patient.id, site_id="fullerton", protocol_id="tms-10hz-standard", start_date=date(2027, 3, 1),
        preferred_time="09:00", authorization=models.Authorization(
            payer="Aetna", number="PA-2027-0042", sessions=45, valid_from=date(2027, 2, 1),
            valid_to=date(2027, 9, 30))))
    assert course.status == models.CourseStatus.ACTIVE
    assert type(course.authorization) is models.CourseAuthorization and course.authorization.sessions == 45
    assert course.authorization.override_reason is None
    assert type(course.patient) is models.CoursePatient
    course = call("get_course", 200, "Course", client=desk, course_id=course.id)
    first = course.sessions[0]
    assert first.kind == models.SessionKind.MAPPING and first.status == models.SessionStatus.SCHEDULED

    progress = call("get_progress", 200, "Progress", client=desk, course_id=course.id)
    assert isinstance(progress.phq9, unset)  # never for the front desk
    assert progress.prescribed == len(course.sessions)
    assert type(progress.authorization) is models.AuthorizationStatus and progress.authorization.used == 0

    fifth, sixth = (next(s for s in course.sessions if s.number == n) for n in (5, 6))
    moved = call("reschedule_session", 200, "Session", client=desk, session_id=fifth.id,
                 body=models.Reschedule(starts_at=fifth.starts_at + timedelta(hours=2), reason="work shift"))
    assert moved.id == fifth.id and moved.starts_at == fifth.starts_at + timedelta(hours=2)

    cancelled = call("cancel_session", 200, "MissedSession", client=desk, session_id=sixth.id,
                     body=models.CancelSession(reason="a cold", by=models.Canceller.PATIENT))
    assert cancelled.status == models.SessionStatus.CANCELLED
    assert cancelled.cancelled_by == models.CancelledBy.PATIENT
    assert type(cancelled.makeup_session) is models.Session  # typed, not a dict
    call("get_session", 200, "Session", client=desk, session_id=cancelled.makeup_session.id)

    board = call("get_day_board", 200, "Board", client=desk, site_id="fullerton", date=first.starts_at.date())
    booked = [s for chair in board.chairs for s in chair.sessions if s.course_id == course.id]
    assert [s.id for s in booked] == [first.id]
    assert type(booked[0].patient) is models.BoardPatient and booked[0].patient.name == "Rosa Generated"

    history = call("get_session_history", 200, "list[SessionEvent]", client=desk, session_id=fifth.id)
    assert [e.action for e in history] == ["book", "reschedule"], history
    assert history[0].from_status is None and history[1].from_status == models.SessionStatus.SCHEDULED
    assert history[1].to_starts_at == moved.starts_at and history[1].username == username

    signed_out = api["sign_out"].sync_detailed(client=desk)
    assert signed_out.status_code == 204
    refused = api["get_course"].sync_detailed(client=desk, course_id=course.id)
    assert refused.status_code == 401 and type(refused.parsed) is models.Error
    assert refused.parsed.code == 401 and refused.parsed.message
