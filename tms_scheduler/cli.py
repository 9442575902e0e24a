"""flask --app wsgi COMMAND: migrations, demo data, users, the scheduler process."""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import click
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from . import logs
from .bootstrap import Components
from .db import migrate
from .db.engine import make_engine
from .domain.errors import DomainError
from .services import auth, demo, demo_history
from .services.actor import OPERATOR
from .settings import Settings, SettingsError, secret_key_problem

users_group = AppGroup("users", help="Users who sign in.")


def _components() -> Components:
    return current_app.extensions["tms"]


def _settings():
    return _components().settings


@click.group("db", cls=AppGroup, invoke_without_command=True)
@click.pass_context
def db_group(context):
    """Database migrations (Alembic). Alone: the same as `db status`."""
    if context.invoked_subcommand is None:
        context.invoke(db_status)


@dataclass(frozen=True)
class MigrationState:
    current: str | None
    head: str
    pending: list[tuple[str, str]]  # (revision, what it does), oldest first
    known: bool  # False: the database is at a revision this code does not have (newer code ran on it)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def migration_state(engine: Engine) -> MigrationState:
    current = migrate.current_revision(engine)
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    head = migrate.head_revision()
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        return MigrationState(current, head, [], known=False)
    newest_first = script.iterate_revisions(head, current or "base")
    return MigrationState(current, head, [(r.revision, (r.doc or "").strip().split("\n")[0])
                                          for r in reversed(list(newest_first))], known=True)


@db_group.command("status")
def db_status():
    """The database's migration, the newest in the code and those still to apply; exit 1 unless at the newest."""
    try:
        state = migration_state(_components().engine)
    except Exception as exc:
        raise click.ClickException(f"database unreachable: {exc.__class__.__name__}") from None
    click.echo(f"database at {state.current}")
    click.echo(f"code's newest {state.head}")
    if not state.known:
        click.echo(f"the database is at {state.current}, which this code does not know: newer code migrated it")
        raise SystemExit(1)
    if state.at_head:
        click.echo("up to date")
        return
    click.echo(f"{len(state.pending)} pending (flask --app wsgi db upgrade applies them):")
    for revision, doc in state.pending:
        click.echo(f"  {revision}  {doc}")
    raise SystemExit(1)


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(_settings().database_url, revision)
    click.echo(f"database at {migrate.current_revision(_components().engine)}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
def db_downgrade(revision):
    """Undo migrations down to REVISION (default: one step; 'base' for all)."""
    migrate.downgrade(_settings().database_url, revision)
    click.echo(f"database at {migrate.current_revision(_components().engine)}")


@db_group.command("current")
def db_current():
    """Show the database's migration and the newest one in the code."""
    current = migrate.current_revision(_components().engine)
    head = migrate.head_revision()
    click.echo(f"{current} (head)" if current == head else f"{current} (newest is {head})")


@click.command("seed-demo")
@click.option("--history", is_flag=True,
              help="also about 30 patients mid-course, with their sessions, scores and texts up to today "
                   "(never in production)")
def seed_demo(history):
    """Load the demo clinic; running it twice changes nothing."""
    if history and _settings().is_production:
        raise click.ClickException("--history loads made-up patients: never in production")
    added = demo.seed_demo(_components().runtime)
    click.echo("\n".join(f"added {what}" for what in added) if added else "demo clinic already loaded")
    if history:
        lines = demo_history.seed_history(_components().runtime, env=_settings().env)
        click.echo("\n".join(f"added {what}" for what in lines) if lines else "demo history already loaded")
    if not _settings().is_production:
        click.echo("demo users (development only):")
        for username, role, password in demo.DEMO_USERS:
            click.echo(f"  {username:<12} {role:<12} password: {password}")


@users_group.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["front_desk", "technician", "clinician", "admin"]))
@click.option("--password", required=True,
              help="at least 12 characters, 5 of them different, without the name, not a common password")
def users_create(name, role, password):
    """Add a user who can sign in."""
    try:
        user = auth.create_user(_components().runtime, name, role, password, OPERATOR)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created user {user.username} ({user.role})")


@click.command("scheduler")
def scheduler():
    """Run the background scheduler process (APScheduler) until stopped."""
    from .scheduler.process import run

    # JSON lines on stderr, as the web process's. Each line's request id names the process: the
    # host:pid the dispatcher claims reminders under (`leased_by`), so a line and the rows it is
    # about can be matched.
    logs.configure(logging.INFO, request_id=f"scheduler-{socket.gethostname()}:{os.getpid()}")
    run(_settings())


# --- check: ready for production?

@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    why: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.name}: {self.why}"


def _read_settings(environ: Mapping[str, str]) -> tuple[Settings | None, str | None]:
    """The settings as the service reads them, and why it would refuse them (None: it starts with them).

    Refused settings are read again without production's refusals, so every other check still runs."""
    try:
        return Settings.from_env(dict(environ)), None
    except SettingsError as exc:
        problem = str(exc)
    try:
        relaxed = Settings.from_env({**environ, "TMS_ENV": "development", "SMS_BACKEND": "log"})
    except SettingsError:
        return None, problem
    backend = environ.get("SMS_BACKEND") or ("twilio" if relaxed.twilio_configured else "log")
    return replace(relaxed, env=environ.get("TMS_ENV", "development"), sms_backend=backend), problem


def _twilio_check(settings: Settings) -> Check:
    missing = [name for name, value in (("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                                        ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token)) if not value]
    if not (settings.twilio_from_number or settings.twilio_messaging_service_sid):
        missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if missing:
        return Check("Twilio", False, f"{', '.join(missing)} not set: no reminder can be sent")
    if settings.sms_backend != "twilio":
        return Check("Twilio", False, f"SMS_BACKEND={settings.sms_backend}: reminders are logged, never sent")
    sid = settings.twilio_account_sid or ""
    if not (sid.startswith("AC") and len(sid) == 34):
        return Check("Twilio", False, "TWILIO_ACCOUNT_SID is not an account SID (AC and 32 characters)")
    if urlsplit(settings.twilio_api_url).scheme != "https":
        return Check("Twilio", False, f"TWILIO_API_URL {settings.twilio_api_url} is not HTTPS")
    sender = settings.twilio_from_number or f"messaging service {settings.twilio_messaging_service_sid}"
    return Check("Twilio", True, f"texts go through {settings.twilio_api_url} from {sender}")


def _public_base_url_check(settings: Settings) -> Check:
    url = urlsplit(settings.public_base_url)
    if url.scheme != "https" or url.hostname in (None, "localhost", "127.0.0.1", "::1"):
        return Check("PUBLIC_BASE_URL", False, f"{settings.public_base_url} is not the service's public HTTPS "
                                               "address (Twilio signs its webhooks for it)")
    return Check("PUBLIC_BASE_URL", True, settings.public_base_url)


def _database_checks(settings: Settings, engine: Engine | None) -> list[Check]:
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    own = engine is None
    try:
        engine = engine or make_engine(settings.database_url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        state = migration_state(engine)
    except Exception as exc:
        return [Check("database", False, f"{where} unreachable ({exc.__class__.__name__})"),
                Check("migrations", False, "not checked: the database is unreachable")]
    finally:
        if own and engine is not None:
            engine.dispose()
    note = (" (SQLite: one machine only; N web and M scheduler processes share one PostgreSQL)"
            if make_url(settings.database_url).get_backend_name() == "sqlite" else "")
    checks = [Check("database", True, f"{where} answers{note}")]
    if not state.known:
        checks.append(Check("migrations", False, f"at {state.current}, which this code does not know "
                                                 "(newer code migrated the database)"))
    elif state.at_head:
        checks.append(Check("migrations", True, f"at {state.head}, the newest"))
    else:
        pending = ", ".join(revision for revision, _ in state.pending)
        checks.append(Check("migrations", False, f"at {state.current}, {len(state.pending)} pending ({pending}): "
                                                 "run flask --app wsgi db upgrade"))
    return checks


def readiness_checks(environ: Mapping[str, str], engine: Engine | None = None) -> list[Check]:
    """Whether the settings, the database and Twilio's settings are ready for production, one check each."""
    settings, problem = _read_settings(environ)
    checks = [Check("settings", problem is None,
                    f"the service refuses to start: {problem}" if problem else "the service starts with them")]
    if settings is None:
        return checks
    env = settings.env
    checks.append(Check("TMS_ENV", env == "production",
                        "production" if env == "production" else f"{env}, not production"))
    key = environ.get("SECRET_KEY") or None
    key_problem = secret_key_problem(key)
    if key and not key_problem:
        checks.append(Check("SECRET_KEY", True, f"{len(key)} characters, {len(set(key))} different"))
    else:
        checks.append(Check("SECRET_KEY", False, (key_problem or "") + (
            "" if key else " (without it each process makes its own at start: sign-ins neither survive a "
                           "restart nor pass between web processes)")))
    checks.append(_twilio_check(settings))
    checks.append(_public_base_url_check(settings))
    proxies = settings.trusted_proxies
    checks.append(Check("TRUSTED_PROXIES", True,
                        f"{proxies}: the client's address and scheme from X-Forwarded-For/-Proto" if proxies else
                        "0: the client's address is the connection's (set 1 behind a TLS-terminating proxy)"))
    checks.extend(_database_checks(settings, engine))
    return checks


def _report(checks: list[Check]) -> None:
    for check in checks:
        click.echo(check.line())
    failed = [check.name for check in checks if not check.ok]
    if failed:
        click.echo(f"not ready for production: {', '.join(failed)}")
        raise SystemExit(1)
    click.echo("ready for production")


@click.command("check")
def check():
    """Whether the settings, the database and Twilio's settings are ready for production; exit 1 if not."""
    _report(readiness_checks(os.environ, _components().engine))


@click.command("check")
def check_without_the_app():
    """`python -m tms_scheduler.cli check`: the same checks, for settings the app refuses to start with."""
    _report(readiness_checks(os.environ))


def register_commands(app: Flask) -> None:
    for command in (db_group, users_group, seed_demo, scheduler, check):
        app.cli.add_command(command)


if __name__ == "__main__":
    click.Group(commands={"check": check_without_the_app})()
