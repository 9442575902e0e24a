"""Prism (Stoplight's OpenAPI mock server) serving Twilio's own description of its 2010-04-01 API.

Prism checks each request against Twilio's contract (required fields, the AccountSid pattern,
Basic auth) and answers with the description's example. It is a test tool only, installed from
tests/peers/package.json by `npm ci --prefix tests/peers` (Node.js 20 or newer); the service never
depends on Node. `prism_problem()` says why Prism cannot run here, or None.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

PEERS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PEERS_DIR.parent.parent
PRISM = PEERS_DIR / "node_modules" / ".bin" / "prism"
TWILIO_OPENAPI = PROJECT_ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
# Prism 5.16.0's packages ask for Node 24.18+ in `engines`, yet run on Node 20 (tried on 20.20);
# older ones lack what its dependencies (@faker-js/faker 10) need.
MIN_NODE = 20


def _node_major(node: str) -> int | None:
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(version.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def prism_problem(spec: Path = TWILIO_OPENAPI) -> str | None:
    """Why Prism cannot be started on this machine; None if it can."""
    node = shutil.which("node")
    if node is None:
        return (f"Node.js not found (Node.js {MIN_NODE}+ runs Prism: https://nodejs.org); "
                "then run npm ci --prefix tests/peers")
    major = _node_major(node)
    if major is None or major < MIN_NODE:
        return f"Node.js {MIN_NODE}+ runs Prism; {node} is version {major or 'unknown'}"
    if not PRISM.exists():
        return f"Prism not installed: run npm ci --prefix tests/peers (no {PRISM.relative_to(PROJECT_ROOT)})"
    if not spec.exists():
        return f"Twilio's OpenAPI description not found at {spec}"
    return None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    """Whether anything answers HTTP at url (Prism answers 404 for a path of no operation)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, http.client.HTTPException):
        return False


class Prism:
    """`prism mock -h HOST -p PORT SPEC` as a child process in its own process group.

    `dynamic=True` passes `-d`: answers made up from the schema (a new sid each time) instead of
    the description's example."""

    def __init__(self, log_path: Path, spec: Path = TWILIO_OPENAPI, host: str = "127.0.0.1",
                 dynamic: bool = False):
        self.spec = spec
        self.host = host
        self.dynamic = dynamic
        self.log_path = log_path
        self.port = 0
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> Prism:
        problem = prism_problem(self.spec)
        if problem:
            raise RuntimeError(problem)
        deadline = time.monotonic() + timeout
        for attempt in range(3):  # the free port found may be taken before Prism binds it
            self.port = _free_port(self.host)
            command = [str(PRISM), "mock", "-h", self.host, "-p", str(self.port),
                       *(["-d"] if self.dynamic else []), str(self.spec)]
            # No telemetry from a test run (Prism depends on @scarf/scarf).
            env = {**os.environ, "SCARF_ANALYTICS": "false", "DO_NOT_TRACK": "1"}
            with open(self.log_path, "wb") as log:
                process = self._process = subprocess.Popen(
                    command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, process_group=0)
            while process.poll() is None and not _answers(self.url + "/"):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Prism did not answer {self.url} within {timeout:.0f} s:\n"
                                       f"{self.log()[-3000:]}")
                time.sleep(0.2)
            if process.poll() is None:
                return self
            self._process = None
            if "EADDRINUSE" not in self.log() or attempt == 2:
                break
        raise RuntimeError(f"Prism exited with code {process.returncode} before answering:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Prism:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
