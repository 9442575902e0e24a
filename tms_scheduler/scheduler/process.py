"""The scheduler process: APScheduler running the job table, one process of any number."""
from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ..bootstrap import bootstrap
from ..settings import Settings
from .jobs import JOBS, run_job

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings) -> BlockingScheduler:
    # Jobs live in memory: APScheduler 3 cannot share a job store between processes,
    # and it need not: each job claims its own work in the database.
    runtime = bootstrap(settings).runtime
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for job in JOBS:
        scheduler.add_job(run_job, IntervalTrigger(seconds=job.every_seconds(settings)), args=(job, runtime, settings),
                          id=job.id, name=job.what, next_run_time=datetime.now(UTC))
    return scheduler


def run(settings: Settings) -> None:
    scheduler = build_scheduler(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler started with jobs: %s", ", ".join(job.id for job in JOBS))
    scheduler.start()
