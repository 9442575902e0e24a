"""flask --app wsgi COMMAND: migrations, demo data, users, the scheduler process."""
from __future__ import annotations

import logging
import os
import socket

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import logs
from .bootstrap import Components
from .db import migrate
from .domain.errors import DomainError
from .services import auth, demo, demo_history
from .services.actor import OPERATOR

db_group = AppGroup("db", help="Database migrations (Alembic).")
users_group = AppGroup("users", help="Users who sign in.")


def _components() -> Components:
    return current_app.extensions["tms"]


def _settings():
    return _components().settings


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


def register_commands(app: Flask) -> None:
    for command in (db_group, users_group, seed_demo, scheduler):
        app.cli.add_command(command)
