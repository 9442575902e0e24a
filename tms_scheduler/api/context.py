"""What a view needs from the app: the database, the clock, the caller, and the roles it may act in."""
from __future__ import annotations

import functools
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, request
from flask_smorest import abort
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..db import models
from ..services.auth import Caller, caller_for
from ..settings import Settings

PUBLIC_ENDPOINTS = {("POST", "/api/v1/auth/tokens")}
ZONE_CACHE_SECONDS = 60


def db() -> sessionmaker[Session]:
    return current_app.extensions["tms"]["sessions"]


def settings() -> Settings:
    return current_app.extensions["tms"]["settings"]


def now() -> datetime:
    return current_app.extensions["tms"]["clock"]()


def caller() -> Caller:
    return g.caller


def authenticate_api_request() -> None:
    """Every /api/v1 call but signing in needs a valid bearer token (401 otherwise)."""
    if not request.path.startswith("/api/v1/") or (request.method, request.path) in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Sign in first: send Authorization: Bearer TOKEN")
    found = caller_for(db(), token.strip(), now=now())
    if found is None:
        abort(401, message="The token is unknown, expired or signed out")
    g.caller = found


def roles(*allowed: str):
    """Lets only callers with one of `allowed` roles through (403 otherwise)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.caller.role not in allowed:
                abort(403, message=f"A {g.caller.role} may not do this; it needs {' or '.join(allowed)}")
            return view(*args, **kwargs)

        wrapper._roles = allowed  # read by the OpenAPI description and the role table test
        return wrapper

    return decorate


ALL_ROLES = tuple(models.ROLES)


def zone_of(site_id: str) -> ZoneInfo:
    """The site's zone, for answering instants in local time.

    Zones are read for all sites at once and kept a minute per process (a site's zone
    practically never changes; this process forgets them at once when it changes one).
    """
    cache = current_app.extensions["tms"]["zones"]
    if site_id not in cache.get("zones", {}) or time.monotonic() - cache.get("read_at", 0) > ZONE_CACHE_SECONDS:
        with db()() as session:
            cache["zones"] = {sid: ZoneInfo(tz) for sid, tz in session.execute(select(models.Site.id, models.Site.timezone))}
        cache["read_at"] = time.monotonic()
    return cache["zones"][site_id]


def forget_zones() -> None:
    current_app.extensions["tms"]["zones"].clear()
