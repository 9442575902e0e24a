"""What every use case runs with: the database, the clock, the booking step, the texts. Built by bootstrap."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from ..db.engine import reading, transaction
from ..sms.log_sender import LogSender
from ..sms.sender import Sender


@dataclass(frozen=True)
class Texting:
    """How reminders are sent: the sender, where Twilio reports delivery, and the dispatcher's pace."""

    sender: Sender = field(default_factory=LogSender)
    status_callback_url: str | None = None
    # A claimed reminder is another dispatcher's to take once its lease runs out (a crashed one's).
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    retry_base: timedelta = timedelta(seconds=30)
    batch: int = 50
    # Texts in flight at once within a batch (each waits mostly on Twilio); 1 sends one by one.
    concurrency: int = 4


@dataclass(frozen=True)
class Runtime:
    sessions: sessionmaker[Session]
    clock: Callable[[], datetime]
    # How finely start times are proposed and searched (minutes).
    booking_step_minutes: int = 15
    # The clinic's zone, for the local date of rules that belong to no site.
    clinic_zone: ZoneInfo = ZoneInfo("America/Los_Angeles")
    texting: Texting = field(default_factory=Texting)

    def now(self) -> datetime:
        return self.clock()

    def clinic_today(self) -> date:
        return self.now().astimezone(self.clinic_zone).date()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work that writes: committed when the block ends, rolled back whole if it raises.
        On SQLite it holds the write lock (BEGIN IMMEDIATE), so writers take turns."""
        with transaction(self.sessions) as db:
            yield db

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """One unit of work that only reads (its audit rows aside): one snapshot; on SQLite it takes no lock
        and waits for no writer, its audit rows written right after it (db.engine.reading). A flush or an
        ORM write in it is refused."""
        with reading(self.sessions) as db:
            yield db
