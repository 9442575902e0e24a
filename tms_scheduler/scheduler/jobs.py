"""Every periodic job, in one table with stable ids."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from .. import metrics
from ..db import models
from ..domain import reminders
from ..services.auth import purge_expired_tokens
from ..services.dispatch import dispatch_due
from ..services.no_shows import mark_overdue_no_shows
from ..services.reminders import plan_weekly_digests
from ..services.runtime import Runtime
from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What a job runs with: the runtime, the settings, this process's name among the schedulers,
    and whether the process is being stopped (a job finishes what it holds and takes no more)."""

    runtime: Runtime
    settings: Settings
    worker: str
    stopping: threading.Event = field(default_factory=threading.Event)
    # Where the jobs' counts go (the process's own registry); None: nowhere.
    metrics: metrics.Metrics | None = None


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[Context], object]
    every_seconds: Callable[[Settings], int]
    what: str


def _mark_no_shows(ctx: Context) -> int:
    marked = mark_overdue_no_shows(ctx.runtime, grace=timedelta(minutes=ctx.settings.no_show_grace_minutes))
    if marked:
        log.info("marked %d overdue sessions as no-shows", marked)
    return marked


def _purge_tokens(ctx: Context) -> int:
    removed = purge_expired_tokens(ctx.runtime)
    if removed:
        log.info("purged %d expired sign-in tokens", removed)
    return removed


def _dispatch_reminders(ctx: Context) -> int:
    report = dispatch_due(ctx.runtime, worker=ctx.worker, stop=ctx.stopping.is_set)
    metrics.reminders_handled(report.counts)
    if report.handled:
        log.info("reminders: %s", ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.counts.items())))
    return report.handled


def _plan_digests(ctx: Context) -> int:
    planned = plan_weekly_digests(ctx.runtime)
    if planned:
        log.info("planned %d weekly digests", planned)
    return planned


JOBS: tuple[Job, ...] = (
    Job("dispatch-reminders", _dispatch_reminders, lambda s: s.scheduler_poll_seconds,
        "send the reminders that are due, each once, through the SMS sender"),
    Job("plan-weekly-digests", _plan_digests, lambda s: s.scheduler_poll_seconds,
        "plan each site's weekly schedule texts once their moment has come"),
    Job("mark-no-shows", _mark_no_shows, lambda s: s.scheduler_poll_seconds,
        "mark sessions still scheduled a grace period after their end as no-shows, with make-ups"),
    Job("purge-expired-tokens", _purge_tokens, lambda s: 3600, "drop sign-in tokens that expired over a day ago"),
)


def run_job(job: Job, ctx: Context) -> None:
    if ctx.stopping.is_set():
        return
    try:
        if ctx.metrics is None:
            job.run(ctx)
        else:
            with metrics.recording(ctx.metrics):
                job.run(ctx)
    except Exception:  # one failed run must not stop the scheduler; the next run tries again
        log.exception("job %s failed", job.id)


def dispatch_lag_seconds(runtime: Runtime) -> float | None:
    """How long the oldest reminder that is due and still pending has waited, in seconds (0: none is);
    None when the database cannot be read (the scrape then leaves the gauge out)."""
    now = runtime.now()
    try:
        with runtime.sessions() as db:  # a read: no write transaction (SQLite's lock) per scrape
            oldest = db.scalar(select(func.min(models.Reminder.send_at))
                               .where(models.Reminder.status == reminders.PENDING, models.Reminder.send_at <= now))
    except Exception:
        log.warning("dispatch lag: the database could not be read", exc_info=True)
        return None
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
