"""Every periodic job, in one table with stable ids. Later work (reminders, no-shows) adds rows here."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from ..services.auth import purge_expired_tokens
from ..settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    run: Callable[[sessionmaker[Session], datetime], object]
    every_seconds: Callable[[Settings], int]
    what: str


def _purge_tokens(factory: sessionmaker[Session], now: datetime) -> int:
    removed = purge_expired_tokens(factory, now=now)
    if removed:
        log.info("purged %d expired sign-in tokens", removed)
    return removed


JOBS: tuple[Job, ...] = (
    Job("purge-expired-tokens", _purge_tokens, lambda s: 3600, "drop sign-in tokens that expired over a day ago"),
)


def run_job(job: Job, factory: sessionmaker[Session]) -> None:
    try:
        job.run(factory, datetime.now(UTC))
    except Exception:  # one failed run must not stop the scheduler; the next run tries again
        log.exception("job %s failed", job.id)
