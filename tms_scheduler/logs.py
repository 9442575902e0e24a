"""The service's logs: one JSON object a line, a request id on each, and nothing private in them.

A line is `{"time", "level", "logger", "message", "request_id"?, "pid", "exception"?}`; gunicorn's
access lines add `method`, `path` (never the query string: a patient search carries a name or a
phone there), `status`, `duration_ms`, `bytes` and `remote`.

The request id is the caller's `X-Request-ID` when it is sane (8 to 128 of A-Z a-z 0-9 . _ -),
else a new uuid4 hex; it is answered in `X-Request-ID` on every response, errors included, and
is on every line logged while the request is handled. Lines logged outside a request carry the
process's own id when it set one (the scheduler process: `scheduler-<host>:<pid>`), else none.

What keeps private data (names, birth dates, phones, texts) out:

- the log calls name ids, counts and masked phones (`sms.log_sender.masked`), never values;
- SQLAlchemy's engines hide statement parameters (`hide_parameters=True`, db/engine.py), so a
  database error's text and the SQL log say `[SQL parameters hidden due to hide_parameters=True]`;
- an exception is rendered here, never by `traceback`'s default: a database driver's message
  keeps its SQLSTATE and the constraint, table and column it names, never its DETAIL
  (PostgreSQL's "Failing row contains (...)" and "Key (...)=(...)" carry the row's values);
- `PrivateDataFilter` drops SQLAlchemy's result rows (logged at DEBUG whatever hide_parameters
  says) and the Twilio SDK's request log (the recipient and the text), and cuts query strings
  from gunicorn's own error lines.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask, Response

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,128}")

_request_id: ContextVar[str | None] = ContextVar("tms_request_id", default=None)
# The id of lines logged outside any request, when the process names itself (configure(request_id=)).
_process_request_id: str | None = None


# --- the request id

def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(incoming: str | None) -> str:
    """The caller's id when it is sane (8 to 128 of A-Z a-z 0-9 . _ -), else a new one."""
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being handled in this context, else the process's own, else None."""
    return _request_id.get() or _process_request_id


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (None outside a request in a process that set none)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


def install(app: Flask) -> None:
    """Gives each request its id, first of all the app's before-request hooks, and answers it on every response."""
    from flask import g, request

    def begin() -> None:
        g.tms_request_id_token = _request_id.set(request_id_from(request.headers.get(REQUEST_ID_HEADER)))

    def answer(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = _request_id.get() or new_request_id()
        return response

    def end(_exc: BaseException | None) -> None:
        token = g.pop("tms_request_id_token", None)
        if token is None:
            return
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (cannot happen with Flask's hooks): forget it anyway
            _request_id.set(None)

    # First in: the sign-in check and every other hook log with the id already set.
    app.before_request_funcs.setdefault(None, []).insert(0, begin)
    app.after_request_funcs.setdefault(None, []).append(answer)
    # Teardown functions run in reverse: first in the list, so the id is the last thing forgotten.
    app.teardown_request_funcs.setdefault(None, []).insert(0, end)


# --- keeping private data out

# A path's query string: up to the end of the request line (" HTTP/1.1"), a quote or the line's end,
# spaces included (an invalid request line is quoted as it came).
_QUERY_STRING = re.compile(r"(/[^\s?'\"]*)\?(?:(?!\s+HTTP/)[^'\"\n])*")


class PrivateDataFilter(logging.Filter):
    """Drops or trims the library lines that would carry private data, whatever the log level asked.

    - SQLAlchemy logs each result row at DEBUG (echo="debug"), values and all: dropped;
    - the Twilio SDK's request log (below WARNING) names the recipient and the text: dropped;
    - gunicorn's own error lines ("Error handling request /path?q=...", "Invalid request ...")
      can quote the raw request line, as werkzeug's request log does (`flask run`, not the
      product's server): the query string is cut.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name.startswith("sqlalchemy.engine") and record.levelno < logging.INFO:
            return False
        if name.startswith("twilio.http_client") and record.levelno < logging.WARNING:
            return False
        if name in ("gunicorn.error", "werkzeug"):
            message = record.getMessage()
            trimmed = _QUERY_STRING.sub(r"\1?<query hidden>", message)
            if trimmed != message:
                record.msg, record.args = trimmed, None
        return True


def _qualified(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"


# PostgreSQL's error classes whose primary message names the schema, never a value: integrity
# (23: the constraint), transaction rollback (40), connection (08), resources (53), object state
# (55), operator intervention (57). A data error's (22) quotes the value it refused.
_SAFE_SQLSTATE_CLASSES = ("08", "23", "40", "53", "55", "57")


def _driver_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("psycopg", "psycopg2", "sqlite3")


def _driver_summary(exc: BaseException) -> str:
    """A database driver's error without the values it may quote."""
    module = type(exc).__module__.split(".")[0]
    if module == "sqlite3":
        # SQLite's messages name constraints, tables and columns, never the values bound.
        name = getattr(exc, "sqlite_errorname", None)
        return f"{exc} ({name})" if name else str(exc)
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(diag, "sqlstate", None) or getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    parts = []
    if sqlstate is None or str(sqlstate)[:2] in _SAFE_SQLSTATE_CLASSES:
        # No SQLSTATE: the client library's own error (a lost connection, a refused login), no value in it.
        primary = getattr(diag, "message_primary", None) or (str(exc).splitlines() or [""])[0]
        parts.append(primary)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    for label, attribute in (("constraint", "constraint_name"), ("table", "table_name"), ("column", "column_name")):
        value = getattr(diag, attribute, None)
        if value:
            parts.append(f"{label} {value}")
    return "; ".join(parts) or "(details hidden)"


def _safe_message(exc: BaseException) -> str:
    """What an exception says, without the values a database error quotes."""
    from sqlalchemy.exc import StatementError  # here: gunicorn's master loads this module for its logging alone

    if isinstance(exc, StatementError):
        text = str(exc)
        orig = exc.orig
        if orig is None:
            return text
        if _driver_error(orig):
            quoted = str(orig)
            if quoted and quoted in text:
                # The statement and its parameters (hidden by the engine's hide_parameters) stay.
                return text.replace(quoted, _driver_summary(orig), 1)
            return f"({_qualified(orig)}) {_driver_summary(orig)}\n[SQL: {exc.statement}]"
        # Not a driver error (a value a type could not bind, say): its message may quote the value.
        return f"({_qualified(orig)}) (details hidden)\n[SQL: {exc.statement}]"
    if _driver_error(exc):
        return _driver_summary(exc)
    return str(exc)


def format_exception(exc: BaseException) -> str:
    """The traceback as Python prints it (causes and contexts first), each message made safe."""
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link: str | None = None
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "The above exception was the direct cause of the following exception:"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = (current.__context__,
                             "During handling of the above exception, another exception occurred:")
        else:
            current = None
    parts: list[str] = []
    for item, link_to_next in reversed(chain):
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_list(traceback.extract_tb(item.__traceback__)))
        parts.append(f"{_qualified(item)}: {_safe_message(item)}\n")
        if link_to_next:
            parts.append(f"\n{link_to_next}\n\n")
    return "".join(parts).rstrip("\n")


# --- the line

_ACCESS_FIELDS = (("method", "m"), ("path", "U"), ("status", "s"), ("duration_ms", "M"), ("bytes", "B"),
                  ("remote", "h"))
_ACCESS_NUMBERS = ("status", "duration_ms", "bytes")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (RFC 3339, UTC), level, logger, message, request_id, pid, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
                    + f"{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            # gunicorn's atoms: the fields the access line is made of; the request id is the answer's header
            # (the access line is written after the request's own context is gone).
            atoms = record.args
            for field, atom in _ACCESS_FIELDS:
                value = atoms[atom]
                if value in (None, "-"):
                    continue
                line[field] = int(str(value)) if field in _ACCESS_NUMBERS and str(value).isdigit() else value
            answered = atoms["{x-request-id}o"]
            request_id = answered if answered not in (None, "-") else None
        if request_id:
            line["request_id"] = request_id
        line["pid"] = record.process
        if record.exc_info and record.exc_info[1] is not None:
            line["exception"] = format_exception(record.exc_info[1])
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str)

    def formatException(self, ei: Any) -> str:
        # Used by handlers that format an exception on their own: the safe rendering too.
        return format_exception(ei[1]) if ei and ei[1] is not None else ""


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing JSON lines with the request id, through the private-data filter."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler.addFilter(PrivateDataFilter())
    return handler


def configure(level: int | str = logging.INFO, *, stream: IO[str] | None = None,
              request_id: str | None = None) -> logging.Handler:
    """Root logging in JSON lines on `stream` (stderr), replacing the root's handlers; answers the handler.

    `request_id`: the id of the lines this process logs outside any request (the scheduler
    process names itself). gunicorn configures the same formatter and filters through
    `logconfig_dict` (config/gunicorn.conf.py) instead.
    """
    global _process_request_id
    _process_request_id = request_id
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = json_handler(stream)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
