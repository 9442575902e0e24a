"""Every periodic job, in one table with stable ids. Reminders will add their rows here."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ..services.auth import purge_expired_tokens
from ..services.no_shows import mark_overdue_no_shows
from ..services.runtime import Runtime
from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[Runtime, Settings], object]
    every_seconds: Callable[[Settings], int]
    what: str


def _mark_no_shows(rt: Runtime, settings: Settings) -> int:
    marked = mark_overdue_no_shows(rt, grace=timedelta(minutes=settings.no_show_grace_minutes))
    if marked:
        log.info("marked %d overdue sessions as no-shows", marked)
    return marked


def _purge_tokens(rt: Runtime, settings: Settings) -> int:
    removed = purge_expired_tokens(rt)
    if removed:
        log.info("purged %d expired sign-in tokens", removed)
    return removed


JOBS: tuple[Job, ...] = (
    Job("mark-no-shows", _mark_no_shows, lambda s: s.scheduler_poll_seconds,
        "mark sessions still scheduled a grace period after their end as no-shows, with make-ups"),
    Job("purge-expired-tokens", _purge_tokens, lambda s: 3600, "drop sign-in tokens that expired over a day ago"),
)


def run_job(job: Job, rt: Runtime, settings: Settings) -> None:
    try:
        job.run(rt, settings)
    except Exception:  # one failed run must not stop the scheduler; the next run tries again
        log.exception("job %s failed", job.id)
