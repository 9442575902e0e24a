"""create_app: the web process's Flask app, around the parts bootstrap wires."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from flask import Flask, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from werkzeug.middleware.proxy_fix import ProxyFix

from . import logs, metrics, web
from .api import (
    audit,
    auth,
    availability,
    courses,
    docs,
    errors,
    headers,
    inputs,
    outcomes,
    patients,
    protocols,
    reminders,
    sessions,
    sites,
    webhooks,
)
from .api.context import authenticate_api_request
from .api.openapi import (
    RESPONSES,
    DescribedApi,
    DescriptionPlugin,
    PermissionsPlugin,
    check_every_route_has_a_rule,
    describe_health,
)
from .bootstrap import bootstrap
from .db.migrate import current_revision, head_revision
from .scheduler.jobs import dispatch_lag_seconds
from .settings import Settings

BLUEPRINTS = (auth.blp, sites.blp, protocols.blp, patients.blp, courses.blp, sessions.blp, availability.blp,
              reminders.blp, webhooks.blp, audit.blp, outcomes.blp)


def create_app(settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)  # the pages serve their own (web/static)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=inputs.MAX_BODY_BYTES,  # 413 past it, with Content-Length or chunked
        API_TITLE="TMS scheduler",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        # Sessions' cookies (the pages to come): never readable by scripts, never sent cross-site,
        # and over HTTPS only outside development.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.env != "development" and settings.env != "test",
        API_SPEC_OPTIONS={
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "responses": RESPONSES,
            },
            "security": [{"bearer": []}],
        },
    )
    logs.install(app)
    components = bootstrap(settings, clock=clock)
    engine = components.engine
    app.extensions["tms"] = components
    _add_metrics(app, components)  # first of the hooks: a request's time includes every other one's

    # Every <int:...> in a route is an id and every <string:...> a site id: bounded, else no route (404).
    app.url_map.converters["int"] = inputs.IdConverter
    app.url_map.converters["string"] = inputs.SlugConverter
    api = DescribedApi(app, spec_kwargs={"marshmallow_plugin": DescriptionPlugin(),
                                         "extra_plugins": [PermissionsPlugin()]})
    api.register_converter(inputs.IdConverter, inputs.id_parameter)
    api.register_converter(inputs.SlugConverter, inputs.slug_parameter)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    check_every_route_has_a_rule(app)
    app.register_blueprint(docs.blp)
    web.install(app)
    headers.install(app)
    errors.register(app)
    app.before_request(inputs.check_request_body)  # 415, 413, 400 before anything reads the body
    app.before_request(authenticate_api_request)
    _add_health(app, engine)
    describe_health(api.spec, app)
    if settings.trusted_proxies:  # behind a TLS-terminating proxy: its X-Forwarded-* give the client and scheme
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    logging.getLogger(__name__).info("tms_scheduler ready on %s", engine.url.render_as_string(hide_password=True))
    return app


def _add_health(app: Flask, engine) -> None:
    head = head_revision()

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = current_revision(engine)
        except Exception as exc:
            return (jsonify(status="unavailable", reason=f"database unreachable: {exc.__class__.__name__}"), 503,
                    {"Retry-After": "5"})
        if current != head:
            return (jsonify(status="unavailable", reason=f"database at migration {current}, code expects {head}"), 503,
                    {"Retry-After": "30"})
        return jsonify(status="ready", migration=current)


def _add_metrics(app: Flask, components) -> None:
    """Request counts and latency by route, the use cases' counts (tms_scheduler/metrics.py) and, read at
    each scrape, the dispatch lag. Under gunicorn (PROMETHEUS_MULTIPROC_DIR) /metrics sums every worker."""
    recorded = metrics.for_web_app()
    app.extensions["tms_metrics"] = recorded
    runtime = components.runtime
    registry = metrics.exposition_registry(recorded, metrics.DispatchLag(lambda: dispatch_lag_seconds(runtime)))

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()
        g.metrics_token = metrics.install(recorded)

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        recorded.http_requests.labels(request.method, endpoint, str(response.status_code)).inc()
        if "started" in g:
            recorded.http_request_seconds.labels(endpoint).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def _stop_recording(_exc):
        token = g.pop("metrics_token", None)
        if token is not None:
            metrics.uninstall(token)

    @app.get("/metrics", endpoint="metrics")
    def metrics_endpoint():
        return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST}
