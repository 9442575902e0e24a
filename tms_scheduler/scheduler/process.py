"""The scheduler process: APScheduler running the job table, one process of any number."""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, start_http_server

from .. import metrics
from ..bootstrap import bootstrap
from ..settings import Settings
from .jobs import JOBS, Context, dispatch_lag_seconds, run_job

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings) -> tuple[BlockingScheduler, Context]:
    # Jobs live in memory: APScheduler 3 cannot share a job store between processes,
    # and it need not: each job claims its own work in the database.
    runtime = bootstrap(settings).runtime
    ctx = Context(runtime, settings, worker=f"{socket.gethostname()}:{os.getpid()}",
                  metrics=metrics.Metrics(CollectorRegistry()))
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job in JOBS:
        scheduler.add_job(run_job, IntervalTrigger(seconds=job.every_seconds(settings)), args=(job, ctx),
                          id=job.id, name=job.what, next_run_time=datetime.now(UTC))
    return scheduler, ctx


# The port (and address) this scheduler serves its own /metrics on; unset: none is served.
METRICS_PORT_VARIABLE, METRICS_ADDR_VARIABLE = "SCHEDULER_METRICS_PORT", "SCHEDULER_METRICS_ADDR"


def serve_metrics(ctx: Context) -> None:
    """Each scheduler's counts (reminders by outcome, no-shows marked) and the dispatch lag, on
    http://SCHEDULER_METRICS_ADDR:SCHEDULER_METRICS_PORT/metrics (127.0.0.1 by default), if the port is set."""
    port = os.environ.get(METRICS_PORT_VARIABLE, "").strip()
    if not port or ctx.metrics is None or ctx.metrics.registry is None:
        return
    if metrics.multiprocess():
        log.warning("%s is set for the scheduler: its counts are also written there, and a gunicorn sharing "
                    "that directory would add them to the web's /metrics", metrics.MULTIPROC_DIR_VARIABLE)
    registry = ctx.metrics.registry
    registry.register(metrics.DispatchLag(lambda: dispatch_lag_seconds(ctx.runtime)))
    addr = os.environ.get(METRICS_ADDR_VARIABLE, "127.0.0.1")
    server, _thread = start_http_server(int(port), addr=addr, registry=registry)
    log.info("scheduler metrics on http://%s:%d/metrics", addr, server.server_port)


def run(settings: Settings) -> None:
    scheduler, ctx = build_scheduler(settings)
    serve_metrics(ctx)

    def stop(signum: int, _frame: object) -> None:
        # Jobs finish the batch in hand and take no more; shutdown waits for them, then the process ends.
        if ctx.stopping.is_set():
            # Another signal while the batch in hand is finished (a second Ctrl-C, SIGINT after SIGTERM):
            # a second shutdown would raise inside the exit's wait for the jobs and cut the batch short.
            log.info("scheduler already stopping (signal %d): still finishing the work in hand", signum)
            return
        log.info("scheduler stopping (signal %d): finishing the work in hand", signum)
        ctx.stopping.set()
        scheduler.shutdown(wait=False)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    log.info("scheduler %s started with jobs: %s (texts: %s)", ctx.worker, ", ".join(job.id for job in JOBS),
             ctx.runtime.texting.sender.name)
    scheduler.start()
    # The jobs still running finish the batch in hand here, while a repeated signal is still this
    # handler's to ignore; then signals are held: the interpreter's own exit restores their default
    # actions, and one arriving then would kill the process mid-exit.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    log.info("scheduler %s stopped", ctx.worker)
