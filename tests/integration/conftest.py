"""Fixtures for the integration tests: the app over real HTTP, fresh databases, the CLI as a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from tests.conftest import DEMO_PASSWORDS, POSTGRES_ADMIN_URL, _postgres_problem, _worker_id
from tms_scheduler.settings import PROJECT_ROOT

FLASK = PROJECT_ROOT / ".venv" / "bin" / "flask"
HTTP_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | list | str


class LiveServer:
    """The app served by werkzeug on 127.0.0.1 in a background thread, and a tiny HTTP client for it."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> Answer:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        call = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(call, timeout=HTTP_TIMEOUT_SECONDS) as response:
                return Answer(response.status, _decode(response.read()))
        except urllib.error.HTTPError as error:
            return Answer(error.code, _decode(error.read()))

    def sign_in(self, role: str) -> str:
        username, password = DEMO_PASSWORDS[role]
        answer = self.request("POST", "/api/v1/auth/tokens", {"username": username, "password": password})
        assert answer.status == 201, answer
        return answer.body["token"]


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture
def live_server(app):
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fresh_database_url(request, tmp_path):
    """An empty database nobody else uses, never migrated: SQLite or PostgreSQL by request.param."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    # The pid as well: another checkout testing against the same server must not drop this one.
    name = f"tms_migr_{_worker_id(request)}_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def cli_environment(**overrides: str) -> dict[str, str]:
    """The environment a CLI subprocess gets: this one without the service's settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "SECRET_KEY", "TMS_ENV", "SMS_BACKEND") and not k.startswith("TWILIO_")}
    env.update(overrides)
    return env


def flask_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """`flask --app wsgi ARGS` from the repository root, as an operator would type it."""
    return subprocess.run([str(FLASK), "--app", "wsgi", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def sqlite_file_url(tmp_path) -> str:
    return f"sqlite:///{Path(tmp_path) / 'cli.db'}"

