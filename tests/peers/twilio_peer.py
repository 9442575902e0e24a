"""A Twilio-compatible HTTP peer of the project's own, for tests: the Messages API of 2010-04-01 as
the Twilio SDK calls it, plus the failures Prism cannot make (timeouts, resets, 429s, 500s,
opted-out and invalid numbers), driven through a control API. Standard library only.

In the test process:

    with TwilioPeer() as peer:                      # 127.0.0.1, a free port
        client = twilio.rest.Client(peer.account_sid, peer.auth_token)
        client.api.base_url = peer.url
        peer.control(fail_rate=0.3, fail_with=["500", "429"], seed=1)
        ...
        peer.records()                              # every request, as GET /_records answers it

As a process of its own (another process drives it over HTTP, e.g. with PeerClient(url)):

    python -m tests.peers.twilio_peer --port 8099 [--host 127.0.0.1] [--account-sid AC...] [--auth-token T]

prints one line `listening on http://127.0.0.1:8099` once it accepts connections, and exits 0 on
SIGTERM or Ctrl-C.

HTTP API
    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   form-encoded To, From | MessagingServiceSid,
         Body, StatusCallback, ...: 201 and a message resource as Twilio answers it (status "queued").
         Checked in this order, each answered in Twilio's error shape
         {"code", "message", "more_info", "status"}:
           Basic auth is not account SID / auth token           401, code 20003, WWW-Authenticate
           the path's AccountSid is not the configured one      404, code 20404
           a transient failure drawn (fail_rate, fail_with)     500 / 20500, 503 / 20503, 429 / 20429,
                                                                "timeout" (sleeps timeout_seconds, then
                                                                503), "reset" (connection reset, no answer)
           no To                                                400, code 21604
           neither From nor MessagingServiceSid                 400, code 21603
           no Body                                              400, code 21602
           To in `invalid`, or not E.164 (+ and 2-15 digits)    400, code 21211
           To in `opted_out`                                    400, code 21610
         Every answer waits `delay_seconds` first (0 unless set), as a farther Twilio would.
         Every request is recorded, failed ones too (with their outcome); only accepted ones make a message.
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   the message (auth checked), else 404 / 20404
    POST /_control   JSON, any of the keys of DEFAULT_MODES; keys left out keep their value; answers the modes.
                     "seed" restarts the failure draws from that seed (null: unseeded).
    GET  /_control   the modes
    GET  /_records   {"records": [record, ...]} in arrival order, a record being
                     {"index", "time" (ISO 8601, UTC), "method", "path", "account_sid", "to", "from",
                      "messaging_service_sid", "body", "status_callback", "params" (every form field),
                      "attempt" (1 for the first request of that To and Body, 2 for the next...),
                      "outcome" ("accepted", "500", "503", "429", "timeout", "reset", "unauthorized",
                      "not_found", "missing_to", "missing_from", "missing_body", "invalid_to", "opted_out"),
                      "status" (HTTP status answered; null for a reset), "error_code", "sid" (accepted only)}
    POST /_reset     forgets records, messages and modes (back to DEFAULT_MODES)
"""
from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import email.utils
import json
import random
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "peer-auth-token"
API_VERSION = "2010-04-01"

TRANSIENT_FAILURES = ("500", "503", "429", "timeout", "reset")
DEFAULT_MODES: dict[str, Any] = {
    "fail_rate": 0.0,            # share of create requests that fail transiently, 0 to 1
    "fail_with": ["500"],        # which transient failures, drawn evenly: any of TRANSIENT_FAILURES
    "seed": None,                # seed of the draws (which request fails, and how); null: unseeded
    "opted_out": [],             # numbers answered 400 / 21610
    "invalid": [],               # numbers answered 400 / 21211
    "timeout_seconds": 15.0,     # how long a "timeout" holds the request before answering 503
    "delay_seconds": 0.0,        # how long every answer takes (Twilio is further away than this peer)
}

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
E164 = re.compile(r"^(whatsapp:)?\+[1-9][0-9]{1,14}$")

# Twilio's answers: HTTP status, error code, message.
ERRORS = {
    "unauthorized": (401, 20003, "Authenticate"),
    "not_found": (404, 20404, "The requested resource {path} was not found"),
    "500": (500, 20500, "Internal Server Error"),
    "503": (503, 20503, "Service Unavailable"),
    "timeout": (503, 20503, "Service Unavailable"),
    "429": (429, 20429, "Too Many Requests"),
    "missing_to": (400, 21604, "A 'To' phone number is required."),
    "missing_from": (400, 21603, "A 'From' phone number is required."),
    "missing_body": (400, 21602, "Message body is required."),
    "invalid_to": (400, 21211, "Invalid 'To' Phone Number: {to}"),
    "opted_out": (400, 21610, "Attempt to send to unsubscribed recipient"),
}


class ControlError(ValueError):
    """A control request the peer cannot follow."""


def twilio_error(outcome: str, **fields: str) -> tuple[int, dict[str, Any]]:
    status, code, message = ERRORS[outcome]
    return status, {"code": code, "message": message.format(**fields),
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}


def _now() -> datetime:
    return datetime.now(UTC)


def _rfc2822(moment: datetime) -> str:
    return email.utils.format_datetime(moment)  # "Thu, 24 Aug 2023 05:01:45 +0000", as Twilio writes dates


def _checked_modes(current: dict[str, Any], changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise ControlError("the control body is a JSON object")
    unknown = sorted(set(changes) - set(DEFAULT_MODES))
    if unknown:
        raise ControlError(f"unknown control keys {unknown}; known: {sorted(DEFAULT_MODES)}")
    modes = {**copy.deepcopy(current), **copy.deepcopy(changes)}
    rate = modes["fail_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ControlError(f"fail_rate is a number from 0 to 1, not {rate!r}")
    kinds = modes["fail_with"]
    if isinstance(kinds, str):
        kinds = modes["fail_with"] = [kinds]
    if not isinstance(kinds, list) or not kinds or any(str(kind) not in TRANSIENT_FAILURES for kind in kinds):
        raise ControlError(f"fail_with is a non-empty list of {list(TRANSIENT_FAILURES)}, not {kinds!r}")
    modes["fail_with"] = [str(kind) for kind in kinds]
    for key in ("opted_out", "invalid"):
        if not isinstance(modes[key], list) or not all(isinstance(number, str) for number in modes[key]):
            raise ControlError(f"{key} is a list of phone numbers, not {modes[key]!r}")
    for key in ("timeout_seconds", "delay_seconds"):
        seconds = modes[key]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ControlError(f"{key} is a number of seconds, not {seconds!r}")
        modes[key] = float(seconds)
    if modes["seed"] is not None and (isinstance(modes["seed"], bool) or not isinstance(modes["seed"], int | str)):
        raise ControlError(f"seed is an integer, a string or null, not {modes['seed']!r}")
    modes["fail_rate"] = float(rate)
    return modes


class PeerState:
    """What the peer remembers; every method is safe to call from any thread."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._attempts: dict[tuple[str | None, str | None], int] = {}
        self._modes = copy.deepcopy(DEFAULT_MODES)
        self._random = random.Random()

    # control ------------------------------------------------------------------------------------

    def control(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._modes = _checked_modes(self._modes, changes)
            if "seed" in changes:
                self._random = random.Random(self._modes["seed"])
            return copy.deepcopy(self._modes)

    def modes(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._modes)

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._messages.clear()
            self._attempts.clear()
            self._modes = copy.deepcopy(DEFAULT_MODES)
            self._random = random.Random()

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._records)

    def message(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._messages.get(sid))

    # the Messages API ---------------------------------------------------------------------------

    def create(self, path_account: str, authorized: bool, params: dict[str, Any]
               ) -> tuple[str, int | None, dict[str, Any] | None, float]:
        """Decides and records one create request: (outcome, HTTP status, JSON body, seconds to hold it).

        A status of None means no answer at all (the connection is reset)."""
        to, from_, service, body = (_single(params.get(name)) for name in ("To", "From", "MessagingServiceSid", "Body"))
        with self._lock:
            modes = self._modes
            if not authorized:
                outcome = "unauthorized"
            elif path_account != self.account_sid:
                outcome = "not_found"
            else:
                outcome = ""
                if modes["fail_rate"] > 0 and self._random.random() < modes["fail_rate"]:
                    outcome = self._random.choice(modes["fail_with"])
            if not outcome:
                if not to:
                    outcome = "missing_to"
                elif not from_ and not service:
                    outcome = "missing_from"
                elif not body:
                    outcome = "missing_body"
                elif to in modes["invalid"] or not E164.match(to):
                    outcome = "invalid_to"
                elif to in modes["opted_out"]:
                    outcome = "opted_out"
                else:
                    outcome = "accepted"
            now = _now()
            attempt = self._attempts[(to, body)] = self._attempts.get((to, body), 0) + 1
            hold = modes["timeout_seconds"] if outcome == "timeout" else modes["delay_seconds"]
            sid = None
            if outcome == "accepted":
                sid = "SM" + secrets.token_hex(16)
                status, answer = 201, self._message_resource(sid, now, to, from_, service, body)
                self._messages[sid] = answer
            elif outcome == "reset":
                status, answer = None, None
            else:
                status, answer = twilio_error(outcome, to=to or "", path=f"/{API_VERSION}/Accounts/{path_account}"
                                                                         "/Messages.json")
            self._records.append({
                "index": len(self._records),
                "time": now.isoformat(),
                "method": "POST",
                "path": f"/{API_VERSION}/Accounts/{path_account}/Messages.json",
                "account_sid": path_account,
                "to": to,
                "from": from_,
                "messaging_service_sid": service,
                "body": body,
                "status_callback": _single(params.get("StatusCallback")),
                "params": params,
                "attempt": attempt,
                "outcome": outcome,
                "status": status,
                "error_code": answer["code"] if status and status >= 400 and answer else None,
                "sid": sid,
            })
            return outcome, status, copy.deepcopy(answer), hold

    def _message_resource(self, sid: str, now: datetime, to: str | None, from_: str | None,
                          service: str | None, body: str | None) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": _rfc2822(now),
            "date_sent": None,
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": None,
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }


def _single(value: Any) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries a Content-Length
    disable_nagle_algorithm = True  # else each keep-alive answer waits ~40 ms on the client's delayed ACK
    server: _Server
    server_version = "tms-twilio-peer"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # plumbing -----------------------------------------------------------------------------------

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _reset_connection(self) -> None:
        """Drops the connection without a word: SO_LINGER 0 makes the close a TCP reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        state = self.server.state
        return secrets.compare_digest(user, state.account_sid) and secrets.compare_digest(password, state.auth_token)

    def _unauthorized(self) -> None:
        self._answer(*twilio_error("unauthorized"), headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})

    def _not_found(self, path: str) -> None:
        self._answer(*twilio_error("not_found", path=path))

    # routes -------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        raw = self._body()
        path = urllib.parse.urlsplit(self.path).path
        state = self.server.state
        if path == "/_control":
            try:
                changes = json.loads(raw or b"{}")
                self._answer(200, state.control(changes))
            except (ValueError, ControlError) as problem:
                self._answer(400, {"error": str(problem)})
            return
        if path == "/_reset":
            state.reset()
            self._answer(200, {"reset": True})
            return
        match = MESSAGES_PATH.match(path)
        if not match:
            self._not_found(path)
            return
        fields = urllib.parse.parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        params: dict[str, Any] = {name: values[0] if len(values) == 1 else values for name, values in fields.items()}
        authorized = self._authorized()
        outcome, status, answer, hold = state.create(match["account"], authorized, params)
        if hold:
            self.server.stopping.wait(hold)  # the client gives up first; stopping the peer ends the wait
        if status is None:
            self._reset_connection()
        elif outcome == "unauthorized":
            self._unauthorized()
        else:
            self._answer(status, answer)

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        state = self.server.state
        if path == "/_records":
            self._answer(200, {"records": state.records()})
            return
        if path == "/_control":
            self._answer(200, state.modes())
            return
        match = MESSAGE_PATH.match(path)
        if not match:
            self._not_found(path)
            return
        if not self._authorized():
            self._unauthorized()
            return
        message = state.message(match["sid"]) if match["account"] == state.account_sid else None
        if message is None:
            self._not_found(path)
        else:
            self._answer(200, message)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients at once

    def __init__(self, address: tuple[str, int], state: PeerState, verbose: bool):
        self.state = state
        self.verbose = verbose
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a timeout it gave up on, a reset we made) is no error of the peer.
        if isinstance(sys.exc_info()[1], ConnectionError | OSError):
            return
        super().handle_error(request, client_address)


class TwilioPeer:
    """The peer served in a background thread; `url` is what `client.api.base_url` takes."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN,
                 host: str = "127.0.0.1", port: int = 0, verbose: bool = False):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.state = PeerState(account_sid, auth_token)
        self._address = (host, port)
        self._verbose = verbose
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the peer is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> TwilioPeer:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self.state, self._verbose)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="twilio-peer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> TwilioPeer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # the control API, in-process (PeerClient does the same over HTTP) ----------------------------

    def control(self, **changes: Any) -> dict[str, Any]:
        """Changes the failure modes (keys of DEFAULT_MODES); answers them all."""
        return self.state.control(changes)

    def modes(self) -> dict[str, Any]:
        return self.state.modes()

    def records(self) -> list[dict[str, Any]]:
        return self.state.records()

    def messages(self) -> list[dict[str, Any]]:
        """The accepted requests' records."""
        return [record for record in self.records() if record["outcome"] == "accepted"]

    def reset(self) -> None:
        self.state.reset()


class PeerClient:
    """The control API of a peer at `url` (another process's, typically), over HTTP."""

    def __init__(self, url: str, timeout: float = 10):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP_PROXY

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 400:
                raise ControlError(json.loads(error.read()).get("error")) from None
            raise

    def control(self, **changes: Any) -> dict[str, Any]:
        """Changes the failure modes (keys of DEFAULT_MODES); answers them all. ControlError if refused."""
        return self._call("POST", "/_control", changes)

    def modes(self) -> dict[str, Any]:
        return self._call("GET", "/_control")

    def records(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_records")["records"]

    def messages(self) -> list[dict[str, Any]]:
        return [record for record in self.records() if record["outcome"] == "accepted"]

    def reset(self) -> None:
        self._call("POST", "/_reset", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peers.twilio_peer",
                                     description="A Twilio-compatible HTTP peer for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    options = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    peer = TwilioPeer(options.account_sid, options.auth_token, options.host, options.port, options.verbose)
    try:
        peer.start()
    except OSError as exc:
        print(f"twilio_peer: cannot listen on {options.host}:{options.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"listening on {peer.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        peer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
