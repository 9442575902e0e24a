"""What a view needs from the app: the runtime, the caller as an actor, and the roles it may act in."""
from __future__ import annotations

import time
from datetime import datetime
from typing import NoReturn
from zoneinfo import ZoneInfo

from flask import current_app, g, request
from flask_smorest import abort

from ..logs import current_request_id
from ..services import catalog
from ..services.actor import Actor
from ..services.auth import Caller, caller_for
from ..services.runtime import Runtime
from ..settings import Settings
from . import permissions

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
    """The signed-in caller, as the services take who reads or changes something, and from where."""
    return Actor(g.caller.user_id, g.caller.role, username=g.caller.username, request_id=current_request_id(),
                 client_ip=request.remote_addr)


def anonymous() -> Actor:
    """Someone not signed in (signing in): known by the request and address only."""
    return Actor(None, "anonymous", request_id=current_request_id(), client_ip=request.remote_addr)


def authenticate_api_request() -> None:
    """Every /api/v1 call but signing in needs a valid bearer token (401), and a role its operation
    allows (403): permissions.OPERATIONS is the one table of who may do what."""
    if not request.path.startswith("/api/v1/") or request.method == "OPTIONS" or request.url_rule is None:
        return
    op = permissions.operation_for(request.method, request.url_rule.rule)
    if op is None:
        _refuse(500, "This operation has no permission rule")  # create_app refuses to start so
    if op.allowed == permissions.PUBLIC:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _refuse(401, "Sign in first: send Authorization: Bearer TOKEN")
    found = caller_for(runtime(), token.strip())
    if found is None:
        _refuse(401, "The token is unknown, expired or signed out")
    g.caller = found
    if found.role not in op.roles:
        _refuse(403, f"A {found.role} may not {op.what}; it needs {' or '.join(op.roles)}")


def _refuse(status: int, message: str) -> NoReturn:
    abort(status, message=message)
    raise AssertionError("abort raises")


def sees_phq9() -> bool:
    """Whether the caller receives PHQ-9 scores (the front desk and technicians never do)."""
    return caller().role in permissions.SEES_PHQ9


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
