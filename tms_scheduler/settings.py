from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite:///instance/tms.db"


class SettingsError(RuntimeError):
    pass


# Production's SECRET_KEY: at least this long, with at least this many different characters (not one
# character repeated), and none of these placeholders in it (case aside).
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT_CHARACTERS = 8
SECRET_KEY_PLACEHOLDERS = ("change-me", "change_me", "changeme", "replace-me", "replace_me", "replaceme", "secret",
                           "placeholder", "example", "xxxxxxxx")
_MAKE_A_KEY = "make one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"


def secret_key_problem(key: str | None) -> str | None:
    """Why production refuses this SECRET_KEY, in a sentence naming it (never quoting it); None if it will do."""
    if not key:
        return f"production needs SECRET_KEY; {_MAKE_A_KEY}"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"production needs a SECRET_KEY of at least {MIN_SECRET_KEY_LENGTH} characters; {_MAKE_A_KEY}"
    lowered = key.lower()
    for placeholder in SECRET_KEY_PLACEHOLDERS:
        if placeholder in lowered:
            return f"SECRET_KEY is a placeholder (it contains {placeholder!r}), not a key; {_MAKE_A_KEY}"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:
        return (f"SECRET_KEY has fewer than {MIN_SECRET_KEY_DISTINCT_CHARACTERS} different characters, so it is no "
                f"random key; {_MAKE_A_KEY}")
    return None


def _resolve_sqlite_path(url: str) -> str:
    # A relative SQLite path is taken from the project root, so every process
    # (web, scheduler, CLI) started anywhere opens the same file.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    env: str = "development"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    sms_backend: str = "log"
    public_base_url: str = "http://127.0.0.1:5000"
    scheduler_poll_seconds: int = 30
    # A reminder claimed by a dispatcher that died is taken by another after this long.
    reminder_lease_seconds: int = 300
    # Tries of a reminder before it is `failed`; the waits between them double from the first.
    reminder_max_attempts: int = 5
    reminder_retry_seconds: int = 30
    # Texts one scheduler has in flight at once.
    reminder_send_concurrency: int = 4
    token_ttl_minutes: int = 12 * 60
    # A session still `scheduled` this long after its end is marked a no-show.
    no_show_grace_minutes: int = 120
    # How finely the service proposes alternative start times (minutes).
    slot_step_minutes: int = 15
    # The clinic's own zone: the local date of rules that belong to no site (a patient's birth date).
    clinic_timezone: str = "America/Los_Angeles"
    # Proxies in front of the web process (a TLS-terminating one: 1) whose X-Forwarded-For / -Proto /
    # -Host / -Port are believed for the client's address and the scheme; 0 (the default): none are.
    trusted_proxies: int = 0

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def twilio_configured(self) -> bool:
        return bool(
            self.twilio_account_sid
            and self.twilio_auth_token
            and (self.twilio_from_number or self.twilio_messaging_service_sid)
        )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        tms_env = env.get("TMS_ENV", "development")
        values: dict = {
            "database_url": _resolve_sqlite_path(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            "env": tms_env,
            "twilio_account_sid": env.get("TWILIO_ACCOUNT_SID") or None,
            "twilio_auth_token": env.get("TWILIO_AUTH_TOKEN") or None,
            "twilio_from_number": env.get("TWILIO_FROM_NUMBER") or None,
            "twilio_messaging_service_sid": env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            "twilio_api_url": env.get("TWILIO_API_URL", "https://api.twilio.com").rstrip("/"),
            "public_base_url": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            "clinic_timezone": env.get("CLINIC_TIMEZONE") or "America/Los_Angeles",
        }
        if env.get("SECRET_KEY"):
            values["secret_key"] = env["SECRET_KEY"]
        for name, key in (("scheduler_poll_seconds", "SCHEDULER_POLL_SECONDS"),
                          ("token_ttl_minutes", "TOKEN_TTL_MINUTES"),
                          ("no_show_grace_minutes", "NO_SHOW_GRACE_MINUTES"),
                          ("reminder_lease_seconds", "REMINDER_LEASE_SECONDS"),
                          ("reminder_max_attempts", "REMINDER_MAX_ATTEMPTS"),
                          ("reminder_retry_seconds", "REMINDER_RETRY_SECONDS"),
                          ("reminder_send_concurrency", "REMINDER_SEND_CONCURRENCY")):
            if env.get(key):
                try:
                    values[name] = int(env[key])
                except ValueError:
                    raise SettingsError(f"{key} must be a whole number, got {env[key]!r}") from None
                if values[name] <= 0:
                    raise SettingsError(f"{key} must be positive")
        if env.get("TRUSTED_PROXIES"):
            try:
                values["trusted_proxies"] = int(env["TRUSTED_PROXIES"])
            except ValueError:
                raise SettingsError(f"TRUSTED_PROXIES must be a whole number, got {env['TRUSTED_PROXIES']!r}") from None
            if values["trusted_proxies"] < 0:
                raise SettingsError("TRUSTED_PROXIES must be 0 (no proxy) or the number of proxies in front")
        settings = cls(**values)
        backend = env.get("SMS_BACKEND") or ("twilio" if settings.twilio_configured else "log")
        if backend not in ("twilio", "log"):
            raise SettingsError(f"SMS_BACKEND must be 'twilio' or 'log', got {backend!r}")
        settings = cls(**{**values, "sms_backend": backend})
        if settings.is_production and not env.get("SECRET_KEY"):  # not the random one made for development
            raise SettingsError(secret_key_problem(None))
        settings.check()
        return settings

    def check(self) -> None:
        try:
            ZoneInfo(self.clinic_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"CLINIC_TIMEZONE must be an IANA zone, got {self.clinic_timezone!r}") from None
        if self.env not in ("development", "test", "production"):
            raise SettingsError(f"TMS_ENV must be development, test or production, got {self.env!r}")
        if self.is_production and (problem := secret_key_problem(self.secret_key)):
            raise SettingsError(problem)
        if self.is_production and not self.twilio_configured:
            raise SettingsError("production needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        if self.sms_backend == "twilio" and not self.twilio_configured:
            raise SettingsError("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and a sender")
