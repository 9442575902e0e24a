"""The OpenAPI description's conventions, applied to every operation and schema in one place.

- Each operation gets its id and the roles that may call it from the permission table, and the
  refusals it can answer: 401 and 403 (signed-in operations), 404 (an id or site in its path), 400,
  413 and 415 (a body), 422 (a body or a query string), 503 (the database unreachable); a view
  declares its own 404, 409 and 422 (with what they mean there) with `alt_response`.
- One error schema, `Error`: flask-smorest's default error response and every refusal use it; the
  two refusals that say more (a booking conflict, a duplicate patient) extend it with `allOf`.
- An answer schema (schemas.Answer) lists as required every field each answer carries, and does
  not forbid fields the API may add later.
- A nested object that may be null is `allOf: [$ref]` with `nullable: true` (not apispec's `anyOf`
  with a bare object, which generated clients read as an untyped dict).
- /healthz, /readyz and /metrics are described too.
"""
from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
from apispec.ext.marshmallow import MarshmallowPlugin, OpenAPIConverter
from flask import Flask
from flask_smorest import Api
from marshmallow import Schema

from . import inputs, permissions, schemas

ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": ERROR_CONTENT}


# The refusals any operation of a kind can answer, as components the operations refer to.
RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": _refusal("the body is not JSON, or nests arrays and objects deeper than 32 levels"),
    "Unauthorized": _refusal("no valid bearer token"),
    "Forbidden": _refusal("the caller's role may not do this"),
    "NotFound": _refusal("no such id (an id is 1 to 2147483647), or no such site"),
    "PayloadTooLarge": _refusal("the body is over 1 MiB"),
    "UnsupportedMediaType": _refusal("the body is not sent as application/json"),
    "UnprocessableEntity": _refusal("a field is refused: `errors` names each with why"),
    "ServiceUnavailable": {**_refusal("the database is unreachable; try again after Retry-After seconds"),
                           "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                       "description": "seconds to wait"}}},
}


_ENUM_NAMES = {tuple(values): name for name, values in schemas.ENUMS.items()}
_ANNOTATIONS = ("description", "readOnly", "writeOnly", "default", "example")


class DescribedApi(Api):
    """flask-smorest's Api with the service's one error schema."""

    ERROR_SCHEMA = schemas.Error


def _schema_of(field: Any) -> Any:
    """The schema a field belongs to, through the lists and dicts it may be inside."""
    owner = field.parent
    while owner is not None and not isinstance(owner, Schema):
        owner = owner.parent
    return owner


class DescriptionConverter(OpenAPIConverter):
    def field2property(self, field: Any) -> dict[str, Any]:
        """A field whose values are one of schemas.ENUMS refers to that enum's component (one
        SessionStatus for every status of a session, not one enum per field). Text the API takes
        says, as a pattern, which control characters it refuses, and a date or instant its years
        (api/inputs.py)."""
        ret = super().field2property(field)
        if not field.dump_only and not isinstance(_schema_of(field), schemas.Answer) and "pattern" not in ret:
            if isinstance(field, inputs.String) and "enum" not in ret:
                ret["pattern"] = inputs.FREE_TEXT_PATTERN if field.free_text else inputs.SINGLE_LINE_PATTERN
            elif isinstance(field, inputs.Date | inputs.AwareDateTime):
                ret["pattern"] = inputs.YEARS_PATTERN
        values = tuple(value for value in ret.get("enum", ()) if value is not None)
        name = _ENUM_NAMES.get(values)
        if name is None:
            return ret
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, {"type": "string", "enum": list(values)})
        ref = self.spec.components.get_ref("schema", name)
        notes = {key: value for key, value in ret.items() if key in _ANNOTATIONS}
        if field.allow_none:
            notes["nullable"] = True
        return {**notes, "allOf": [ref]} if notes else ref

    def field2nullable(self, field: Any, ret: dict[str, Any]) -> dict[str, Any]:
        if field.allow_none and ("$ref" in ret or "allOf" in ret):
            members = ret.pop("allOf", None) or [{"$ref": ret.pop("$ref")}]
            return {"allOf": members, "nullable": True}
        if field.allow_none and "enum" in ret:
            return {}  # null is in the enum already; `nullable` too would read as more types than there are
        return super().field2nullable(field, ret)

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema = super().schema2jsonschema(schema)
        cls = schema if isinstance(schema, type) else type(schema)
        if issubclass(cls, schemas.NotEmpty):
            jsonschema["minProperties"] = 1
        if not issubclass(cls, schemas.Answer):
            return jsonschema
        properties = jsonschema["properties"]
        jsonschema["required"] = sorted(name for name, prop in properties.items()
                                        if name not in cls.sometimes and not prop.get("writeOnly"))
        if not jsonschema["required"]:
            del jsonschema["required"]
        jsonschema.pop("additionalProperties", None)  # answers may gain fields (API.md)
        if issubclass(cls, schemas.Error) and cls is not schemas.Error:
            base = set(schemas.Error._declared_fields)
            own = {name: prop for name, prop in properties.items() if name not in base}
            extension: dict[str, Any] = {"type": "object", "properties": own}
            own_required = [name for name in jsonschema.get("required", ()) if name in own]
            if own_required:
                extension["required"] = own_required
            return {"allOf": [self.resolve_nested_schema(schemas.Error), extension]}
        return jsonschema


class DescriptionPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin with the conventions above."""

    Converter = DescriptionConverter


class PermissionsPlugin(BasePlugin):
    """Names each operation, says who may call it (permissions.OPERATIONS) and what it can refuse."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or operations is None:
            return
        for method, operation in operations.items():
            op = permissions.operation_for(method.upper(), rule.rule)
            if op is None:
                continue
            operation["operationId"] = op.id
            who = permissions.allowed_phrase(op)
            operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{who}".strip()
            responses = operation.setdefault("responses", {})
            if op.allowed != permissions.PUBLIC:
                responses.setdefault("401", "Unauthorized")
                if op.allowed != permissions.SIGNED_IN:
                    responses.setdefault("403", "Forbidden")
            if rule.arguments:
                responses.setdefault("404", "NotFound")
            has_body = "requestBody" in operation
            if has_body:
                responses.setdefault("400", "BadRequest")
                responses.setdefault("413", "PayloadTooLarge")
                responses.setdefault("415", "UnsupportedMediaType")
            if has_body or any(p.get("in") == "query" for p in operation.get("parameters", [])):
                responses.setdefault("422", "UnprocessableEntity")
            responses.setdefault("503", "ServiceUnavailable")


def check_every_route_has_a_rule(app: Flask) -> None:
    """Refuses an app whose API has a route without a permission rule, or a rule without a route."""
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    unruled = routes - set(permissions.BY_ROUTE)
    unrouted = set(permissions.BY_ROUTE) - routes
    if unruled or unrouted:
        raise RuntimeError(f"permissions.OPERATIONS is out of step with the routes: no rule for {sorted(unruled)}; "
                           f"no route for {sorted(unrouted)}")


def describe_health(spec: APISpec, app: Flask) -> None:
    """/healthz, /readyz and /metrics in the description: no sign-in, outside /api/v1."""
    public = {"security": [], "tags": ["health"]}
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}

    def json_answer(description: str, schema: type) -> dict[str, Any]:
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    spec.path(rule=rules["/healthz"], operations={"get": {
        **public, "operationId": "getHealth", "summary": "The process is up",
        "description": "Answers 200 while the web process runs; reads no database.\n\nNo sign-in needed.",
        "responses": {"200": json_answer("up", schemas.Health)}}})
    spec.path(rule=rules["/readyz"], operations={"get": {
        **public, "operationId": "getReadiness", "summary": "The database is reachable and at the newest migration",
        "description": "200 when the database answers and is at the migration this code expects; 503 otherwise, "
                       "with the reason and Retry-After.\n\nNo sign-in needed.",
        "responses": {"200": json_answer("ready", schemas.Ready),
                      "503": {**json_answer("not ready", schemas.NotReady),
                              "headers": RESPONSES["ServiceUnavailable"]["headers"]}}}})
    spec.path(rule=rules["/metrics"], operations={"get": {
        **public, "operationId": "getMetrics", "summary": "Metrics in Prometheus' text format",
        "description": "Requests answered (tms_http_requests_total, by method, route and status) and their "
                       "latency (tms_http_request_seconds, by route).\n\nNo sign-in needed.",
        "responses": {"200": {"description": "Prometheus text exposition format 0.0.4",
                              "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
