"""Input the databases cannot hold, or that would take the service down, is refused in the JSON error
shape, alike on SQLite and PostgreSQL, and writes nothing: ids past PostgreSQL's integer, NUL and
unpaired surrogates, years far from now, deeply nested or oversized bodies, bodies that are not JSON.
The last tests send the same through real gunicorn (config/gunicorn.conf.py), whose own refusals
are JSON too."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import socket
from http import HTTPStatus

import pytest

from tests.api.test_error_bodies import assert_error_body
from tests.factories import book_course, create_patient, error_fields, patient_body, session_number, writes_nothing
from tests.integration.conftest import GunicornServer, cli_environment
from tms_scheduler.api.inputs import MAX_ID, MAX_JSON_DEPTH

TOO_BIG_IDS = [MAX_ID + 1, 2**63, 2**64 + 1, -1, 0]
TWO_MIB = 2 * 1024 * 1024


def refused(answer, code: int, *fields: str) -> None:
    """The answer is `code` in the error shape and, for each of `fields`, names it in `errors`."""
    assert_error_body(answer, code)
    missing = set(fields) - error_fields(answer)
    assert not missing, f"{missing} not in errors: {answer.json}"


# --- ids, limit and offset

@pytest.mark.parametrize("bad_id", TOO_BIG_IDS)
@pytest.mark.parametrize("method,template", [
    ("GET", "/api/v1/patients/{}"), ("PATCH", "/api/v1/patients/{}"), ("GET", "/api/v1/courses/{}"),
    ("GET", "/api/v1/courses/{}/progress"), ("POST", "/api/v1/courses/{}/cancel"), ("GET", "/api/v1/sessions/{}"),
    ("POST", "/api/v1/sessions/{}/check-in"), ("POST", "/api/v1/reminders/{}/resend"),
    ("PATCH", "/api/v1/sites/fullerton/chairs/{}"),
])
def test_an_id_out_of_range_in_a_path_is_404(admin, db, method, template, bad_id):
    with writes_nothing(db):
        answer = admin.open(template.format(bad_id), method=method, json={"reason": "x", "first_name": "Ana"})

    refused(answer, 404)


def test_the_largest_id_is_an_unknown_one_not_an_error(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.get(f"/api/v1/patients/{MAX_ID}")

    refused(answer, 404)


@pytest.mark.parametrize("site_id", ["Fullerton", "a" * 61, "full%00erton", "full erton", "-fullerton"])
def test_a_site_id_that_is_no_slug_is_404(front_desk, site_id):
    refused(front_desk.get(f"/api/v1/sites/{site_id}/schedule?date=2027-03-01"), 404)


@pytest.mark.parametrize("bad_id", [MAX_ID + 1, 2**63, -1, 0])
def test_an_id_out_of_range_in_a_body_is_422(front_desk, db, bad_id):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/courses", json={
            "patient_id": bad_id, "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": "2027-03-01", "preferred_time": "09:00"})

    refused(answer, 422, "patient_id")


@pytest.mark.parametrize("query,field", [
    (f"patient_id={MAX_ID + 1}", "patient_id"), (f"patient_id={2**63}", "patient_id"), ("patient_id=-1", "patient_id"),
    ("limit=0", "limit"), ("limit=501", "limit"), (f"limit={2**63}", "limit"), ("offset=-1", "offset"),
    (f"offset={MAX_ID + 1}", "offset"), (f"offset={2**63}", "offset"),
])
def test_an_id_limit_or_offset_out_of_range_in_a_query_is_422(front_desk, query, field):
    refused(front_desk.get(f"/api/v1/courses?{query}"), 422, field)


@pytest.mark.parametrize("path", ["/api/v1/courses?limt=5", "/api/v1/patients?q=ana&sort=name",
                                  "/api/v1/sites/fullerton/schedule?date=2026-12-01&day=2026-12-02"])
def test_a_query_parameter_the_operation_does_not_take_is_422(front_desk, path):
    unknown = path.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]

    refused(front_desk.get(path), 422, unknown)


def test_the_largest_offset_answers_nothing(front_desk):
    create_patient(front_desk)

    answer = front_desk.get(f"/api/v1/patients?offset={MAX_ID}&limit=500")

    assert answer.status_code == 200, answer.json
    assert answer.json == []


# --- text

@pytest.mark.parametrize("name,why", [
    ("Ana\x00", "NUL"), ("\x00", "NUL"), ("Ana\x07", "control"), ("Ana\tMaria", "control"), ("Ana\nMaria", "control"),
])
def test_a_name_with_nul_or_a_control_character_is_422(front_desk, db, name, why):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(first_name=name))

    refused(answer, 422, "first_name")
    assert why in answer.json["errors"]["first_name"]


@pytest.mark.parametrize("escaped", ["\\ud800", "Ana\\udfff", "\\udc00\\ud800"])
def test_an_unpaired_surrogate_sent_as_a_json_escape_is_422(front_desk, db, escaped):
    body = json.dumps(patient_body()).replace('"Ana"', f'"{escaped}"', 1)

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", data=body, content_type="application/json")

    refused(answer, 422, "first_name")
    assert "surrogate" in answer.json["errors"]["first_name"]


def test_a_surrogate_pair_is_one_character_and_welcome(front_desk):
    body = json.dumps(patient_body(last_name="Lopez")).replace('"Lopez"', '"Lopez \\ud83d\\ude00"', 1)

    answer = front_desk.post("/api/v1/patients", data=body, content_type="application/json")

    assert answer.status_code == 201, answer.json
    assert answer.json["last_name"] == "Lopez \U0001F600"


def test_nul_in_a_nested_field_or_a_list_item_is_422(front_desk, admin, db):
    patient = create_patient(front_desk)
    with writes_nothing(db):
        nested = front_desk.post("/api/v1/courses", json={
            "patient_id": patient["id"], "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": "2027-03-01", "preferred_time": "09:00", "authorization": {"payer": "Aetna\x00"}})
        listed = admin.post("/api/v1/sites/fullerton/closures", json={"date": "2027-03-02", "reason": "\x00"})

    refused(nested, 422, "authorization.payer")
    refused(listed, 422, "reason")


@pytest.mark.parametrize("query", ["q=%00", "q=Ana%00", "q=%07"])
def test_nul_or_a_control_character_in_a_query_string_is_422(front_desk, query):
    refused(front_desk.get(f"/api/v1/patients?{query}"), 422, "q")


def test_free_text_keeps_its_line_breaks_and_tabs(front_desk):
    course = book_course(front_desk)
    session = session_number(course, 5)

    answer = front_desk.post(f"/api/v1/sessions/{session['id']}/cancel",
                             json={"reason": "called in:\n\tfever", "by": "patient"})

    assert answer.status_code == 200, answer.json


def test_free_text_still_refuses_nul(front_desk, db):
    course = book_course(front_desk)
    session = session_number(course, 5)

    with writes_nothing(db):
        answer = front_desk.post(f"/api/v1/sessions/{session['id']}/cancel",
                                 json={"reason": "called\x00in", "by": "patient"})

    refused(answer, 422, "reason")


# --- dates, instants and times

@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_a_birth_date_outside_1900_to_2100_is_422(front_desk, db, day):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", json=patient_body(date_of_birth=day))

    refused(answer, 422, "date_of_birth")
    assert "1900 to 2100" in answer.json["errors"]["date_of_birth"]


def test_a_birth_date_in_1900_is_taken(front_desk):
    answer = front_desk.post("/api/v1/patients", json=patient_body(date_of_birth="1900-01-01"))

    assert answer.status_code == 201, answer.json


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_start_date_or_a_days_board_far_from_now_is_422(front_desk, db, day):
    patient = create_patient(front_desk)
    with writes_nothing(db):
        booking = front_desk.post("/api/v1/courses", json={
            "patient_id": patient["id"], "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": day, "preferred_time": "09:00"})
        board = front_desk.get(f"/api/v1/sites/fullerton/schedule?date={day}")
        starts = front_desk.get(f"/api/v1/availability?protocol_id=tms-10hz-standard&from_date={day}&time=09:00")

    refused(booking, 422, "start_date")
    refused(board, 422, "date")
    refused(starts, 422, "from_date")


@pytest.mark.parametrize("instant", ["0001-01-01T09:00:00+00:00", "9999-12-31T23:00:00-08:00",
                                     "2101-01-01T09:00:00-08:00"])
def test_an_instant_far_from_now_is_422(front_desk, db, instant):
    session = session_number(book_course(front_desk), 5)

    with writes_nothing(db):
        answer = front_desk.post(f"/api/v1/sessions/{session['id']}/reschedule", json={"starts_at": instant})

    refused(answer, 422, "starts_at")


@pytest.mark.parametrize("hhmm", ["9:00", "24:00", "09:60", "09:00:00", "0900", "", 900])
def test_a_time_not_in_hh_mm_is_422(front_desk, db, hhmm):
    patient = create_patient(front_desk)
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/courses", json={
            "patient_id": patient["id"], "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": "2027-03-01", "preferred_time": hhmm})

    refused(answer, 422, "preferred_time")


# --- bodies

def test_ten_thousand_nested_brackets_are_400(front_desk, db):
    with writes_nothing(db):
        arrays = front_desk.post("/api/v1/patients", data="[" * 10_000 + "]" * 10_000, content_type="application/json")
        objects = front_desk.post("/api/v1/patients", data='{"a":' * 10_000 + "1" + "}" * 10_000,
                                  content_type="application/json")
        unclosed = front_desk.post("/api/v1/patients", data="[" * 10_000, content_type="application/json")

    for answer in (arrays, objects, unclosed):
        refused(answer, 400)
        assert "nests" in answer.json["message"]


def test_nesting_past_the_limit_is_400_and_up_to_it_is_read(front_desk, db):
    deep = {"first_name": "Ana"}
    for _ in range(MAX_JSON_DEPTH):  # MAX_JSON_DEPTH + 1 levels of objects
        deep = {"a": deep}
    shallow = patient_body(another_person=True, notes=[[["x"]]])

    with writes_nothing(db):
        too_deep = front_desk.post("/api/v1/patients", json=deep)
        read = front_desk.post("/api/v1/patients", json=shallow)

    refused(too_deep, 400)
    refused(read, 422, "notes")  # parsed, then refused as an unknown field


def test_brackets_inside_strings_do_not_count_as_nesting(front_desk):
    answer = front_desk.post("/api/v1/patients", json=patient_body(last_name="[" * 90 + '"{' * 20))

    refused(answer, 422, "last_name")  # too long a name, not too deep a body


@pytest.mark.parametrize("raw", ['{"first_name": NaN}', '{"first_name": Infinity}', '{"first_name": -Infinity}',
                                 '{"patient_id": ' + "9" * 5000 + "}", "{", '{"a": 1,}'])
def test_a_body_that_is_not_json_is_400(front_desk, db, raw):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/courses", data=raw, content_type="application/json")

    refused(answer, 400)


def test_a_body_that_is_not_utf8_is_400(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", data=b'{"first_name": "\xff"}', content_type="application/json")

    refused(answer, 400)


def test_a_chunked_body_over_1_mib_is_413(front_desk, db):
    """Transfer-Encoding: chunked, no Content-Length, as gunicorn hands it over (wsgi.input_terminated)."""
    body = json.dumps(patient_body(notes="x" * TWO_MIB)).encode()

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", input_stream=io.BytesIO(body),
                                 headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                                 environ_overrides={"wsgi.input_terminated": True})

    refused(answer, 413)


def test_a_chunked_body_under_1_mib_is_read(front_desk):
    body = json.dumps(patient_body()).encode()

    answer = front_desk.post("/api/v1/patients", input_stream=io.BytesIO(body),
                             headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                             environ_overrides={"wsgi.input_terminated": True})

    assert answer.status_code == 201, answer.json


def test_a_chunked_body_the_server_cannot_bound_is_refused_not_read_as_empty(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", input_stream=io.BytesIO(b"{}"),
                                 headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"})

    refused(answer, 411)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml", None])
def test_a_body_that_is_not_sent_as_json_is_415(front_desk, db, content_type):
    body = json.dumps(patient_body())
    headers = {"Content-Type": content_type} if content_type else {}

    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", data=body, headers=headers)

    refused(answer, 415)


def test_a_form_post_is_415(front_desk, db):
    with writes_nothing(db):
        answer = front_desk.post("/api/v1/patients", data={"first_name": "Ana"})

    refused(answer, 415)


def test_a_json_media_type_with_a_charset_or_a_suffix_is_json(front_desk):
    body = json.dumps(patient_body())

    with_charset = front_desk.post("/api/v1/patients", data=body, content_type="application/json; charset=utf-8")
    suffixed = front_desk.post("/api/v1/patients", data=json.dumps(patient_body()),
                               content_type="application/merge-patch+json")

    assert with_charset.status_code == 201, with_charset.json
    assert suffixed.status_code == 201, suffixed.json


def test_a_post_without_a_body_needs_no_content_type(front_desk):
    session = session_number(book_course(front_desk), 1)

    answer = front_desk.post(f"/api/v1/sessions/{session['id']}/check-in")

    refused(answer, 409)  # read, and refused for the day, not for the missing body or its type


def test_twilios_form_posts_are_not_refused_as_not_json(client):
    answer = client.post("/webhooks/twilio/inbound", data={"MessageSid": "SM1", "From": "+17145550101", "Body": "C"})

    assert answer.status_code == 403  # unsigned: refused for that, not for being a form


# --- empty changes

@pytest.mark.parametrize("path", ["/api/v1/patients/{patient}", "/api/v1/sites/fullerton",
                                  "/api/v1/sites/fullerton/chairs/{chair}"])
def test_a_patch_with_an_empty_body_is_422(admin, front_desk, db, path):
    patient = create_patient(front_desk)
    chair = admin.get("/api/v1/sites/fullerton/chairs").json[0]
    url = path.format(patient=patient["id"], chair=chair["id"])

    with writes_nothing(db):
        empty_object = admin.patch(url, json={})
        no_body = admin.patch(url)

    refused(empty_object, 422, "_schema")
    refused(no_body, 422)


# --- one shape of `errors`

def test_validation_and_rule_errors_name_fields_alike(admin):
    validation = admin.post("/api/v1/protocols", json={
        "id": "p1", "name": "P", "coil": "h1", "mapping_minutes": 60, "session_minutes": 20,
        "phases": [{"sessions": 0, "days_per_week": 5}]})
    rule = admin.post("/api/v1/protocols", json={
        "id": "p2", "name": "P", "coil": "h1", "mapping_minutes": 60, "session_minutes": 20, "sessions_per_day": 2,
        "phases": [{"sessions": 10, "days_per_week": 5}, {"sessions": 3, "days_per_week": 2}]})

    refused(validation, 422)
    refused(rule, 422)
    assert set(validation.json["errors"]) == {"phases.0.sessions"}
    assert set(rule.json["errors"]) == {"sessions_per_day"}
    for answer in (validation, rule):
        assert all(isinstance(why, str) and why for why in answer.json["errors"].values()), answer.json


# --- through gunicorn

@pytest.fixture
def gunicorn(tmp_path, sqlite_template):
    """`gunicorn --config config/gunicorn.conf.py wsgi:app` (one worker) on a migrated SQLite file; (host, port)."""
    database = tmp_path / "tms.db"
    shutil.copy(sqlite_template, database)
    server = GunicornServer(tmp_path, cli_environment(DATABASE_URL=f"sqlite:///{database}"), workers=1, threads=2)
    try:
        server.start().wait_ready()
        host, _, port = server.base_url.removeprefix("http://").partition(":")
        yield (host, int(port))
    finally:
        server.stop()


def _raw(address, request: bytes, chunks=()) -> tuple[int, dict[str, str], bytes]:
    """Sends `request` (then each of `chunks`, chunked) over a socket of its own; the status, headers, body."""
    try:
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(request)
            with contextlib.suppress(OSError):  # the server may answer and close before reading it all
                for chunk in chunks:
                    sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                if chunks:
                    sock.sendall(b"0\r\n\r\n")
            raw = b""
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                raw += data
                head, _, body = raw.partition(b"\r\n\r\n")
                length = [line.split(b":", 1)[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= int(length[0]):
                    break
    except OSError:
        return 0, {}, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0]:
        return 0, {}, b""
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _assert_json_error(answer, code: int) -> dict:
    status, headers, body = answer
    assert status == code, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), (headers, body[:300])
    error = json.loads(body)
    assert error["code"] == code
    assert error["status"] == HTTPStatus(code).phrase
    assert error["message"]
    return error


def test_gunicorn_answers_a_chunked_body_over_1_mib_413_in_json(gunicorn):
    head = (b"POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunks = [b'{"notes": "'] + [b"x" * 65536] * (TWO_MIB // 65536) + [b'"}']

    _assert_json_error(_raw(gunicorn, head, chunks), 413)


def test_gunicorn_passes_415_400_and_404_through_in_json(gunicorn):
    text = b"hello"
    plain = _raw(gunicorn, b"POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                           b"Content-Length: %d\r\n\r\n%s" % (len(text), text))
    deep = b"[" * 10_000
    nested = _raw(gunicorn, b"POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\n\r\n%s" % (len(deep), deep))
    huge_id = _raw(gunicorn, f"GET /api/v1/patients/{2**63} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    _assert_json_error(plain, 415)
    _assert_json_error(nested, 400)
    _assert_json_error(huge_id, 404)


def test_gunicorns_own_refusals_are_json_too(gunicorn):
    long_line = _raw(gunicorn, b"GET /api/v1/patients?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    big_header = _raw(gunicorn, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    many_headers = _raw(gunicorn, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                        + b"".join(b"X-H%d: 1\r\n" % i for i in range(200)) + b"\r\n")
    bad_chunk = _raw(gunicorn, b"POST /api/v1/patients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")

    _assert_json_error(long_line, 414)
    _assert_json_error(big_header, 431)
    _assert_json_error(many_headers, 431)
    _assert_json_error(bad_chunk, 400)


# --- every field of every schema

def _fields_of(field):
    yield field
    for attribute in ("inner", "value_field", "key_field"):
        inner = getattr(field, attribute, None)
        if inner is not None:
            yield from _fields_of(inner)


def test_every_text_date_and_instant_field_of_the_api_is_the_bounded_one():
    import marshmallow

    from tms_scheduler.api import inputs, schemas

    loose = []
    for name, schema in vars(schemas).items():
        if not (isinstance(schema, type) and issubclass(schema, marshmallow.Schema)):
            continue
        for field_name, declared in schema._declared_fields.items():
            for field in _fields_of(declared):
                for marshmallow_type, bounded in ((marshmallow.fields.String, inputs.String),
                                                  (marshmallow.fields.Date, inputs.Date),
                                                  (marshmallow.fields.DateTime, (inputs.AwareDateTime,))):
                    if isinstance(field, marshmallow_type) and not isinstance(field, bounded):
                        loose.append(f"{name}.{field_name}: {type(field).__name__}")
    assert not loose, loose
