"""What the API accepts, bounded to what the database and the clinic can hold.

- Ids: 1 to 2**31 - 1 (PostgreSQL's `integer`), in paths (an id out of range matches no route: 404),
  bodies and query strings (422); `limit` 1-500, `offset` 0 to 2**31 - 1.
- Site ids in paths are slugs (lower-case letters, digits, single hyphens; at most 60): others are 404.
- Text: never NUL, another C0 control character or an unpaired UTF-16 surrogate (neither database
  stores them alike: PostgreSQL refuses NUL and surrogates, SQLite keeps NUL); free text (reasons,
  notes, an address, a text message) may hold tab, newline and carriage return.
- Dates and instants: years 1900 to 2100, birth dates included: no living patient was born before
  1900, and the bound refuses a year-1 or year-9999 typo whose arithmetic (time zones, a course's
  days) would overflow; no course, closure or authorization is ever near a century away.
- Query strings: a parameter the operation does not take is refused (422), not ignored: a misspelt
  `limt` would otherwise answer a page the caller did not ask for.
- Bodies (under /api/v1): JSON only (415 otherwise; a POST without a body needs no Content-Type),
  at most 1 MiB whether sent with Content-Length or chunked (413), nested at most 32 levels (400),
  valid JSON without NaN or Infinity (400).
"""
from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import flask_smorest
from flask import request
from flask_smorest import abort
from marshmallow import RAISE, fields, validate
from werkzeug.routing import BaseConverter, IntegerConverter, ValidationError

MAX_ID = 2**31 - 1  # PostgreSQL's integer, the type of every id column
ID_RANGE = validate.Range(1, MAX_ID)
OFFSET_RANGE = validate.Range(0, MAX_ID)
MAX_PAGE = 500
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_SLUG_LENGTH = 60


# --- ids and slugs in paths

class IdConverter(IntegerConverter):
    """An id in a path: digits only, 1 to 2**31 - 1; anything else matches no route (404)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


class SlugConverter(BaseConverter):
    """A site id in a path: a slug of at most 60 characters; anything else matches no route (404)."""

    regex = SLUG_PATTERN[1:-1]

    def to_python(self, value: str) -> str:
        if len(value) > MAX_SLUG_LENGTH:
            raise ValidationError()
        return value


def id_parameter(converter: IdConverter) -> dict[str, Any]:
    return {"type": "integer", "minimum": converter.min, "maximum": converter.max}


def slug_parameter(converter: SlugConverter) -> dict[str, Any]:
    return {"type": "string", "pattern": SLUG_PATTERN, "minLength": 1, "maxLength": MAX_SLUG_LENGTH}


# --- query strings

class _StrictParser(flask_smorest.Blueprint.ARGUMENTS_PARSER.__class__):
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **flask_smorest.Blueprint.ARGUMENTS_PARSER.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, refusing query parameters an operation does not take."""

    ARGUMENTS_PARSER = _StrictParser()


# --- fields

class Id(fields.Integer):
    """An id: 1 to 2**31 - 1."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["validate"] = [ID_RANGE, *_as_list(kwargs.get("validate"))]
        super().__init__(**kwargs)


_SINGLE_LINE_REFUSED = re.compile("[\x00-\x1f\ud800-\udfff]")
_FREE_TEXT_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# The same, as the description's patterns (an unpaired surrogate is no Unicode text, so JSON Schema's
# strings exclude it already).
SINGLE_LINE_PATTERN = r"^[^\u0000-\u001f]*$"
FREE_TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f]*$"
# A date or an instant in the years EARLIEST_YEAR to LATEST_YEAR, as the description's pattern.
YEARS_PATTERN = r"^(19[0-9]{2}|20[0-9]{2}|2100)-"


class String(fields.String):
    """Text the databases store alike: no NUL, no other C0 control character (free text may hold tab,
    newline and carriage return) and no unpaired surrogate. Every string field of the API is one."""

    default_error_messages = {
        "nul": "must not contain NUL (\\u0000)",
        "control": "must not contain control characters{but}",
        "surrogate": "must not contain an unpaired UTF-16 surrogate (\\ud800-\\udfff); send valid Unicode",
    }

    def __init__(self, *args: Any, free_text: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.free_text = free_text

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        found = (_FREE_TEXT_REFUSED if self.free_text else _SINGLE_LINE_REFUSED).search(text)
        if found:
            char = found.group()
            if char == "\x00":
                raise self.make_error("nul")
            if "\ud800" <= char <= "\udfff":
                raise self.make_error("surrogate")
            raise self.make_error("control", but=" other than tab and line breaks" if self.free_text else "")
        return text


def _year_error(field: fields.Field) -> Exception:
    return field.make_error("year", first=EARLIEST_YEAR, last=LATEST_YEAR)


class Date(fields.Date):
    """A date (YYYY-MM-DD) in the years 1900 to 2100."""

    default_error_messages = {"year": "must be in the years {first} to {last}"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise _year_error(self)
        return day


class AwareDateTime(fields.AwareDateTime):
    """An instant, RFC 3339 with its offset, in the years 1900 to 2100."""

    default_error_messages = {"year": "must be in the years {first} to {last}"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        instant = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
            raise _year_error(self)
        return instant


def _as_list(validators: Any) -> list:
    if validators is None:
        return []
    return list(validators) if isinstance(validators, list | tuple) else [validators]


# --- request bodies

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text's arrays and objects nest deeper than `limit` (brackets inside strings
    aside). Read before parsing: Python's parser fails with RecursionError on deeply nested input."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse(status: int, message: str) -> NoReturn:
    abort(status, message=message)
    raise AssertionError("abort raises")


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def check_request_body() -> None:
    """Before any view or sign-in check: an /api/v1 body is JSON (415), within 1 MiB (413), nested at
    most MAX_JSON_DEPTH levels (400) and parses (400). Twilio's webhooks (form posts) are left alone."""
    if request.method not in _BODY_METHODS or not request.path.startswith("/api/v1/"):
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not chunked and not request.content_length:
        return  # no body: none needed, and no Content-Type either
    if chunked and "wsgi.input_terminated" not in request.environ:
        _refuse(411, "This server cannot read a chunked body; send it with Content-Length")
    if not request.is_json:
        _refuse(415, "Send the body as JSON, with Content-Type: application/json")
    data = request.get_data(cache=True)  # 413 when Content-Length is past MAX_CONTENT_LENGTH
    limit = request.max_content_length
    if chunked and limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        # Werkzeug stops a chunked body at the limit without a word; a byte more means it was over.
        _refuse(413, f"The body is over {limit} bytes")
    if not data.strip():
        return
    if too_deep(data):
        _refuse(400, f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        _refuse(400, "The body is not UTF-8")
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity, an integer of over 4300 digits
        _refuse(400, f"The body is not valid JSON: {exc}")
