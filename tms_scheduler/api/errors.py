"""Domain errors become HTTP answers here, and only here, in flask-smorest's shape."""
from __future__ import annotations

import json
import logging
import sqlite3
from http import HTTPStatus
from typing import Any

import psycopg
from flask import Flask, jsonify
from gunicorn import util as gunicorn_util  # type: ignore[import-untyped]
from gunicorn.http import errors as gunicorn_errors  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from ..domain.errors import BookingConflict, DomainError, DuplicatePatient

log = logging.getLogger(__name__)

# A lost, refused or shut-down database connection is answered 503 with this Retry-After (seconds).
DATABASE_RETRY_AFTER_SECONDS = 5
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly"
# PostgreSQL's SQLSTATEs for a server going away or not taking connections: class 08 (connection
# exception) by prefix; admin_shutdown, crash_shutdown, cannot_connect_now; too_many_connections.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08",)
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_SQLITE_BUSY = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})
# What gunicorn raises while the app reads a chunked body that breaks HTTP's rules.
MALFORMED_CHUNKS = (gunicorn_errors.InvalidChunkSize, gunicorn_errors.ChunkMissingTerminator,
                    gunicorn_errors.InvalidChunkExtension)


# webargs nests its messages under where it read them; the answer names fields alone.
_LOCATIONS = frozenset({"json", "query", "form", "view_args", "headers", "cookies", "files", "json_or_form"})
WHOLE_INPUT = "_schema"  # marshmallow's key for what is wrong with a body or query as a whole


def flat_errors(errors: Any) -> dict[str, str]:
    """Every refusal's `errors` in one shape: {"field.path": "why"}, a path's parts joined by dots
    (a list item by its index: "phases.0.sessions"), several reasons for one field joined by a space,
    and `_schema` for the body or query string as a whole. webargs' nested messages
    ({"json": {"phases": {0: {"sessions": ["..."]}}}}) and the service's ({"field": "why"}) alike."""
    flat: dict[str, list[str]] = {}

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path if not path and key in _LOCATIONS else [*path, str(key)])
        elif isinstance(node, list | tuple) and all(isinstance(item, str) for item in node):
            if node:
                flat.setdefault(".".join(path) or WHOLE_INPUT, []).extend(node)
        elif isinstance(node, list | tuple):
            for i, item in enumerate(node):
                walk(item, [*path, str(i)])
        elif node is not None:
            flat.setdefault(".".join(path) or WHOLE_INPUT, []).append(str(node))

    walk(errors or {}, [])
    return {path: " ".join(reasons) for path, reasons in flat.items()}


def error_body(code: int, message: str, errors: Any = None) -> dict:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    flat = flat_errors(errors)
    if flat:
        body["errors"] = flat
    return body


def _summary(errors: Any) -> str | None:
    """One line naming each refused field and why."""
    return "; ".join(f"{path if path != WHOLE_INPUT else 'body'}: {why}"
                     for path, why in flat_errors(errors).items()) or None


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or went away (worth a retry later), as
    opposed to a statement the database refused, which stays the programming error it is (500)."""
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # a dead connection; the pool full
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:  # SQLAlchemy saw the connection die under the statement
        return True
    orig = exc.orig
    if isinstance(orig, psycopg.Error):
        state = orig.sqlstate
        if state is not None:
            return state.startswith(_UNAVAILABLE_SQLSTATE_CLASSES) or state in _UNAVAILABLE_SQLSTATES
        # No SQLSTATE: libpq's own failure (refused, timed out, the server closed the connection).
        return isinstance(orig, psycopg.OperationalError)
    if isinstance(orig, sqlite3.OperationalError):  # the write lock still held after the busy timeout
        return getattr(orig, "sqlite_errorname", None) in _SQLITE_BUSY or "database is locked" in str(orig)
    return False


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # flask-smorest's shape, with a message always there: every refusal says why.
        data = getattr(exc, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        code = exc.code or 500
        message = data.get("message") or _summary(errors) or exc.description or HTTPStatus(code).phrase
        response = jsonify(error_body(code, message, errors))
        response.status_code = code
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        body = error_body(exc.http_status, exc.message, exc.errors)
        if isinstance(exc, BookingConflict):
            body["conflicts"] = [c.as_dict() for c in exc.conflicts]
            body["alternatives"] = exc.alternatives
            body["next_start"] = exc.next_start.as_dict() if exc.next_start else None
        if isinstance(exc, DuplicatePatient):
            body["existing_patient_id"] = exc.existing_patient_id
        return jsonify(body), exc.http_status

    def _database_error(exc: Exception):
        if not database_unavailable(exc):
            raise exc  # a genuine error: Flask's 500, logged with its traceback
        # The unit of work that failed was rolled back whole (services' transaction()); nothing was written.
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
        log.warning("database unavailable, answered 503: %s: %s", cause.__class__.__name__,
                    str(cause).strip().splitlines()[0] if str(cause).strip() else "")
        response = jsonify(error_body(HTTPStatus.SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE))
        response.status_code = HTTPStatus.SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response

    for error_class in (sa_exc.DBAPIError, sa_exc.DisconnectionError, sa_exc.TimeoutError):
        app.register_error_handler(error_class, _database_error)

    def _malformed_body(exc: Exception):
        # gunicorn decodes a chunked body as the app reads it: a broken chunk surfaces here, not in gunicorn.
        response = jsonify(error_body(HTTPStatus.BAD_REQUEST, f"The chunked body is malformed: {exc}"))
        response.status_code = HTTPStatus.BAD_REQUEST
        response.headers["Connection"] = "close"
        return response

    for error_class in MALFORMED_CHUNKS:
        app.register_error_handler(error_class, _malformed_body)


def write_gunicorn_refusal(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's `util.write_error`, answering in the API's JSON error shape instead of HTML.

    gunicorn refuses some requests before the app sees them: a request line over
    `limit_request_line` (414), headers over `limit_request_fields` or `limit_request_field_size`
    (431), a malformed request line, header or chunk (400), an unsupported transfer coding (501)."""
    body = json.dumps(error_body(status_int, mesg or reason)).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


def answer_gunicorn_refusals_as_json() -> None:
    """Makes this gunicorn worker answer its own refusals as JSON (config/gunicorn.conf.py calls it
    in post_worker_init). gunicorn looks the function up at each refusal, so replacing it is enough."""
    gunicorn_util.write_error = write_gunicorn_refusal
