"""/openapi.json is a description a partner can integrate from: every operation named, with its roles
and its real refusals; ids, paging and text bounded; the clinic's vocabularies as enums taken from
domain/; HH:MM, zone, slug and phone patterns; answers listing their required fields; nullable
nested objects a generator types; one error schema; the health endpoints too."""
from __future__ import annotations

import re

import pytest

from tms_scheduler.api import permissions
from tms_scheduler.domain import reminders
from tms_scheduler.domain.lifecycle import CANCELLED_BY, CANCELLERS, COURSE_STATUSES, SESSION_STATUSES
from tms_scheduler.domain.planning import SESSION_KINDS
from tms_scheduler.domain.progress import FlagCode
from tms_scheduler.domain.protocols import COILS
from tms_scheduler.domain.roles import ROLES

METHODS = ("get", "post", "put", "patch", "delete")
MAX_ID = 2**31 - 1
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
# Fields of answers that are not always there, and why.
SOMETIMES = {("Progress", "phq9"): "left out for the front desk and technicians",
             ("Error", "errors"): "only when a field is to blame"}
# Where each vocabulary of domain/ must show as an enum: (schema, property) -> values.
ENUM_FIELDS = {
    **{(schema, "status"): SESSION_STATUSES for schema in ("Session", "MissedSession", "BoardSession")},
    **{(schema, "kind"): SESSION_KINDS for schema in ("Session", "MissedSession", "BoardSession")},
    ("SessionEvent", "from_status"): SESSION_STATUSES, ("SessionEvent", "to_status"): SESSION_STATUSES,
    **{(schema, "cancelled_by"): CANCELLED_BY for schema in ("Session", "MissedSession")},
    ("CancelSession", "by"): CANCELLERS,
    **{(schema, "status"): COURSE_STATUSES for schema in ("Course", "Progress", "WorklistEntry")},
    **{(schema, "role"): ROLES for schema in ("Token", "User", "UserCreate")},
    **{(schema, "coil"): COILS for schema in ("Chair", "ChairCreate", "BoardChair", "Protocol", "ProtocolCreate")},
    ("Flag", "code"): tuple(FlagCode),
    ("Reminder", "kind"): reminders.KINDS, ("Reminder", "status"): reminders.STATUSES,
    ("ReminderRule", "applies_to"): reminders.APPLIES_TO,
    ("CallbackEntry", "reason"): reminders.CALLBACK_REASONS,
}
HHMM_FIELDS = {("Site", "opens"), ("Site", "closes"), ("SiteCreate", "opens"), ("Course", "preferred_time"),
               ("CourseCreate", "preferred_time"), ("ReminderPolicy", "quiet_start"), ("ReminderPolicy", "quiet_end"),
               ("WeeklyDigest", "time"), ("AvailableTime", "time"), ("NextStart", "time"), ("SiteStart", "time")}


@pytest.fixture(scope="module")
def spec():
    """The description, built once for the module (it does not depend on the database)."""
    import tempfile
    from pathlib import Path

    from tms_scheduler.app import create_app
    from tms_scheduler.db import migrate
    from tms_scheduler.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'spec.db'}"
        migrate.upgrade(url)
        app = create_app(Settings(database_url=url, env="test", secret_key="test-secret"))
        described = app.test_client().get("/openapi.json").json
        app.extensions["tms"].engine.dispose()
    return described


def operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method], item.get("parameters", []) + item[method].get("parameters", [])


def schema_named(spec, ref: dict) -> tuple[str, dict]:
    name = ref["$ref"].rsplit("/", 1)[-1]
    return name, spec["components"]["schemas"][name]


def properties(spec, schema: dict) -> tuple[dict, set[str]]:
    """A schema's properties and required names, an allOf extension's merged with its base's."""
    props, required = dict(schema.get("properties", {})), set(schema.get("required", ()))
    for member in schema.get("allOf", ()):
        inner = schema_named(spec, member)[1] if "$ref" in member else member
        more, more_required = properties(spec, inner)
        props.update(more)
        required |= more_required
    return props, required


def enum_of(spec, prop: dict) -> list | None:
    if "enum" in prop:
        return prop["enum"]
    for ref in ([prop] if "$ref" in prop else prop.get("allOf", [])):
        return enum_of(spec, schema_named(spec, ref)[1])
    return None


def pattern_of(spec, prop: dict) -> str | None:
    if "items" in prop:
        return pattern_of(spec, prop["items"])
    return prop.get("pattern")


def answer_schemas(spec) -> set[str]:
    """Every schema a 2xx answer refers to, and those they nest."""
    return referred(spec, [response for _, _, operation, _ in operations(spec)
                           for status, response in operation["responses"].items() if status.startswith("2")])


def request_schemas(spec) -> set[str]:
    """Every schema a request body refers to, and those they nest."""
    return referred(spec, [operation["requestBody"] for _, _, operation, _ in operations(spec)
                           if "requestBody" in operation])


def referred(spec, roots: list) -> set[str]:
    found: set[str] = set()

    def visit(node):
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/components/schemas/"):
                name = node["$ref"].rsplit("/", 1)[-1]
                if name not in found:
                    found.add(name)
                    visit(spec["components"]["schemas"][name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(roots)
    return found


# --- operations

def test_every_operation_has_a_unique_operation_id(spec):
    ids = [operation.get("operationId") for _, _, operation, _ in operations(spec)]

    assert None not in ids
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_api_operation_says_who_may_call_it(spec):
    for method, path, operation, _ in operations(spec):
        op = next((o for o in permissions.OPERATIONS
                   if o.method == method.upper() and permissions.openapi_path(o.rule) == path), None)
        if path.startswith("/api/v1/"):
            assert op is not None, (method, path)
            assert permissions.allowed_phrase(op) in operation["description"], (method, path)
        else:
            assert operation.get("description"), (method, path)


def test_signed_in_operations_declare_401_and_role_bound_ones_403(spec):
    for method, path, operation, _ in operations(spec):
        op = next((o for o in permissions.OPERATIONS
                   if o.method == method.upper() and permissions.openapi_path(o.rule) == path), None)
        if op is None or op.allowed == permissions.PUBLIC:
            continue
        assert "401" in operation["responses"], (method, path)
        if op.allowed != permissions.SIGNED_IN:
            assert "403" in operation["responses"], (method, path)


def test_operations_declare_their_refusals(spec):
    missing = []
    for method, path, operation, parameters in operations(spec):
        if not path.startswith("/api/v1/"):
            continue
        wanted = {"503"}
        if "{" in path:
            wanted.add("404")
        if "requestBody" in operation:
            wanted |= {"400", "413", "415", "422"}
        if any(p["in"] == "query" for p in parameters):
            wanted.add("422")
        missing += [f"{method.upper()} {path}: {status}" for status in sorted(wanted - set(operation["responses"]))]
    assert not missing, missing


@pytest.mark.parametrize("operation_id,statuses", [
    ("bookCourse", {"404", "409", "422"}), ("registerPatient", {"409", "422"}), ("updatePatient", {"409", "422"}),
    ("checkIn", {"409"}), ("completeSession", {"409"}), ("recordNoShow", {"409"}), ("cancelSession", {"409"}),
    ("rescheduleSession", {"409", "422"}), ("bookMakeup", {"409", "422"}), ("cancelCourse", {"409"}),
    ("pauseCourse", {"409"}), ("resumeCourse", {"409", "422"}), ("resendReminder", {"409"}),
    ("markCallbackDone", {"409"}), ("createSite", {"409", "422"}), ("closeSite", {"409", "422"}),
    ("signIn", {"401", "429"}), ("getTreatmentRecord", {"404"}), ("findNextStarts", {"404", "422"}),
])
def test_operations_declare_the_conflicts_and_rules_the_service_raises(spec, operation_id, statuses):
    (operation,) = [o for _, _, o, _ in operations(spec) if o["operationId"] == operation_id]

    assert statuses <= set(operation["responses"])


def test_ids_in_paths_are_bounded_and_site_ids_are_slugs(spec):
    for method, path, _, parameters in operations(spec):
        for parameter in parameters:
            if parameter["in"] != "path":
                continue
            schema = parameter["schema"]
            if parameter["name"] == "site_id":
                assert schema["pattern"] == r"^[a-z0-9]+(-[a-z0-9]+)*$" and schema["maxLength"] == 60, (method, path)
            else:
                assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, MAX_ID), (method, path)


def test_limit_offset_and_id_parameters_are_bounded(spec):
    for method, path, _, parameters in operations(spec):
        for parameter in parameters:
            schema, name = parameter["schema"], parameter["name"]
            if name == "offset":
                assert (schema["minimum"], schema["maximum"]) == (0, MAX_ID), (method, path)
            elif name == "limit":
                assert schema["minimum"] == 1 and schema["maximum"] <= 500, (method, path)
            elif name.endswith("_id") and schema.get("type") == "integer":
                assert (schema["minimum"], schema["maximum"]) == (1, MAX_ID), (method, path, name)


def test_every_integer_id_in_a_schema_is_bounded(spec):
    for name, schema in spec["components"]["schemas"].items():
        for field, prop in properties(spec, schema)[0].items():
            item = prop.get("items", prop)
            if (field == "id" or field.endswith("_id") or field.endswith("_ids")) and item.get("type") == "integer":
                assert (item.get("minimum"), item.get("maximum")) == (1, MAX_ID), (name, field)


def test_the_health_endpoints_are_described(spec):
    assert spec["paths"]["/healthz"]["get"]["operationId"] == "getHealth"
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}
    assert "text/plain" in spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert spec["paths"][path]["get"]["security"] == [], path


# --- schemas

@pytest.mark.parametrize("schema,field", sorted(ENUM_FIELDS))
def test_the_clinics_vocabularies_are_enums_from_domain(spec, schema, field):
    prop = properties(spec, spec["components"]["schemas"][schema])[0][field]

    assert enum_of(spec, prop) == list(ENUM_FIELDS[schema, field])


def test_each_vocabulary_is_one_named_enum(spec):
    schemas = spec["components"]["schemas"]

    assert schemas["SessionStatus"]["enum"] == list(SESSION_STATUSES)
    assert schemas["CancelledBy"]["enum"] == list(CANCELLED_BY)
    assert schemas["FlagCode"]["enum"] == [code.value for code in FlagCode]
    assert schemas["Role"]["enum"] == list(ROLES)
    assert schemas["Coil"]["enum"] == list(COILS)
    status = properties(spec, schemas["MissedSession"])[0]["status"]
    assert status == {"$ref": "#/components/schemas/SessionStatus"}


def test_a_nullable_enum_is_a_nullable_reference_not_an_enum_with_null(spec):
    cancelled_by = spec["components"]["schemas"]["Session"]["properties"]["cancelled_by"]

    assert cancelled_by["nullable"] is True
    assert cancelled_by["allOf"] == [{"$ref": "#/components/schemas/CancelledBy"}]


@pytest.mark.parametrize("schema,field", sorted(HHMM_FIELDS))
def test_local_times_carry_the_hh_mm_pattern(spec, schema, field):
    assert pattern_of(spec, properties(spec, spec["components"]["schemas"][schema])[0][field]) == HHMM


def test_the_alternative_start_times_and_the_time_parameter_carry_it_too(spec):
    extension = spec["components"]["schemas"]["BookingConflictError"]["allOf"][1]
    (time,) = [p for p in spec["paths"]["/api/v1/availability"]["get"]["parameters"] if p["name"] == "time"]

    assert extension["properties"]["alternatives"]["items"]["pattern"] == HHMM
    assert time["schema"]["pattern"] == HHMM


def test_zones_slugs_and_phones_carry_patterns(spec):
    schemas = spec["components"]["schemas"]
    zone = re.compile(schemas["Site"]["properties"]["timezone"]["pattern"])
    slug = re.compile(schemas["Site"]["properties"]["id"]["pattern"])
    phone = re.compile(schemas["Patient"]["properties"]["phone"]["pattern"])
    site_phone = re.compile(schemas["Site"]["properties"]["phone"]["pattern"])

    assert all(zone.match(z) for z in ("America/Los_Angeles", "UTC", "Etc/GMT+8", "America/Argentina/Buenos_Aires"))
    assert not any(zone.match(z) for z in ("", "America/", "../etc", "Los Angeles"))
    assert slug.match("laguna-hills") and not slug.match("Laguna Hills") and not slug.match("a--b")
    assert phone.match("+17145550100") and not phone.match("(714) 555-0100") and not phone.match("")
    assert site_phone.match("") and site_phone.match("+17145550100")
    assert schemas["SiteCreate"]["properties"]["timezone"]["pattern"] == zone.pattern
    assert schemas["CallbackEntry"]["properties"]["phone"]["pattern"] == phone.pattern


def test_no_schema_is_an_any_of_with_a_bare_object(spec):
    found = []

    def visit(node, where):
        if isinstance(node, dict):
            for member in node.get("anyOf", []) + node.get("oneOf", []):
                if "$ref" not in member and member.get("type") == "object" and not member.get("properties"):
                    found.append(where)
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{where}/{i}")

    visit(spec, "#")
    assert not found, found


def test_nullable_nested_objects_are_all_of_with_nullable(spec):
    schemas = spec["components"]["schemas"]

    assert schemas["Course"]["properties"]["authorization"] == {
        "allOf": [{"$ref": "#/components/schemas/CourseAuthorization"}], "nullable": True}
    assert schemas["MissedSession"]["properties"]["makeup_session"] == {
        "allOf": [{"$ref": "#/components/schemas/Session"}], "nullable": True}


def test_answer_schemas_list_every_field_each_answer_carries_as_required(spec):
    wrong = []
    for name in sorted(answer_schemas(spec)):
        schema = spec["components"]["schemas"][name]
        if "enum" in schema:
            continue
        props, required = properties(spec, schema)
        optional = {field for field, prop in props.items() if field not in required and not prop.get("writeOnly")}
        unexplained = {field for field in optional if (name, field) not in SOMETIMES}
        if not required or unexplained:
            wrong.append(f"{name}: not required {sorted(unexplained)}")
    assert not wrong, wrong


def test_answers_do_not_forbid_fields_the_api_may_add(spec):
    for name in answer_schemas(spec) - request_schemas(spec):  # a request refuses unknown fields
        assert spec["components"]["schemas"][name].get("additionalProperties") is not False, name


def test_there_is_one_error_schema_and_every_refusal_uses_it(spec):
    schemas = spec["components"]["schemas"]
    shaped = [name for name, schema in schemas.items()
              if {"code", "status", "message"} <= set(schema.get("properties", {}))]
    assert shaped == ["Error"]
    assert "ApiError" not in schemas
    assert schemas["Error"]["properties"]["errors"]["additionalProperties"] == {"type": "string"}
    assert set(schemas["Error"]["required"]) == {"code", "status", "message"}

    def error_schema(response):
        if "$ref" in response:
            response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        return response["content"]["application/json"]["schema"]

    for method, path, operation, _ in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or path in ("/readyz",) or "webhooks" in path and status == "200":
                continue
            schema = error_schema(response)
            if schema != {"$ref": "#/components/schemas/Error"}:
                name, extension = schema_named(spec, schema)
                assert extension["allOf"][0] == {"$ref": "#/components/schemas/Error"}, (method, path, status, name)


def test_no_required_list_is_empty(spec):
    empty = []

    def visit(node, where):
        if isinstance(node, dict):
            if node.get("required") == []:
                empty.append(where)
            for key, value in node.items():
                visit(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                visit(value, f"{where}/{i}")

    visit(spec, "#")
    assert not empty, empty  # OpenAPI 3.0: a required list has at least one name


def request_bodies(spec):
    for method, path, operation, _ in operations(spec):
        content = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if content:
            yield method, path, content["schema"]


def test_text_the_api_takes_says_which_control_characters_it_refuses(spec):
    from tms_scheduler.api.inputs import FREE_TEXT_PATTERN, SINGLE_LINE_PATTERN

    patient = spec["components"]["schemas"]["PatientCreate"]["properties"]
    assert patient["first_name"]["pattern"] == SINGLE_LINE_PATTERN
    assert spec["components"]["schemas"]["Reason"]["properties"]["reason"]["pattern"] == FREE_TEXT_PATTERN
    assert re.search(SINGLE_LINE_PATTERN, "Ana María") and not re.search(SINGLE_LINE_PATTERN, "Ana\x00")
    assert re.search(FREE_TEXT_PATTERN, "line\nnext\ttab") and not re.search(FREE_TEXT_PATTERN, "bell\x07")
    # Answers carry what was stored; a pattern there would promise what texts from patients may break.
    assert "pattern" not in spec["components"]["schemas"]["Patient"]["properties"]["first_name"]
    assert "pattern" not in spec["components"]["schemas"]["Error"]["properties"]["message"]


def test_every_date_and_instant_the_api_takes_says_its_years(spec):
    from tms_scheduler.api.inputs import EARLIEST_YEAR, LATEST_YEAR, YEARS_PATTERN

    taken = [(path, name) for _, path, schema in request_bodies(spec) if "$ref" in schema
             for name, prop in schema_named(spec, schema)[1].get("properties", {}).items()
             if prop.get("format") in ("date", "date-time") and not prop.get("readOnly")]
    taken += [(path, parameter["name"]) for _, path, _, parameters in operations(spec) for parameter in parameters
              if parameter["schema"].get("format") in ("date", "date-time")]
    assert len(taken) > 5
    for _, path, schema in request_bodies(spec):
        if "$ref" not in schema:
            continue
        for name, prop in schema_named(spec, schema)[1].get("properties", {}).items():
            if prop.get("format") in ("date", "date-time"):
                assert prop.get("pattern") == YEARS_PATTERN, (path, name)
    for _, path, _, parameters in operations(spec):
        for parameter in parameters:
            if parameter["schema"].get("format") in ("date", "date-time"):
                assert parameter["schema"].get("pattern") == YEARS_PATTERN, (path, parameter["name"])
    years = [year for year in range(1, 10000) if re.match(YEARS_PATTERN, f"{year:04d}-01-01")]
    assert years == list(range(EARLIEST_YEAR, LATEST_YEAR + 1))


def test_a_change_says_it_needs_at_least_one_field(spec):
    patches = [schema for method, _, schema in request_bodies(spec) if method == "patch"]
    assert len(patches) >= 3
    for schema in patches:
        assert schema_named(spec, schema)[1].get("minProperties") == 1, schema


def test_typed_phones_carry_the_pattern_domain_reads(spec):
    from tms_scheduler.api.schemas import TYPED_PHONE

    for name in ("PatientCreate", "PatientPatch"):
        assert spec["components"]["schemas"][name]["properties"]["phone"]["pattern"] == TYPED_PHONE
    assert re.match(TYPED_PHONE, "+1 (714) 555-0100") and not re.match(TYPED_PHONE, "1-800-FLOWERS")
