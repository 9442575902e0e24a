"""Domain errors become HTTP answers here, and only here, in flask-smorest's shape."""
from __future__ import annotations

from http import HTTPStatus

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from ..domain.errors import BookingConflict, DomainError, DuplicatePatient


def error_body(code: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


def _summary(errors) -> str | None:
    """One line naming each refused field and why, from webargs' nested messages."""
    parts: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, [*path, str(key)] if key not in ("json", "query", "form") else path)
        elif isinstance(node, list) and node and all(isinstance(m, str) for m in node):
            parts.append(f"{'.'.join(path) or 'body'}: {' '.join(node)}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, [*path, str(i)])

    walk(errors, [])
    return "; ".join(parts) or None


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
