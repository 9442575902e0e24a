"""SQLite readers under concurrency, through gunicorn as deployed: reads no longer take the write lock.

    .venv/bin/python bench/sqlite_readers.py [--seconds 15] [--clients 10 50] [--no-postgres]

  * One database per backend, built as `flask --app wsgi seed-demo --history` builds it (the demo clinic and
    ~30 patients mid-course at Fullerton and Laguna Hills, replayed up to today on the real clock): a
    temporary SQLite file, and a throw-away PostgreSQL database (TMS_BENCH_POSTGRES, see _common.py).
  * The web process is `gunicorn --config config/gunicorn.conf.py` (WEB_CONCURRENCY=2 workers of
    GUNICORN_THREADS=4 threads, as the config sets it) serving this module's `served()`: wsgi.py's app.
  * `--immediate-reads` (a configuration of each run, not a flag to pass) serves the same app with the old
    behaviour: every SQLite transaction, reads and the token check included, opens with BEGIN IMMEDIATE
    (the engine's `tms_writes` option set for every connection) and a read writes its audit rows inside
    its own transaction (Runtime.reading is Runtime.transaction).
  * N client threads (each its own keep-alive HTTP connection, one clinician token) send, round-robin,
    the mixed reads: GET /sites/{site}/schedule?date=today (the day board), GET /courses/{id} (a course),
    GET /courses/{id}/progress; sites and active courses rotating. Each configuration: 2 s warm-up, then
    --seconds timed; p50/p95/p99 over every timed request, throughput, and any answer not 200 counted.
  * Configurations run one after another in one run: SQLite (reads deferred), SQLite --immediate-reads
    (the old behaviour), PostgreSQL; at each --clients.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
IMMEDIATE_READS = "TMS_BENCH_IMMEDIATE_READS"


def served():
    """The WSGI app gunicorn serves (in each worker): wsgi.py's, with the old SQLite behaviour if asked."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from wsgi import app

    if os.environ.get(IMMEDIATE_READS) == "1":
        from tms_scheduler.db.engine import WRITES
        from tms_scheduler.services.runtime import Runtime

        app.extensions["tms"].engine.update_execution_options(**{WRITES: True})  # every BEGIN is IMMEDIATE
        Runtime.reading = Runtime.transaction  # type: ignore[method-assign]  # audit rows inside the read
    return app


# --- the database and the web process


def seed(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from tms_scheduler.bootstrap import bootstrap
    from tms_scheduler.db import migrate
    from tms_scheduler.services import demo_history
    from tms_scheduler.services.demo import seed_demo
    from tms_scheduler.settings import Settings

    migrate.upgrade(url)
    components = bootstrap(Settings(database_url=url, env="development", secret_key="bench-secret-0123456789abcdef"))
    seed_demo(components.runtime)
    demo_history.seed_history(components.runtime, env="development")
    components.engine.dispose()


@contextmanager
def gunicorn(url: str, *, immediate_reads: bool, log_dir: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(DATABASE_URL=url, SECRET_KEY="bench-secret-0123456789abcdef-0123456789", TMS_ENV="development",
               SMS_BACKEND="log", GUNICORN_BIND=f"127.0.0.1:{port}", XDG_RUNTIME_DIR=str(log_dir),
               PYTHONPATH=str(Path(__file__).resolve().parent))
    env[IMMEDIATE_READS] = "1" if immediate_reads else "0"
    log = log_dir / f"gunicorn-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(GUNICORN), "--config", str(ROOT / "config" / "gunicorn.conf.py"),
                                    "--access-logfile", "/dev/null", "sqlite_readers:served()"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {log}:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        time.sleep(1.5)  # both workers up
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- the load


def call(connection: http.client.HTTPConnection, path: str, token: str | None = None,
         body: dict | None = None) -> tuple[int, object]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request("POST" if body is not None else "GET", path, body=data, headers=headers)
    answer = connection.getresponse()
    raw = answer.read()
    return answer.status, (json.loads(raw) if raw and raw[:1] in b"[{" else raw)


def reads_to_send(port: int) -> tuple[str, list[str]]:
    """A clinician's token and the mixed reads: the sites' day boards today, active courses and their progress."""
    from tms_scheduler.services.demo import DEMO_USERS

    username, password = next((u, p) for u, role, p in DEMO_USERS if role == "clinician")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    status, body = call(connection, "/api/v1/auth/tokens", body={"username": username, "password": password})
    assert status == 201, (status, body)
    token = body["token"]  # type: ignore[index]
    status, found = call(connection, "/api/v1/courses?status=active&limit=100", token)
    assert status == 200 and found, (status, found)
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date().isoformat()
    site_ids = sorted({c["site_id"] for c in found})  # type: ignore[index, union-attr]
    course_ids = [c["id"] for c in found][:24]  # type: ignore[index, union-attr]
    paths = []
    for i, course_id in enumerate(course_ids):
        paths += [f"/api/v1/sites/{site_ids[i % len(site_ids)]}/schedule?date={today}", f"/api/v1/courses/{course_id}",
                  f"/api/v1/courses/{course_id}/progress"]
    connection.close()
    return token, paths


def load(port: int, token: str, paths: list[str], clients: int, seconds: float, warmup: float = 2.0) -> dict:
    samples: list[float] = []
    failures: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    timing = {"from": 0.0, "until": 0.0}

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[float] = []
        bad: dict[str, int] = {}
        i = n * 7
        start.wait()
        while True:
            began = time.perf_counter()
            if began >= timing["until"]:
                break
            try:
                status, _ = call(connection, paths[i % len(paths)], token)
            except (OSError, http.client.HTTPException) as error:
                status = error.__class__.__name__  # type: ignore[assignment]
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            ended = time.perf_counter()
            if began >= timing["from"]:
                mine.append(ended - began)
                if status != 200:
                    bad[str(status)] = bad.get(str(status), 0) + 1
            i += 1
        connection.close()
        with lock:
            samples.extend(mine)
            for k, v in bad.items():
                failures[k] = failures.get(k, 0) + v

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    now = time.perf_counter()
    timing["from"], timing["until"] = now + warmup, now + warmup + seconds
    start.wait()
    for t in threads:
        t.join()
    return summary(samples, seconds, failures)


def summary(samples: list[float], seconds: float, failures: dict[str, int]) -> dict:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] * 1000

    return {"requests": len(ordered), "per_second": len(ordered) / seconds, "p50": pct(0.50), "p95": pct(0.95),
            "p99": pct(0.99), "failures": failures, "samples": samples, "seconds": seconds}


def postgres_url_for(name: str) -> str:
    server = os.environ.get("TMS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    return f"{server}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def postgres_database(name: str):
    import psycopg

    server = os.environ.get("TMS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url_for(name)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every configuration this many times, alternating, and pool the samples")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

    print("# SQLite readers through gunicorn (2 workers x 4 threads): day board, course, progress")
    print(f"reproduce: cd {ROOT} && {' '.join(shlex.quote(a) for a in ['.venv/bin/python', *sys.argv])}")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average at start "
          f"{os.getloadavg()[0]:.2f}, run at {datetime.now():%Y-%m-%d %H:%M}, {args.seconds:.0f} s per configuration")
    pooled: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="tms-bench-readers-") as tmp:
        tmp_dir = Path(tmp)
        sqlite_url = f"sqlite:///{tmp_dir / 'tms.db'}"
        seed(sqlite_url)
        configurations: list[tuple[str, str, bool]] = [("SQLite, reads deferred (now)", sqlite_url, False),
                                                       ("SQLite, --immediate-reads (before)", sqlite_url, True)]
        with nullcontext() if args.no_postgres else postgres_database(f"tms_bench_readers_{os.getpid()}") as pg_url:
            if pg_url is not None:
                seed(pg_url)
                configurations.append(("PostgreSQL", pg_url, False))
            for round_ in range(1, args.rounds + 1):
                for clients in args.clients:
                    for label, url, immediate in configurations:
                        with gunicorn(url, immediate_reads=immediate, log_dir=tmp_dir) as port:
                            token, paths = reads_to_send(port)
                            outcome = load(port, token, paths, clients, args.seconds)
                        pooled.setdefault((label, clients), []).append(outcome)
                        print(f"round {round_} {label:36} {clients:3} clients: {outcome['requests']:6} requests "
                              f"{outcome['per_second']:7.1f}/s  p50 {outcome['p50']:7.1f}  p95 {outcome['p95']:7.1f}  "
                              f"p99 {outcome['p99']:7.1f} ms  not 200: {outcome['failures'] or 0}", flush=True)
    results = []
    for (label, clients), outcomes in pooled.items():
        failures: dict[str, int] = {}
        for o in outcomes:
            for k, v in o["failures"].items():
                failures[k] = failures.get(k, 0) + v
        results.append((label, clients, summary([x for o in outcomes for x in o["samples"]],
                                                sum(o["seconds"] for o in outcomes), failures)))
    print()
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print("| configuration | clients | requests/s | p50 ms | p95 ms | p99 ms | not 200 |")
    print("|---|---|---|---|---|---|---|")
    for label, clients, o in results:
        print(f"| {label} | {clients} | {o['per_second']:.0f} | {o['p50']:.1f} | {o['p95']:.1f} | {o['p99']:.1f} | "
              f"{sum(o['failures'].values())} |")
    for clients in args.clients:
        by = {label: o for label, c, o in results if c == clients}
        now, before = by.get("SQLite, reads deferred (now)"), by.get("SQLite, --immediate-reads (before)")
        pg = by.get("PostgreSQL")
        if now and pg:
            was = f" (--immediate-reads: {before['p95'] / pg['p95']:.2f})" if before else ""
            print(f"{clients} clients: SQLite p95 / PostgreSQL p95 = {now['p95'] / pg['p95']:.2f}{was}")


if __name__ == "__main__":
    main()
