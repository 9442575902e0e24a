"""The service's Prometheus metrics, for the web process and the scheduler alike (no Flask here).

One `Metrics` holds every metric object. Where the numbers are exposed decides how it is made:

- the web app under gunicorn (PROMETHEUS_MULTIPROC_DIR set, by config/gunicorn.conf.py): one
  `Metrics` per worker process writing into that directory's files, and /metrics answers the sum
  over every worker (`exposition_registry` adds prometheus_client's MultiProcessCollector);
- the web app without it (Flask's test client, `flask run`) and each scheduler process: a
  `Metrics` in a registry of its own, so two apps in one process never mix their counts.

The use cases (services/) record what happened through the functions at the bottom of this
module; each records into the `Metrics` its caller installed with `recording()` (the web app per
request, the scheduler around each job), and into nothing outside one (the command line).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """Every metric of the service, in `registry` (None: in the multiprocess directory's files)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.registry = registry
        self.http_requests = Counter("tms_http_requests", "HTTP requests answered, by route and status",
                                     ["method", "endpoint", "status"], registry=registry)
        self.http_request_seconds = Histogram("tms_http_request_seconds", "Time to answer a request, by route",
                                              ["endpoint"], registry=registry)
        self.bookings = Counter("tms_bookings", "Courses booked (API and pages)", registry=registry)
        self.booking_conflicts = Counter("tms_booking_conflicts",
                                         "Course bookings refused with 409: no free fitting chair for some session, "
                                         "or the chairs kept being taken by concurrent bookings", registry=registry)
        self.reminders = Counter("tms_reminders", "Reminders handled by the dispatcher, by outcome (sent, failed, "
                                 "retried, expired, suppressed, cancelled, taken)", ["status"], registry=registry)
        self.no_shows = Counter("tms_no_shows", "Sessions marked no-show, by who marked them (scheduler: the "
                                "overdue sweep; staff: POST /sessions/{id}/no-show or the pages)", ["marked_by"],
                                registry=registry)
        self.sign_in_failures = Counter("tms_sign_in_failures", "Refused sign-ins (API and pages), by reason "
                                        "(credentials; locked: too many failures)", ["reason"], registry=registry)


_this_process: Metrics | None = None


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_VARIABLE))


def for_web_app() -> Metrics:
    """The web app's metrics: this process's one set in multiprocess mode, else a set of its own."""
    global _this_process
    if not multiprocess():
        return Metrics(CollectorRegistry())
    # Each metric's value lives in this process's file: two objects for one name would overwrite
    # each other's counts, so every app built in this process shares one set.
    if _this_process is None:
        _this_process = Metrics(None)
    return _this_process


def exposition_registry(metrics: Metrics, *extra: Collector) -> CollectorRegistry:
    """What /metrics answers: every worker's files in multiprocess mode, else `metrics`' own registry;
    plus `extra` collectors (read at scrape)."""
    if metrics.registry is None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = metrics.registry
    for collector in extra:
        registry.register(collector)
    return registry


class DispatchLag(Collector):
    """tms_dispatch_lag_seconds, read at each scrape: how long the oldest reminder that is due and not
    sent has waited (0 when none is). `read` answers it in seconds, or None when it cannot be read."""

    def __init__(self, read: Callable[[], float | None]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        seconds = self._read()
        if seconds is None:
            return []
        return [GaugeMetricFamily("tms_dispatch_lag_seconds",
                                  "Age of the oldest due reminder still pending (0: none waits)", value=seconds)]


# --- recording, for the use cases

_current: ContextVar[Metrics | None] = ContextVar("tms_metrics", default=None)


@contextmanager
def recording(metrics: Metrics) -> Iterator[None]:
    """What the use cases record inside the block goes to `metrics`."""
    token = _current.set(metrics)
    try:
        yield
    finally:
        _current.reset(token)


def install(metrics: Metrics) -> Token[Metrics | None]:
    """Like `recording`, for hooks that cannot hold a block (before and teardown of a request): answers
    the token that `uninstall` takes."""
    return _current.set(metrics)


def uninstall(token: Token[Metrics | None]) -> None:
    try:
        _current.reset(token)
    except ValueError:  # torn down in another context than it was installed in: just stop recording
        _current.set(None)


def booked() -> None:
    if (m := _current.get()) is not None:
        m.bookings.inc()


def booking_conflict() -> None:
    if (m := _current.get()) is not None:
        m.booking_conflicts.inc()


def no_show_marked(by: str) -> None:
    if (m := _current.get()) is not None:
        m.no_shows.labels(by).inc()


def sign_in_failed(reason: str) -> None:
    if (m := _current.get()) is not None:
        m.sign_in_failures.labels(reason).inc()


def reminders_handled(counts: dict[str, int]) -> None:
    if (m := _current.get()) is not None:
        for status, n in counts.items():
            m.reminders.labels(status).inc(n)
