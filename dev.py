#!/usr/bin/env python3
"""The README's two commands, on any machine with Python 3.11+:

    python3 dev.py serve   install, migrate, load the demo clinic, run web + scheduler
    python3 dev.py test    install the test needs and run every test

Everything goes into .venv beside this file; a second run reinstalls only if
pyproject.toml changed. Arguments after `test` go to pytest.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def run(*args: str, **kwargs) -> None:
    subprocess.run(args, cwd=ROOT, check=True, **kwargs)


def install(extra: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"tms_scheduler needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{extra or 'run'}-{digest}"
    if not stamp.exists():
        run(str(BIN / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(str(BIN / "python"), "-m", "pip", "install", "--quiet", "-e", f".[{extra}]" if extra else ".")
        stamp.touch()


def serve() -> None:
    install("")
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    run(*flask, "db", "upgrade")
    run(*flask, "seed-demo")
    env = {**os.environ, "SMS_BACKEND": os.environ.get("SMS_BACKEND", "log")}
    scheduler = subprocess.Popen([*flask, "scheduler"], cwd=ROOT, env=env)
    web = subprocess.Popen([str(BIN / "gunicorn"), "--config", "config/gunicorn.conf.py", "wsgi:app"],
                           cwd=ROOT, env=env)
    print("web on http://127.0.0.1:5000 (API docs at /docs); Ctrl-C stops both processes", flush=True)
    try:
        while web.poll() is None and scheduler.poll() is None:
            try:
                web.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        for process in (web, scheduler):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (web, scheduler):
            process.wait(timeout=30)


def test(pytest_args: list[str]) -> int:
    install("dev")
    workers = ["-n", os.environ.get("TEST_WORKERS", "2")]
    return subprocess.run([str(BIN / "python"), "-m", "pytest", *workers, *pytest_args], cwd=ROOT).returncode


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "serve":
        serve()
    elif command == "test":
        sys.exit(test(sys.argv[2:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
