"""What every use case runs with: the database, the clock, the booking step. Built by bootstrap."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from ..db.engine import transaction


@dataclass(frozen=True)
class Runtime:
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    # How finely start times are proposed and searched (minutes).
    booking_step_minutes: int = 15
    # The clinic's zone, for the local date of rules that belong to no site.
    clinic_zone: ZoneInfo = ZoneInfo("America/Los_Angeles")

    def now(self) -> datetime:
        return self.clock()

    def clinic_today(self) -> date:
        return self.now().astimezone(self.clinic_zone).date()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back whole if it raises."""
        with transaction(self.sessions) as db:
            yield db
