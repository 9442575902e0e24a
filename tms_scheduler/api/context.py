"""What a view needs from the app: the runtime, the caller as an actor, and the roles it may act in."""
from __future__ import annotations

import functools
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, g, request
from flask_smorest import abort

from ..domain.roles import ROLES
from ..services import catalog
from ..services.actor import Actor
from ..services.auth import Caller, caller_for
from ..services.runtime import Runtime
from ..settings import Settings

PUBLIC_ENDPOINTS = {("POST", "/api/v1/auth/tokens")}
ZONE_CACHE_SECONDS = 60


def runtime() -> Runtime:
    return current_app.extensions["tms"].runtime


def settings() -> Settings:
    return current_app.extensions["tms"].settings


def now() -> datetime:
    return runtime().now()


def caller() -> Caller:
    return g.caller


def actor() -> Actor:
    """The signed-in caller, as the services take who makes a change."""
    return Actor(g.caller.user_id, g.caller.role)


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
    found = caller_for(runtime(), token.strip())
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

        vars(wrapper)["_roles"] = allowed  # read by the OpenAPI description and the role table test
        return wrapper

    return decorate


ALL_ROLES = ROLES


def zone_of(site_id: str) -> ZoneInfo:
    """The site's zone, for answering instants in local time.

    Zones are read for all sites at once and kept a minute per process (a site's zone
    practically never changes; this process forgets them at once when it changes one).
    """
    cache = _zone_cache()
    if site_id not in cache.get("zones", {}) or time.monotonic() - cache.get("read_at", 0) > ZONE_CACHE_SECONDS:
        cache["zones"] = catalog.site_zones(runtime())
        cache["read_at"] = time.monotonic()
    return cache["zones"][site_id]


def _zone_cache() -> dict:
    return current_app.extensions.setdefault("tms_zones", {})


def forget_zones() -> None:
    _zone_cache().clear()
