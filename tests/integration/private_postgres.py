"""A private, throw-away PostgreSQL cluster for one test module, which the module may stop, crash and restart.

The machine's shared server (TMS_TEST_POSTGRES_URL) must never be restarted: other test workers use it. A
test of what the service does when its database goes away gets a cluster of its own instead: `initdb` into
a temporary directory (trust auth, user `postgres`), `pg_ctl start` on a free port of 127.0.0.1, a database
migrated to head, and `crash()` / `start()` / `restart()` / `stop()`.

The binaries are looked for in TMS_TEST_PG_BIN, then /usr/lib/postgresql/<newest>/bin, then on PATH. Without
them the module is skipped with the reason printed (an error under TMS_REQUIRE_POSTGRES=1, as for the shared
server). PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user
(`runuser -u postgres --`) and lives in a directory of the system's temp dir that user can reach.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import REQUIRE_POSTGRES
from tms_scheduler.db import migrate

START_TIMEOUT_SECONDS = 30
OS_USER_WHEN_ROOT = "postgres"
# The cluster only has to survive the test: no fsync (an immediate stop is not an OS crash, so nothing
# committed is lost), few connections, a little memory.
SERVER_SETTINGS = ("-c fsync=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB "
                   "-c listen_addresses=127.0.0.1")


def find_bin_dir() -> Path | None:
    configured = os.environ.get("TMS_TEST_PG_BIN")
    candidates = [Path(configured)] if configured else []
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p.parent.name), reverse=True)
    candidates += versions
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """One cluster: `start()` it, `url(database)` to reach it, `crash()`/`restart()` it, `destroy()` it."""

    def __init__(self, bin_dir: Path, base: Path):
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        if self.as_root:
            # pytest's tmp_path is under a root-only directory the postgres user cannot enter.
            base = Path(tempfile.mkdtemp(prefix="tms-pg-"))
            user = pwd.getpwnam(OS_USER_WHEN_ROOT)
            os.chown(base, user.pw_uid, user.pw_gid)
        self.base = base
        self.data = base / "data"
        self.socket_dir = base / "sock"
        self.log = base / "server.log"
        self.port = 0

    # --- running the binaries

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", OS_USER_WHEN_ROOT, "--", *command]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        env.pop("PGDATA", None)
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=self.base)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                               f"{self.log_tail()}")
        return done

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "server log:\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    # --- life cycle

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        self._own_dir(self.socket_dir)

    def _own_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, exist_ok=True)
        if self.as_root:
            user = pwd.getpwnam(OS_USER_WHEN_ROOT)
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self) -> None:
        """Starts the server (on the port it had, if it ran before) and waits until it takes connections."""
        attempts = 1 if self.port else 3  # a free port may be taken by someone else before the server binds it
        for attempt in range(attempts):
            port = self.port or _free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_SECONDS),
                          "-o", f"-p {port} -k {self.socket_dir} {SERVER_SETTINGS}", "start",
                          timeout=START_TIMEOUT_SECONDS + 10)
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                continue
            self.port = port
            return

    def stop(self, mode: str = "fast") -> None:
        """`fast`: sessions are ended cleanly; `immediate`: every process is killed at once (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def crash(self) -> None:
        self.stop("immediate")

    def restart(self, down_seconds: float = 0.0, mode: str = "immediate") -> None:
        """Stops the server (`immediate`: as if it crashed), leaves it down `down_seconds`, starts it again."""
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.is_running():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    # --- databases

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with admin.connect() as connection:
                connection.execute(text(sql))
        finally:
            admin.dispose()

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (a copy of `template` if given); the URL to it."""
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def create_migrated_database(self, name: str) -> str:
        url = self.create_database(name)
        migrate.upgrade(url)
        return url


def private_postgres(base: Path) -> PrivatePostgres:
    """A started cluster in `base` (or, as root, in a temp dir of its own); skips or fails without binaries."""
    problem = None
    bin_dir = find_bin_dir()
    if bin_dir is None:
        problem = "PostgreSQL's initdb and pg_ctl not found (set TMS_TEST_PG_BIN to their directory)"
    elif os.geteuid() == 0:
        try:
            pwd.getpwnam(OS_USER_WHEN_ROOT)
        except KeyError:
            problem = f"running as root and there is no {OS_USER_WHEN_ROOT!r} OS user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            problem = "running as root and runuser is missing: PostgreSQL refuses to run as root"
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(problem)
        pytest.skip(problem)
    assert bin_dir is not None
    cluster = PrivatePostgres(bin_dir, base)
    try:
        cluster.init()
        cluster.start()
    except Exception:
        cluster.destroy()
        raise
    return cluster
