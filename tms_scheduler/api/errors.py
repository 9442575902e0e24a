"""Domain errors become HTTP answers here, and only here, in flask-smorest's shape."""
from __future__ import annotations

from http import HTTPStatus

from flask import Flask, jsonify

from ..domain.errors import BookingConflict, DomainError


def error_body(code: int, message: str, errors: dict | None = None) -> dict:
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        body = error_body(exc.http_status, exc.message, exc.errors)
        if isinstance(exc, BookingConflict):
            body["conflicts"] = [c.as_dict() for c in exc.conflicts]
            body["alternatives"] = exc.alternatives
        return jsonify(body), exc.http_status
