"""Fixtures for the integration tests: the app over real HTTP, fresh databases, the CLI as a subprocess."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
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



# --- gunicorn as deployed: N workers on one port (the drills; any test that needs the real web process)

GUNICORN = PROJECT_ROOT / ".venv" / "bin" / "gunicorn"
GUNICORN_START_SECONDS = 30
GUNICORN_STOP_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """`gunicorn --config config/gunicorn.conf.py wsgi:app` with `workers` worker processes (WEB_CONCURRENCY) of
    `threads` threads each, on a free port of 127.0.0.1, in a process group of its own; its output in files."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, workers: int = 2, threads: int = 4,
                 name: str = "gunicorn"):
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.out_path, self.err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(workers),
                    "GUNICORN_THREADS": str(threads), "XDG_RUNTIME_DIR": str(tmp_path)}
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def start(self) -> GunicornServer:
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.process = subprocess.Popen([str(GUNICORN), "--config", "config/gunicorn.conf.py", "wsgi:app"],
                                            cwd=PROJECT_ROOT, env=self.env, stdout=out, stderr=err,
                                            start_new_session=True)
        return self

    def wait_ready(self) -> None:
        """Until /healthz answers and every worker is up (each has written its "Booting worker" line)."""
        assert self.process is not None
        deadline = time.monotonic() + GUNICORN_START_SECONDS
        while True:
            assert self.process.poll() is None, f"gunicorn exited ({self.process.returncode}):\n{self.output()}"
            assert time.monotonic() < deadline, f"gunicorn not ready in {GUNICORN_START_SECONDS}s:\n{self.output()}"
            with contextlib.suppress(OSError):
                call = urllib.request.Request(self.base_url + "/healthz")
                with self._opener.open(call, timeout=5) as answer:
                    if answer.status == 200 and len(self.worker_pids()) == self.workers:
                        return
            time.sleep(0.1)

    def worker_pids(self) -> set[int]:
        """The worker processes running now (the master's children)."""
        assert self.process is not None
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
            return {int(pid) for pid in children.split()}
        return set()

    def access_log(self) -> list[dict]:
        """gunicorn's access lines (JSON, on stdout), each with the pid of the worker that answered."""
        lines = []
        for line in self.out_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return [line for line in lines if line.get("logger") == "gunicorn.access"]

    def stop(self) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL to the group if it hangs; the master's exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=GUNICORN_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the master and its workers
                self.process.wait(timeout=10)
        return self.process.returncode

    def output(self) -> str:
        def tail(path: Path) -> str:
            with contextlib.suppress(OSError):
                return path.read_text(errors="replace")[-6000:]
            return ""
        return f"--- {self.out_path.name}:\n{tail(self.out_path)}\n--- {self.err_path.name}:\n{tail(self.err_path)}"

