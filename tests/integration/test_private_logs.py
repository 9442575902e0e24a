"""Nothing private in the logs: a patient's name, birth date, phone and texts go through every kind
of request, a write fails at the database, a text comes in and a reminder goes out, and no log
line names any of them. Every line is JSON; a line logged in a request has that request's id,
the one answered in X-Request-ID.

Through the app (Flask's test client) every logger is turned up to DEBUG, SQLAlchemy's included,
and the lines are written by the service's own handler (logs.json_handler). Through real gunicorn
(config/gunicorn.conf.py) its access log is JSON, names the path without the query string of a
patient search, and carries the request id answered.
"""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace

import pytest
from sqlalchemy import event
from twilio.request_validator import RequestValidator

from tests.conftest import DEMO_PASSWORDS, RoleClient
from tests.factories import local, session_number
from tests.integration.conftest import GUNICORN, GunicornServer, cli_environment
from tms_scheduler import logs
from tms_scheduler.bootstrap import bootstrap
from tms_scheduler.db import models
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.settings import Settings
from tms_scheduler.sms.log_sender import LogSender

FIRST, LAST, BORN, PHONE = "Zebulonia", "Quatermass-Pryce", "1943-07-19", "(714) 555-0187"
MEMBER_NUMBER = "MBR-4471-ZQ"
BOOKING_OVERRIDE = "payer extension agreed for her vertigo episodes"
CANCEL_REASON = "Zebulonia's daughter called: hospitalised with pneumonia"
MAKEUP_OVERRIDE = "approved after Mrs Quatermass-Pryce had her fall on the stairs"
NOTES = "reported tinnitus and insomnia since the divorce"
TEXT_IN = "Hi it's Zebulonia Quatermass-Pryce (born 07/19/1943), cell 714-555-0187, running late from chemo"

# Whatever form a log line could take them in: none may appear (case aside).
PRIVATE = (
    FIRST, "Quatermass", "Pryce",
    BORN, "07/19/1943", "7/19/1943", "19/07/1943", "1943/07/19", "19430719", "July 19, 1943",
    "7145550187", "555-0187", "5550187", "555 0187", "714) 555", "714.555.0187",
    MEMBER_NUMBER, "vertigo", "pneumonia", "her fall", "tinnitus", "divorce", "running late from chemo",
    *(password for _username, password in DEMO_PASSWORDS.values()),
)

BASE_URL = "https://tms.example.org"
AUTH_TOKEN = "private-logs-auth-token"
ACCOUNT_SID = "AC" + "7" * 32
CLINIC_NUMBER = "+17145550100"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
START_DEADLINE_SECONDS = 30


def private_in(text: str) -> list[str]:
    lowered = text.lower()
    return [needle for needle in PRIVATE if needle.lower() in lowered]


def assert_nothing_private(lines: list[str]) -> None:
    leaks = [(found, line) for line in lines
             if (found := list(dict.fromkeys(private_in(line) + private_in(_decoded(line)))))]
    assert not leaks, "private data in the logs:\n" + "\n".join(f"{found}: {line}" for found, line in leaks)


def _decoded(line: str) -> str:
    """The line's values as JSON unescaped them (a \\u escape must not hide a name)."""
    try:
        return " ".join(str(value) for value in json.loads(line).values())
    except ValueError:
        return line


# --- through the app, every logger at DEBUG

@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, env="test", secret_key="test-secret", twilio_account_sid=ACCOUNT_SID,
                    twilio_auth_token=AUTH_TOKEN, twilio_from_number=CLINIC_NUMBER, sms_backend="log",
                    public_base_url=BASE_URL)


@pytest.fixture
def log_buffer():
    """The root logger and every logger there is at DEBUG, written by the service's JSON handler."""
    buffer = io.StringIO()
    handler = logs.json_handler(buffer)
    root = logging.getLogger()
    every = [root, *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in every}
    for lg in every:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)
    for lg, level in levels.items():
        lg.setLevel(level)


class Traced:
    """A client whose every request's log lines are checked to carry the id it answered in X-Request-ID."""

    def __init__(self, client, buffer: io.StringIO):
        self._client = client
        self._buffer = buffer
        self.lines_in_requests = 0

    def __getattr__(self, method):
        call = getattr(self._client, method)

        def send(*args, **kwargs):
            start = len(self._buffer.getvalue())
            answer = call(*args, **kwargs)
            request_id = answer.headers.get(logs.REQUEST_ID_HEADER)
            assert request_id, f"no X-Request-ID on {method.upper()} {args[0]} ({answer.status_code})"
            for line in self._buffer.getvalue()[start:].splitlines():
                assert json.loads(line).get("request_id") == request_id, (request_id, line)
                self.lines_in_requests += 1
            return answer

        return send

    def signed_in(self, role: str) -> RoleClient:
        username, password = DEMO_PASSWORDS[role]
        answer = self.post("/api/v1/auth/tokens", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.json
        return RoleClient(self, answer.json["token"])


def twilio_signed(path: str, form: dict) -> dict:
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, form)}


@pytest.fixture
def failing_patient_writes(db):
    """Patient rows flushed with a language the database's check constraint refuses (only when asked)."""
    armed = []

    def spoil(session, _flush_context, _instances):
        if armed:
            for row in session.new:
                if isinstance(row, models.Patient):
                    row.language = "xx"  # ck_patients_language: the INSERT fails with the patient's values bound

    event.listen(db, "before_flush", spoil)
    yield armed
    event.remove(db, "before_flush", spoil)


def test_no_log_line_names_a_patient_whatever_the_request(app, client, clock, db, log_buffer, backend,
                                                          failing_patient_writes):
    traced = Traced(client, log_buffer)
    desk = traced.signed_in("front_desk")

    created = desk.post("/api/v1/patients", json={"first_name": FIRST, "last_name": LAST, "date_of_birth": BORN,
                                                  "phone": PHONE, "language": "en", "sms_consent": True})
    assert created.status_code == 201, created.json
    patient_id = created.json["id"]
    for q in (FIRST, "Quatermass", PHONE, "7145550187", "+17145550187", "714-555-0187"):
        found = desk.get("/api/v1/patients", query_string={"q": q})
        assert found.status_code == 200, found.json
        assert [p["id"] for p in found.json] == [patient_id], q
    assert desk.get(f"/api/v1/patients/{patient_id}").status_code == 200
    patched = desk.patch(f"/api/v1/patients/{patient_id}",
                         json={"last_name": LAST, "phone": "714-555-0187", "date_of_birth": BORN})
    assert patched.status_code == 200, patched.json

    booked = desk.post("/api/v1/courses", json={
        "patient_id": patient_id, "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
        "start_date": "2027-03-01", "preferred_time": "09:00",
        "authorization": {"payer": "Aetna", "number": MEMBER_NUMBER, "sessions": 30,
                          "override_reason": BOOKING_OVERRIDE}})
    assert booked.status_code == 201, booked.json
    course = booked.json
    cancelled = desk.post(f"/api/v1/sessions/{session_number(course, 5)['id']}/cancel",
                          json={"reason": CANCEL_REASON, "by": "patient"})
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["makeup_refused"], "beyond the authorization: booked below with the override"
    made_up = desk.post(f"/api/v1/sessions/{session_number(course, 5)['id']}/makeup",
                        json={"override_reason": MAKEUP_OVERRIDE})
    assert made_up.status_code == 200, made_up.json

    # The 48 h reminder of the first session, through the log sender, outside any request.
    runtime = app.extensions["tms"].runtime
    assert isinstance(runtime.texting.sender, LogSender)
    clock.now = local(2027, 2, 27, 9, 0)
    assert dispatch_due(replace(runtime, texting=replace(runtime.texting, concurrency=1)),
                        worker="private-logs").counts == {"sent": 1}

    clock.now = local(2027, 3, 1, 9, 0)
    first = session_number(course, 1)["id"]
    assert traced.signed_in("front_desk").post(f"/api/v1/sessions/{first}/check-in").status_code == 200
    clock.now = local(2027, 3, 1, 9, 30)
    done = traced.signed_in("technician").post(f"/api/v1/sessions/{first}/complete",
                                               json={"motor_threshold": 52, "intensity": 120, "notes": NOTES})
    assert done.status_code == 200, done.json
    clinician = traced.signed_in("clinician")
    scored = clinician.post(f"/api/v1/courses/{course['id']}/assessments",
                            json={"instrument": "PHQ-9", "score": 19, "taken_on": "2027-02-26"})
    assert scored.status_code == 201, scored.json
    assert clinician.get(f"/api/v1/courses/{course['id']}/progress").status_code == 200
    assert clinician.get(f"/api/v1/sessions/{first}/treatment-record").status_code == 200

    form = {"MessageSid": "SM" + "1" * 32, "SmsSid": "SM" + "1" * 32, "AccountSid": ACCOUNT_SID,
            "From": "+17145550187", "To": CLINIC_NUMBER, "Body": TEXT_IN, "NumMedia": "0", "NumSegments": "1"}
    texted = traced.post("/webhooks/twilio/inbound", data=form, headers=twilio_signed("/webhooks/twilio/inbound", form))
    assert texted.status_code == 200, texted.data
    desk = traced.signed_in("front_desk")
    messages = desk.get(f"/api/v1/patients/{patient_id}/messages")
    assert messages.status_code == 200 and TEXT_IN in json.dumps(messages.json), "the text is kept, not logged"

    # A write the database refuses, its statement bound to the patient's name, birth date and phone.
    failing_patient_writes.append(True)
    start = len(log_buffer.getvalue())
    refused = desk.post("/api/v1/patients", json={"first_name": FIRST, "last_name": LAST, "date_of_birth": BORN,
                                                  "phone": PHONE, "another_person": True})
    failing_patient_writes.clear()
    assert refused.status_code == 500, refused.data
    assert refused.json["code"] == 500 and refused.json["status"] == "Internal Server Error", refused.json
    assert refused.json["message"]

    lines = log_buffer.getvalue().splitlines()
    assert_nothing_private(lines)
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]) for e in entries)
    assert traced.lines_in_requests > 50, "the requests' own lines (SQL at INFO among them) were captured"
    statements = [e for e in entries if e["logger"].startswith("sqlalchemy.engine")]
    assert any("hide_parameters=True" in e["message"] for e in statements), "the SQL log ran, parameters hidden"
    [sent] = [e for e in entries if "recorded as sent" in e["message"]]
    assert "87 recorded as sent" in sent["message"] and "request_id" not in sent, sent
    # The refused write: logged once, as an error of its request, its database values left out.
    errors = [json.loads(line) for line in log_buffer.getvalue()[start:].splitlines()
              if json.loads(line)["level"] == "ERROR"]
    assert [e["request_id"] for e in errors] == [refused.headers[logs.REQUEST_ID_HEADER]], errors
    failure = errors[0]["exception"]
    assert "IntegrityError" in failure and "ck_patients_language" in failure, failure
    assert "[SQL parameters hidden due to hide_parameters=True]" in failure, failure
    if backend == "postgresql":
        assert "SQLSTATE 23514" in failure and "Failing row" not in failure, failure


def test_the_request_id_is_the_callers_when_sane_else_a_new_one_on_every_answer(client, log_buffer):
    traced = Traced(client, log_buffer)  # the lines each request logs carry the id answered

    def answered(path: str, request_id: str | None = None) -> str:
        headers = {logs.REQUEST_ID_HEADER: request_id} if request_id is not None else {}
        answer = traced.get(path, headers=headers)
        return answer.headers[logs.REQUEST_ID_HEADER]

    for sane in ("client-trace_01.abc", "a" * 8, "Z" * 128, "0f8a2c1e-5d6b-4e1f-9a7b-3c2d1e0f9a8b"):
        assert answered("/readyz", sane) == sane
    assert traced.lines_in_requests > 0, "the readiness check's SQL is logged, with the caller's id"
    for insane in ("x" * 500, "has spaces in it", "short", "a" * 129, "semi;colon-1234", "", "ünïcode-123"):
        generated = answered("/readyz", insane)
        assert GENERATED_ID.fullmatch(generated), (insane, generated)
    assert GENERATED_ID.fullmatch(answered("/healthz"))
    assert answered("/healthz") != answered("/healthz"), "a new id each request"
    # Refusals too: not found, not signed in.
    assert answered("/api/v1/nowhere", "trace-404-abc") == "trace-404-abc"
    assert answered("/api/v1/patients", "trace-401-abc") == "trace-401-abc"
    assert logs.current_request_id() is None, "the id is forgotten once the request is over"


# --- through gunicorn: the access log

class Gunicorn(GunicornServer):
    """One worker of two threads on a SQLite file, with a JSON request helper."""

    def __init__(self, tmp_path, database_url: str):
        super().__init__(tmp_path, cli_environment(DATABASE_URL=database_url), workers=1, threads=2)
        self.start()

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        call = urllib.request.Request(self.base_url + path, data=data, method=method,
                                      headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with self._opener.open(call, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")

    def output(self) -> str:
        """Every line both logs hold, whole (the base class keeps a tail, for failure messages)."""
        return self.out_path.read_text() + self.err_path.read_text()

    def access_lines(self) -> list[str]:
        return self.out_path.read_text().splitlines()


@pytest.fixture
def gunicorn(tmp_path, sqlite_template):
    if not GUNICORN.exists():
        pytest.skip(f"{GUNICORN} is missing; run `python3 dev.py test` to create it")
    path = tmp_path / "web.db"
    shutil.copy(sqlite_template, path)  # migrated, as `flask --app wsgi db upgrade` leaves it
    url = f"sqlite:///{path}"
    components = bootstrap(Settings(database_url=url, env="test", secret_key="test-secret"))
    seed_demo(components.runtime)  # as `flask --app wsgi seed-demo`
    components.engine.dispose()
    server = Gunicorn(tmp_path, url)
    yield server
    server.stop()


def test_gunicorns_access_log_is_json_without_the_query_string_and_with_the_request_id(gunicorn):
    gunicorn.wait_ready()
    username, password = DEMO_PASSWORDS["front_desk"]
    status, _headers, body = gunicorn.request("POST", "/api/v1/auth/tokens",
                                              {"username": username, "password": password})
    assert status == 201, body
    signed = {"Authorization": f"Bearer {body['token']}"}
    status, _headers, body = gunicorn.request("POST", "/api/v1/patients", {
        "first_name": FIRST, "last_name": LAST, "date_of_birth": BORN, "phone": PHONE}, signed)
    assert status == 201, body
    searches = {}
    for q, request_id in ((FIRST, "search-by-name-0001"), ("7145550187", None), (PHONE, "bad id, replaced")):
        headers = {**signed, **({logs.REQUEST_ID_HEADER: request_id} if request_id else {})}
        status, answered, body = gunicorn.request("GET", "/api/v1/patients?" + urllib.parse.urlencode({"q": q}),
                                                  headers=headers)
        assert status == 200 and [p["first_name"] for p in body] == [FIRST], (q, status, body)
        searches[q] = answered[logs.REQUEST_ID_HEADER]
    assert searches[FIRST] == "search-by-name-0001"
    assert GENERATED_ID.fullmatch(searches["7145550187"]) and GENERATED_ID.fullmatch(searches[PHONE])

    gunicorn.stop()  # the access lines are all written once it has stopped
    output = gunicorn.output()
    lines = [line for line in output.splitlines() if line.strip()]
    for line in lines:
        entry = json.loads(line)  # every line of both logs is one JSON object
        assert {"time", "level", "logger", "message"} <= set(entry), line
    assert_nothing_private(lines)
    assert not [line for line in gunicorn.access_lines() if "?" in line or "q=" in line]
    assert any("tms_scheduler ready on sqlite:///" in json.loads(line)["message"] for line in lines), output
    access = [json.loads(line) for line in gunicorn.access_lines()]
    assert all(entry["logger"] == "gunicorn.access" for entry in access), access
    found = [entry for entry in access if (entry["method"], entry["path"]) == ("GET", "/api/v1/patients")]
    assert [entry["request_id"] for entry in found] == list(searches.values()), found
    for entry in found:
        assert entry["status"] == 200 and isinstance(entry["duration_ms"], int) and entry["remote"] == "127.0.0.1"
        assert entry["message"].startswith("127.0.0.1 GET /api/v1/patients 200 "), entry
