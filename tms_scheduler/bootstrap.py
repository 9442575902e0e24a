"""The composition root: settings in, the service's parts out, for the web app and the scheduler alike."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from .db.engine import make_engine, make_session_factory
from .services.runtime import Runtime
from .settings import Settings


@dataclass(frozen=True)
class Components:
    settings: Settings
    engine: Engine
    runtime: Runtime

    def dispose(self) -> None:
        self.engine.dispose()


def system_clock() -> datetime:
    return datetime.now(UTC)


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] | None = None,
              **engine_options) -> Components:
    engine = make_engine(settings.database_url, **engine_options)
    runtime = Runtime(
        sessions=make_session_factory(engine),
        clock=clock or system_clock,
        booking_step_minutes=settings.slot_step_minutes,
        clinic_zone=ZoneInfo(settings.clinic_timezone),
    )
    return Components(settings, engine, runtime)
