"""The composition root: settings in, the service's parts out, for the web app and the scheduler alike."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from .db.engine import make_engine, make_session_factory
from .services.runtime import Runtime, Texting
from .settings import Settings
from .sms.log_sender import LogSender
from .sms.sender import Sender
from .sms.twilio_sender import TwilioSender


@dataclass(frozen=True)
class Components:
    settings: Settings
    engine: Engine
    runtime: Runtime

    def dispose(self) -> None:
        self.engine.dispose()


def system_clock() -> datetime:
    return datetime.now(UTC)


def make_sender(settings: Settings) -> Sender:
    """Twilio's SDK when SMS_BACKEND is twilio; else each text to the log."""
    if settings.sms_backend != "twilio":
        return LogSender()
    assert settings.twilio_account_sid and settings.twilio_auth_token  # Settings.check() saw to it
    return TwilioSender(account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
                        api_url=settings.twilio_api_url, from_number=settings.twilio_from_number,
                        messaging_service_sid=settings.twilio_messaging_service_sid)


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] | None = None, sender: Sender | None = None,
              **engine_options) -> Components:
    engine = make_engine(settings.database_url, **engine_options)
    runtime = Runtime(
        sessions=make_session_factory(engine),
        clock=clock or system_clock,
        booking_step_minutes=settings.slot_step_minutes,
        clinic_zone=ZoneInfo(settings.clinic_timezone),
        texting=Texting(
            sender=sender or make_sender(settings),
            status_callback_url=f"{settings.public_base_url}/webhooks/twilio/status",
            lease=timedelta(seconds=settings.reminder_lease_seconds),
            max_attempts=settings.reminder_max_attempts,
            retry_base=timedelta(seconds=settings.reminder_retry_seconds),
            # SQLite takes one writer at a time: its texts go one by one.
            concurrency=1 if engine.dialect.name == "sqlite" else settings.reminder_send_concurrency,
        ),
    )
    return Components(settings, engine, runtime)
