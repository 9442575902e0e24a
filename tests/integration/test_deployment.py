"""Deployment as config/ describes it: the Procfile, the systemd units, the compose file and its Dockerfile agree
on the commands; ProxyFix behind a TLS-terminating proxy, by TRUSTED_PROXIES only; gunicorn and the scheduler
stop gracefully on SIGTERM, answering the request in flight and exiting 0.

Docker cannot run here: the compose file is read as YAML and checked (services, depends_on, healthchecks,
commands equal to the Procfile's).
"""
from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import runpy
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import replace

import pytest
import yaml
from flask import request
from sqlalchemy import select

from tests.conftest import DEMO_PASSWORDS
from tests.integration.conftest import cli_environment
from tms_scheduler.app import create_app
from tms_scheduler.db import models
from tms_scheduler.services.demo import seed_demo
from tms_scheduler.settings import PROJECT_ROOT, Settings, SettingsError

CONFIG = PROJECT_ROOT / "config"
VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
START_DEADLINE_SECONDS = 30
# A graceful stop finishes the batch in hand; on a loaded 2-core machine that has taken over 15 s.
STOP_DEADLINE_SECONDS = 30


def procfile() -> dict[str, list[str]]:
    lines = (CONFIG / "Procfile").read_text().splitlines()
    kinds = dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {kind.strip(): shlex.split(command) for kind, command in kinds.items()}


def compose() -> dict:
    return yaml.safe_load((CONFIG / "compose.yaml").read_text())


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    assert parser.read(CONFIG / "systemd" / name), name
    return parser


def gunicorn_config() -> dict:
    return runpy.run_path(str(CONFIG / "gunicorn.conf.py"))


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value.strip())
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


# --- the Procfile, the systemd units, the compose file, the Dockerfile


def test_the_procfile_runs_web_scheduler_and_the_migrations_as_the_readme_says():
    assert procfile() == {
        "web": ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"],
        "scheduler": ["flask", "--app", "wsgi", "scheduler"],
        "release": ["flask", "--app", "wsgi", "db", "upgrade"],
    }


def test_each_procfile_command_names_a_program_the_project_installs():
    for command in procfile().values():
        assert (VENV_BIN / command[0]).exists(), command


def test_the_compose_file_runs_postgres_the_migrations_web_and_scheduler_with_the_procfiles_commands():
    services = compose()["services"]
    commands = procfile()

    assert set(services) == {"postgres", "migrate", "web", "scheduler"}
    assert services["migrate"]["command"] == commands["release"]
    assert services["web"]["command"] == commands["web"]
    assert services["scheduler"]["command"] == commands["scheduler"]
    assert services["postgres"]["image"].startswith("postgres:")


def test_in_the_compose_file_nothing_starts_before_postgres_is_healthy_and_the_migrations_are_done():
    services = compose()["services"]

    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "scheduler"):
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                                "migrate": {"condition": "service_completed_successfully"}}, name


def test_the_compose_healthchecks_ask_postgres_and_the_web_processes_readyz():
    services = compose()["services"]

    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web_check
    assert services["web"]["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"


def test_the_compose_services_run_one_image_in_production_behind_one_proxy_and_stop_gracefully():
    services = compose()["services"]
    graceful = gunicorn_config()["graceful_timeout"]

    for name in ("migrate", "web", "scheduler"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "config/Dockerfile"}, name
        assert service["environment"]["TMS_ENV"] == "production", name
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"], name
        assert service["environment"]["TRUSTED_PROXIES"] == "${TRUSTED_PROXIES:-1}", name
    for name in ("web", "scheduler"):
        assert services[name]["stop_signal"] == "SIGTERM"
        assert seconds(services[name]["stop_grace_period"]) > graceful, name
    # the database's password and the secrets come from the operator, never from the file
    assert "${POSTGRES_PASSWORD:?" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert services["web"]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_the_dockerfile_is_python_3_11_slim_installing_the_project_and_copying_what_exists():
    lines = [line.strip() for line in (CONFIG / "Dockerfile").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]

    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install -e .") for line in lines)
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT_ROOT / source).exists(), line
    copied = " ".join(line for line in lines if line.startswith("COPY "))
    for needed in ("pyproject.toml", "wsgi.py", "tms_scheduler", "migrations", "config"):
        assert needed in copied
    assert json.loads(lines[-1].removeprefix("CMD ")) == procfile()["web"]


@pytest.mark.parametrize("name, kind", [("tms-web@.service", "web"), ("tms-scheduler@.service", "scheduler"),
                                        ("tms-migrate.service", "release")])
def test_each_systemd_unit_runs_its_procfile_command_from_the_virtualenv_with_the_environment_file(name, kind):
    service = unit(name)["Service"]
    command = shlex.split(service["ExecStart"])

    assert command[0] == f"/opt/tms/.venv/bin/{procfile()[kind][0]}"
    assert command[1:] == procfile()[kind][1:]
    assert service["EnvironmentFile"] == "/etc/tms/tms.env"
    assert service["WorkingDirectory"] == "/opt/tms"


@pytest.mark.parametrize("name", ["tms-web@.service", "tms-scheduler@.service"])
def test_the_web_and_scheduler_units_restart_on_failure_and_stop_by_sigterm_with_time_to_finish(name):
    parsed = unit(name)
    service = parsed["Service"]

    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert seconds(service["TimeoutStopSec"]) > gunicorn_config()["graceful_timeout"]
    assert "tms-migrate.service" in parsed["Unit"]["Requires"] and "tms-migrate.service" in parsed["Unit"]["After"]


def test_each_web_instance_binds_the_port_it_is_named_by():
    assert "GUNICORN_BIND=127.0.0.1:%i" in unit("tms-web@.service")["Service"]["Environment"]


def test_the_environment_file_example_names_only_settings_the_service_or_gunicorn_reads():
    example = (CONFIG / "systemd" / "tms.env.example").read_text()
    names = [line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")]
    read = (PROJECT_ROOT / "tms_scheduler" / "settings.py").read_text() + (CONFIG / "gunicorn.conf.py").read_text()

    assert "TRUSTED_PROXIES" in names and "TMS_ENV" in names
    assert [name for name in names if f'"{name}"' not in read] == []


def test_the_environment_file_example_is_refused_until_its_placeholders_are_replaced():
    example = (CONFIG / "systemd" / "tms.env.example").read_text()
    environ = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))

    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(environ)


def test_gunicorn_waits_for_requests_in_flight_as_long_as_graceful_timeout_which_the_environment_sets(monkeypatch):
    assert gunicorn_config()["graceful_timeout"] == 30
    monkeypatch.setenv("GUNICORN_GRACEFUL_TIMEOUT", "12")
    assert gunicorn_config()["graceful_timeout"] == 12


# --- ProxyFix, by TRUSTED_PROXIES


@pytest.mark.parametrize("proxies, client_address, scheme", [
    (0, "10.0.0.2", "http"),       # off: the connection's peer (the proxy), the forwarded headers ignored
    (1, "203.0.113.7", "https"),   # one proxy: the address it appended, not what the client claimed before it
], ids=["TRUSTED_PROXIES=0", "TRUSTED_PROXIES=1"])
def test_the_audit_trails_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
        settings, clock, proxies, client_address, scheme):
    app = create_app(replace(settings, trusted_proxies=proxies), clock=clock)
    seen: list[tuple[str | None, str]] = []
    app.before_request(lambda: seen.append((request.remote_addr, request.scheme)))
    try:
        runtime = app.extensions["tms"].runtime
        seed_demo(runtime)
        username, password = DEMO_PASSWORDS["front_desk"]

        answer = app.test_client().post(
            "/api/v1/auth/tokens", json={"username": username, "password": password},
            headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https",
                     "X-Request-ID": "proxied-sign-in-1"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"})

        assert answer.status_code == 201, answer.json
        with runtime.sessions() as db:
            row = db.scalars(select(models.AuditEvent).where(models.AuditEvent.request_id == "proxied-sign-in-1")
                             ).one()
    finally:
        app.extensions["tms"].engine.dispose()
    assert (row.action, row.username, row.client_ip) == ("sign_in", username, client_address)
    assert seen == [(client_address, scheme)]


# --- graceful shutdown


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    return data


def read_to_end(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def http_get(port: int, path: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        return int(read_to_end(sock).split(b" ", 2)[1])


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    """The Procfile's web command on a port of its own, on a migrated database with the demo clinic."""
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w+")
    env = cli_environment(DATABASE_URL=database_url, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
                          GUNICORN_THREADS="2", GUNICORN_GRACEFUL_TIMEOUT="20", XDG_RUNTIME_DIR=str(tmp_path))
    command = procfile()["web"]
    process = subprocess.Popen([str(VENV_BIN / command[0]), *command[1:]], cwd=PROJECT_ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.port = port  # type: ignore[attr-defined]
    process.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        assert process.poll() is None, f"gunicorn exited ({process.returncode}):\n{output_of(process)}"
        assert time.monotonic() < deadline, f"gunicorn not ready in {START_DEADLINE_SECONDS}s:\n{output_of(process)}"
        with contextlib.suppress(OSError, ValueError, IndexError):
            if http_get(port, "/readyz") == 200:
                break
        time.sleep(0.1)
    yield process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    log.close()


def output_of(process) -> str:
    process.log.flush()
    process.log.seek(0)
    return process.log.read()


def test_sigterm_to_gunicorn_answers_the_request_in_flight_refuses_new_ones_and_exits_0(gunicorn):
    username, password = DEMO_PASSWORDS["front_desk"]
    body = json.dumps({"username": username, "password": password}).encode()
    with socket.create_connection(("127.0.0.1", gunicorn.port), timeout=30) as slow:
        # A slow client: its headers first, with Expect: 100-continue, so gunicorn's "100 Continue" shows the
        # request is in a worker's hands before the signal.
        slow.sendall((f"POST /api/v1/auth/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n").encode())
        assert read_until(slow, b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")

        gunicorn.send_signal(signal.SIGTERM)
        # No new connection is taken while the request in flight is waited for...
        deadline = time.monotonic() + 10
        while True:
            try:
                http_get(gunicorn.port, "/healthz")
            except OSError:
                break
            assert time.monotonic() < deadline, "gunicorn still took new connections 10 s after SIGTERM"
            time.sleep(0.2)
        assert gunicorn.poll() is None, f"gunicorn did not wait for the request in flight:\n{output_of(gunicorn)}"
        # ...whose body then arrives, slowly, and which is answered in full.
        slow.sendall(body[:10])
        time.sleep(0.5)
        slow.sendall(body[10:])
        answer = read_to_end(slow)

    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), answer
    assert json.loads(payload)["token"]
    assert gunicorn.wait(timeout=30) == 0, output_of(gunicorn)
    assert "Traceback" not in output_of(gunicorn), output_of(gunicorn)


def test_sigterm_to_the_scheduler_started_as_the_procfile_says_stops_it_with_exit_0(database_url, tmp_path):
    log = open(tmp_path / "scheduler.log", "w+")
    command = procfile()["scheduler"]
    process = subprocess.Popen([str(VENV_BIN / command[0]), *command[1:]], cwd=PROJECT_ROOT,
                               env=cli_environment(DATABASE_URL=database_url, SCHEDULER_POLL_SECONDS="1"),
                               stdout=log, stderr=subprocess.STDOUT)
    process.log = log  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while "dispatch-reminders" not in output_of(process):  # its first poll ran
            assert process.poll() is None, f"the scheduler exited:\n{output_of(process)}"
            assert time.monotonic() < deadline, f"the scheduler never polled:\n{output_of(process)}"
            time.sleep(0.2)

        process.send_signal(signal.SIGTERM)

        assert process.wait(timeout=STOP_DEADLINE_SECONDS) == 0, output_of(process)
        assert "scheduler stopping (signal 15)" in output_of(process)
        assert "Traceback" not in output_of(process), output_of(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()
