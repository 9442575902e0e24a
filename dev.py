#!/usr/bin/env python3
"""The README's two commands, on any machine with Python 3.11+:

    python3 dev.py serve   install, migrate, load the demo clinic, run web + scheduler
    python3 dev.py test    install the test needs, run the checks (ruff, mypy, import-linter), run every test

`serve --port N` (default 5000, 0 for any free port) and `--host H` (default 127.0.0.1)
choose the web address. Ctrl-C or SIGTERM stops both processes; `serve` exits non-zero
when either process fails to start or stops on its own.

Everything goes into .venv beside this file; a second run reinstalls only if
pyproject.toml changed (`serve` reuses what `test` installed). Arguments after `test`
go to pytest; TMS_SKIP_CHECKS=1 skips the checks for a quick run of a few tests.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")

# `.venv/.installed-<extras>-<digest>`: pyproject.toml with that digest is installed with those
# extras ("run" for none, else their names joined by "+"), e.g. `.installed-dev-a3ac562ce68b8939`.
STAMP_PREFIX = ".installed-"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 15


def fail(message: str) -> None:
    sys.exit(f"dev.py: {message}")


def check_python() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py says so on an older Python instead of failing obscurely
        sys.exit(f"tms_scheduler needs Python 3.11 or newer; this is {sys.version.split()[0]}")


# ---------------------------------------------------------------------------------------------
# install

def pyproject_digest(root: Path | None = None) -> str:
    return hashlib.sha256(((root or ROOT) / "pyproject.toml").read_bytes()).hexdigest()[:16]


def stamp_name(extras: set[str], digest: str) -> str:
    return f"{STAMP_PREFIX}{'+'.join(sorted(extras)) or 'run'}-{digest}"


def installed_extras(venv_dir: Path, digest: str) -> set[str] | None:
    """The extras installed into `venv_dir` for the pyproject.toml of `digest`; None if it was not installed."""
    found: set[str] | None = None
    suffix = f"-{digest}"
    for stamp in venv_dir.glob(f"{STAMP_PREFIX}*{suffix}"):
        label = stamp.name[len(STAMP_PREFIX):-len(suffix)]
        found = (found or set()) | (set() if label == "run" else set(label.split("+")))
    return found


def needs_install(venv_dir: Path, digest: str, extras: set[str]) -> bool:
    """Whether installing with `extras` would change anything: an install with more extras
    (`dev` holds everything `serve` needs) of the same pyproject.toml will do."""
    have = installed_extras(venv_dir, digest)
    return have is None or not extras <= have


def install(*extras: str) -> None:
    check_python()
    python = BIN / "python"
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        try:
            venv.create(VENV, with_pip=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            fail(f"could not create {VENV} ({exc}); on Debian or Ubuntu, `apt-get install python3-venv` first")
    digest = pyproject_digest()
    wanted = set(extras)
    if not needs_install(VENV, digest, wanted):
        return
    wanted |= installed_extras(VENV, digest) or set()
    for stale in VENV.glob(f"{STAMP_PREFIX}*"):
        if not stale.name.endswith(f"-{digest}"):
            stale.unlink()
    target = f".[{','.join(sorted(wanted))}]" if wanted else "."
    print(f"installing {target} into {VENV}", flush=True)
    for args in (("install", "--quiet", "--upgrade", "pip"), ("install", "--quiet", "-e", target)):
        returncode = subprocess.run([str(python), "-m", "pip", *args], cwd=ROOT).returncode
        if returncode:
            fail(f"`pip {' '.join(args)}` failed with exit code {returncode}; see pip's output above")
    (VENV / stamp_name(wanted, digest)).touch()


# ---------------------------------------------------------------------------------------------
# serve

class Stopped(Exception):
    """Ctrl-C, SIGTERM or SIGHUP asked dev.py to stop."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Failed(Exception):
    """A process did not start or stopped on its own."""


class Signals:
    """Ctrl-C, SIGTERM and SIGHUP all stop `serve` the same way; a second one while stopping hurries it."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.stopping = False
        self.hurry = False
        self._deferred = 0
        self._pending = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.received is not None or self.stopping:
            self.hurry = True
            self.received = self.received or signum
            return
        self.received = signum
        if self._deferred:
            self._pending = True
        else:
            raise Stopped(signum)

    @contextlib.contextmanager
    def deferred(self):
        """No Stopped inside, so a process just started is always recorded (and so stopped)."""
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self._pending and not self._deferred:
            self._pending = False
            raise Stopped(self.received)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, not {port}")
    return port


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_problem(host: str, port: int) -> str | None:
    """Why gunicorn could not listen on host:port, found before starting anything.

    Checked first because a server already there would answer the /healthz poll below
    as if it were ours. Binds as gunicorn does (SO_REUSEADDR), so a port in TIME_WAIT is free.
    """
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def check_port(host: str, port: int) -> None:
    problem = port_problem(host, port)
    if problem:
        raise Failed(f"the web process (gunicorn) cannot listen on {host}:{port}: {problem}; "
                     "stop what uses it or choose another port: python3 dev.py serve --port N")


def healthy(url: str) -> bool:
    # No proxy: HTTP_PROXY in the environment must not carry a request meant for this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def stop(children: dict[str, subprocess.Popen], signals: Signals) -> None:
    """SIGTERM to each process group (gunicorn's workers are in its group), SIGKILL to any left after the timeout."""
    signals.stopping = True
    if not children:
        return
    for process in children.values():
        signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS

    def running() -> list[str]:
        # poll() reaps a stopped leader; its group lives on while any member (a worker) does.
        return [name for name, process in children.items()
                if process.poll() is None or group_alive(process.pid)]

    while running() and time.monotonic() < deadline and not signals.hurry:
        time.sleep(0.1)
    left = running()
    if left:
        why = "asked again" if signals.hurry else f"still running after {STOP_TIMEOUT_SECONDS} s"
        print(f"dev.py: {', '.join(left)} {why}; killing", file=sys.stderr, flush=True)
        for name in left:
            signal_group(children[name].pid, signal.SIGKILL)
    for process in children.values():
        process.wait()
    deadline = time.monotonic() + 5
    while any(group_alive(process.pid) for process in children.values()) and time.monotonic() < deadline:
        time.sleep(0.1)


def serve(argv: list[str]) -> int:
    check_python()
    if os.name == "nt":
        fail("serve needs Linux or macOS (gunicorn does not run on Windows)")
    parser = argparse.ArgumentParser(
        prog="dev.py serve",
        description="Install, migrate, load the demo clinic, then run the web process (gunicorn) and the "
                    "scheduler until Ctrl-C or SIGTERM. Exits non-zero if either fails to start or stops.")
    parser.add_argument("--host", default="127.0.0.1", help="address the web process listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=5000,
                        help="port the web process listens on (default 5000; 0 picks a free one)")
    options = parser.parse_args(argv)

    signals = Signals()
    signals.install()
    children: dict[str, subprocess.Popen] = {}
    serving = False
    try:
        host = options.host
        try:
            port = options.port or free_port(host)
        except OSError as exc:
            raise Failed(f"the web process cannot listen on {host}: {exc.strerror or exc}") from None
        check_port(host, port)
        url_host = f"[{host}]" if ":" in host else host
        address = f"http://{url_host}:{port}"
        probe_host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, url_host)
        health_url = f"http://{probe_host}:{port}/healthz"

        install()
        env = {**os.environ, "SMS_BACKEND": os.environ.get("SMS_BACKEND", "log"), "GUNICORN_BIND": f"{url_host}:{port}"}
        env.setdefault("PUBLIC_BASE_URL", address)
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        for step in (("db", "upgrade"), ("seed-demo", "--history")):
            returncode = subprocess.run([*flask, *step], cwd=ROOT, env=env).returncode
            if returncode:
                raise Failed(f"`flask --app wsgi {' '.join(step)}` failed with {describe_exit(returncode)}; "
                             "see its output above")

        check_port(host, port)  # again: the install and migrations may have taken a while
        commands = {
            "web (gunicorn)": [str(BIN / "gunicorn"), "--config", "config/gunicorn.conf.py",
                               "--bind", f"{url_host}:{port}", "wsgi:app"],
            "scheduler": [*flask, "scheduler"],
        }
        for name, command in commands.items():
            # Each in its own process group: Ctrl-C reaches dev.py alone, which stops each group once.
            with signals.deferred():
                children[name] = subprocess.Popen(command, cwd=ROOT, env=env, process_group=0)

        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not healthy(health_url):
            for name, process in children.items():
                if process.poll() is not None:
                    raise Failed(f"the {name} process failed to start ({describe_exit(process.returncode)}); "
                                 "see its output above")
            if time.monotonic() > deadline:
                raise Failed(f"the web (gunicorn) process did not answer {health_url} within "
                             f"{START_TIMEOUT_SECONDS} s")
            time.sleep(0.25)
        for name, process in children.items():
            if process.poll() is not None:
                raise Failed(f"the {name} process failed to start ({describe_exit(process.returncode)}); "
                             "see its output above")
        serving = True
        print(f"web on {address} (API docs at {address}/docs); Ctrl-C stops both processes", flush=True)
        while True:
            for name, process in children.items():
                if process.poll() is not None:
                    raise Failed(f"the {name} process stopped on its own ({describe_exit(process.returncode)}); "
                                 "stopping the other")
            time.sleep(0.5)
    except Stopped as stopped:
        print(f"dev.py: {stopped} received; stopping", file=sys.stderr, flush=True)
        returncode = 0 if serving else 128 + stopped.signum
    except Failed as failure:
        print(f"dev.py: {failure}", file=sys.stderr, flush=True)
        returncode = 1
    finally:
        stop(children, signals)
    return returncode


# The project's own checks, configured in pyproject.toml: style and bugs, types, the layers' imports.
CHECKS = (
    ("ruff", ["ruff", "check", "."]),
    ("mypy", ["mypy"]),
    ("import-linter", ["lint-imports"]),
)


def check() -> list[str]:
    """Runs every check; answers the names of those that failed."""
    failed = []
    for name, command in CHECKS:
        print(f"--- {name}", flush=True)
        if subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT).returncode != 0:
            failed.append(name)
    return failed


def test(pytest_args: list[str]) -> int:
    install("dev")
    failed = [] if os.environ.get("TMS_SKIP_CHECKS") == "1" else check()
    # loadgroup: tests marked xdist_group share a worker (and a module's expensive set-up); the
    # slowest tests are listed at the end, to keep the run's time in view.
    workers = ["-n", os.environ.get("TEST_WORKERS", "2"), "--dist", "loadgroup", "--durations=15"]
    print("--- pytest", flush=True)
    if subprocess.run([str(BIN / "python"), "-m", "pytest", *workers, *pytest_args], cwd=ROOT).returncode != 0:
        failed.append("pytest")
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve":
        sys.exit(serve(sys.argv[2:]))
    elif command == "test":
        sys.exit(test(sys.argv[2:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
