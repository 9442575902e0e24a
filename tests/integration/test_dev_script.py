"""`python3 dev.py serve` as a user runs it: the address, the start line, Ctrl-C and SIGTERM, failures.

Each run gets its own session (start_new_session), so every process dev.py started, gunicorn's
workers included, is found afterwards by its session id in /proc. The install step is a no-op
here: the tests refuse to run serve when it would reinstall (they skip, saying why).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import cli_environment
from tms_scheduler.settings import PROJECT_ROOT

START_DEADLINE_SECONDS = 45
STOP_DEADLINE_SECONDS = 30
FAIL_DEADLINE_SECONDS = 60


def load_dev_script():
    spec = importlib.util.spec_from_file_location("dev_script", PROJECT_ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dev = load_dev_script()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Process:
    ppid: int
    pgrp: int
    state: str
    command: str


def session_processes(session_id: int) -> dict[int, Process]:
    """Every process (zombies too) in the session, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # gone meanwhile
        state, ppid, pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == session_id:
            found[int(entry.name)] = Process(int(ppid), int(pgrp), state, command or stat.split()[1])
    return found


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


class Serve:
    """`python3 dev.py serve ARGS` in a session of its own, its output (stdout and stderr) in a file."""

    def __init__(self, tmp_path: Path, *args: str, **env: str):
        self.log_path = tmp_path / "serve.log"
        self._log = open(self.log_path, "w")
        environment = cli_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}",
                                      # gunicorn's control socket: in this test's own folder, not ~/.gunicorn
                                      XDG_RUNTIME_DIR=str(tmp_path), **env)
        environment.pop("PUBLIC_BASE_URL", None)
        environment.pop("GUNICORN_BIND", None)
        self.process = subprocess.Popen([sys.executable, "dev.py", "serve", *args], cwd=PROJECT_ROOT,
                                        env=environment, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, deadline_seconds: float) -> None:
        deadline = time.monotonic() + deadline_seconds
        while text not in self.output():
            assert self.process.poll() is None, f"dev.py exited ({self.process.returncode}):\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} within {deadline_seconds}s:\n{self.output()}"
            time.sleep(0.2)

    def wait_exit(self, deadline_seconds: float) -> int:
        try:
            return self.process.wait(timeout=deadline_seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"dev.py still running {deadline_seconds}s on:\n{self.output()}")

    def children(self) -> dict[int, Process]:
        """Every process dev.py started and their own children (gunicorn's workers), still there."""
        return {pid: process for pid, process in session_processes(self.process.pid).items()
                if pid != self.process.pid}

    def close(self) -> None:
        """Whatever a failed test left running: killed, so it never outlives the test."""
        for pid in session_processes(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def serve(tmp_path):
    if not (dev.BIN / "python").exists():
        pytest.skip(f"{dev.BIN / 'python'} is missing; run `python3 dev.py test` to create it")
    if dev.needs_install(dev.VENV, dev.pyproject_digest(), set()):
        pytest.skip(f"{dev.VENV} is not installed for this pyproject.toml, so serve would run pip; "
                    "run `python3 dev.py test`, which installs it first")
    started = []

    def start(*args: str, **env: str) -> Serve:
        started.append(Serve(tmp_path, *args, **env))
        return started[-1]

    yield start
    for run in started:
        run.close()


def get(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.status


def test_serve_answers_on_the_port_it_was_given_and_stops_everything_on_sigterm(serve):
    port = free_port()
    run = serve("--port", str(port))
    address = f"http://127.0.0.1:{port}"
    run.wait_for(f"web on {address} ", START_DEADLINE_SECONDS)
    assert get(f"{address}/healthz") == 200
    children = run.children()
    master = [pid for pid, process in children.items()
              if "gunicorn" in process.command and process.ppid == run.process.pid]
    assert len(master) == 1, children
    workers = [pid for pid, process in children.items() if process.ppid == master[0]]
    assert workers, f"gunicorn's workers, in {children}"
    # gunicorn in a process group of its own, its workers with it: Ctrl-C reaches dev.py alone.
    assert {children[pid].pgrp for pid in [*master, *workers]} == set(master), children
    assert environment_of(master[0])["PUBLIC_BASE_URL"] == address
    assert "installing" not in run.output(), "serve reinstalled though the .venv is installed"

    run.process.send_signal(signal.SIGTERM)
    assert run.wait_exit(STOP_DEADLINE_SECONDS) == 0, run.output()
    assert run.children() == {}, f"left running: {run.children()}\n{run.output()}"
    assert "SIGTERM received; stopping" in run.output()


def test_the_web_process_logs_its_start_line_and_ctrl_c_stops_both(serve):
    port = free_port()
    run = serve("--port", str(port))
    run.wait_for(f"web on http://127.0.0.1:{port} ", START_DEADLINE_SECONDS)
    run.wait_for("tms_scheduler ready on sqlite:///", 10)

    # Ctrl-C in a terminal: SIGINT to the foreground process group, which holds dev.py alone.
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.wait_exit(STOP_DEADLINE_SECONDS) == 0, run.output()
    assert run.children() == {}, f"left running: {run.children()}\n{run.output()}"


def test_a_busy_port_fails_serve_naming_the_web_process(serve):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = serve("--port", str(port))
        returncode = run.wait_exit(FAIL_DEADLINE_SECONDS)
    assert returncode != 0, run.output()
    assert f"the web process (gunicorn) cannot listen on 127.0.0.1:{port}" in run.output()
    assert "web on http" not in run.output()
    assert run.children() == {}, f"left running: {run.children()}\n{run.output()}"


def test_a_web_process_that_dies_while_starting_fails_serve_and_stops_the_scheduler(serve):
    # gunicorn reads WEB_CONCURRENCY in its config file, after migrations and seed-demo passed.
    run = serve("--port", str(free_port()), WEB_CONCURRENCY="not-a-number")
    returncode = run.wait_exit(FAIL_DEADLINE_SECONDS)
    assert returncode != 0, run.output()
    assert "the web (gunicorn) process failed to start" in run.output()
    assert "web on http" not in run.output()
    assert run.children() == {}, f"left running: {run.children()}\n{run.output()}"


def test_a_scheduler_that_stops_later_stops_serve_with_a_failure(serve):
    port = free_port()
    run = serve("--port", str(port), WEB_CONCURRENCY="1")
    run.wait_for(f"web on http://127.0.0.1:{port} ", START_DEADLINE_SECONDS)
    scheduler = [pid for pid, process in run.children().items() if "flask --app wsgi scheduler" in process.command]
    assert len(scheduler) == 1, run.children()
    os.kill(scheduler[0], signal.SIGKILL)
    returncode = run.wait_exit(STOP_DEADLINE_SECONDS)
    assert returncode != 0, run.output()
    assert "the scheduler process stopped on its own (killed by SIGKILL)" in run.output()
    assert run.children() == {}, f"left running: {run.children()}\n{run.output()}"


# The install stamps, without running pip.

@pytest.fixture
def project(tmp_path, monkeypatch):
    """dev.py pointed at a project of its own in tmp_path, whose `python` records what it is asked."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    venv_dir = tmp_path / ".venv"
    (venv_dir / "bin").mkdir(parents=True)
    python = venv_dir / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'pip.log'}\nexit ${{FAKE_PIP_EXIT:-0}}\n")
    python.chmod(0o755)
    monkeypatch.setattr(dev, "ROOT", tmp_path)
    monkeypatch.setattr(dev, "VENV", venv_dir)
    monkeypatch.setattr(dev, "BIN", venv_dir / "bin")
    return tmp_path


def pip_calls(project: Path) -> list[str]:
    log = project / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_serve_reuses_what_test_installed_for_the_same_pyproject(project):
    dev.install("dev")
    assert pip_calls(project) == ["-m pip install --quiet --upgrade pip", "-m pip install --quiet -e .[dev]"]
    dev.install()
    dev.install("dev")
    assert len(pip_calls(project)) == 2, "installed again"
    digest = dev.pyproject_digest(project)
    assert sorted(p.name for p in (project / ".venv").glob(".installed-*")) == [f".installed-dev-{digest}"]


def test_test_after_serve_installs_the_dev_extras_and_a_changed_pyproject_reinstalls(project):
    dev.install()
    dev.install("dev")
    assert pip_calls(project)[1::2] == ["-m pip install --quiet -e .", "-m pip install --quiet -e .[dev]"]
    (project / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    dev.install()
    assert pip_calls(project)[-1] == "-m pip install --quiet -e ."
    digest = dev.pyproject_digest(project)
    assert sorted(p.name for p in (project / ".venv").glob(".installed-*")) == [f".installed-run-{digest}"]


def test_a_failed_pip_install_exits_non_zero_saying_so(project, monkeypatch):
    monkeypatch.setenv("FAKE_PIP_EXIT", "3")
    with pytest.raises(SystemExit) as exited:
        dev.install("dev")
    assert "pip install --quiet --upgrade pip` failed with exit code 3" in str(exited.value.code)
    assert list((project / ".venv").glob(".installed-*")) == []
