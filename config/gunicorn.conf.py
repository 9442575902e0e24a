"""gunicorn settings for the web process; the environment can override each."""
import logging
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
# Graceful shutdown: on SIGTERM gunicorn stops accepting, lets each worker answer the requests in flight for
# up to this long, then exits 0 (systemd's TimeoutStopSec and compose's stop_grace_period wait longer).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = "-"
errorlog = "-"
# Migrations run before the web starts (`flask --app wsgi db upgrade`), never in a worker.
preload_app = False

# Every line gunicorn and the service write is one JSON object (tms_scheduler/logs.py): time
# (RFC 3339, UTC), level, logger, message, the request id (the X-Request-ID answered), pid, and
# any exception with its database values left out. gunicorn's error log and the service's loggers
# (INFO; other libraries' warnings) go to stderr, the access log to stdout. The access line is
# built from gunicorn's atoms without the query string: a patient search carries a name or a phone
# there (%(U)s is the path alone; never %(r)s, %(q)s, or the referer %(f)s, which may hold one too).
# The database URL of the start line is logged with its password hidden.
access_log_format = "%(h)s %(m)s %(U)s %(s)s %(M)sms request_id=%({x-request-id}o)s"

_JSON_HANDLER = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id", "private"]}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "tms_scheduler": {"level": "INFO"},
        # Named, so the plain handlers gunicorn gives them are replaced by these.
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
    "handlers": {
        "stderr": {**_JSON_HANDLER, "stream": "ext://sys.stderr"},
        "stdout": {**_JSON_HANDLER, "stream": "ext://sys.stdout"},
    },
    "filters": {
        "request_id": {"()": "tms_scheduler.logs.RequestIdFilter"},
        "private": {"()": "tms_scheduler.logs.PrivateDataFilter"},
    },
    "formatters": {
        "json": {"()": "tms_scheduler.logs.JsonFormatter"},
    },
}
# Python's warnings as log lines too (the "py.warnings" logger), not as plain text on stderr.
logging.captureWarnings(True)

# No control socket: it lives at one path per user by default, so several gunicorns on
# one machine (a chain's N web processes, the tests) would take over each other's.
control_socket_disable = True


def post_worker_init(worker):
    """gunicorn's own refusals (a request line or headers over its limits: 414, 431; a malformed
    request or chunk: 400) answered in the API's JSON error shape, not gunicorn's HTML page."""
    from tms_scheduler.api.errors import answer_gunicorn_refusals_as_json

    answer_gunicorn_refusals_as_json()


# Metrics (tms_scheduler/metrics.py): every worker writes its counts into files in
# PROMETHEUS_MULTIPROC_DIR and /metrics, whichever worker answers, sums them all. The directory is
# this master's own: a fresh temporary one, removed on exit, unless the environment names one (its
# stale files from an earlier run are removed here; one directory per gunicorn).
_METRICS_DIR_CREATED = []


def on_starting(server):
    import re
    import tempfile

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        stale = re.compile(r"^(counter|histogram|summary|gauge_[a-z]+)_\d+\.db$")
        for name in os.listdir(path):
            if stale.match(name):
                os.remove(os.path.join(path, name))
    else:
        path = tempfile.mkdtemp(prefix="tms-metrics-")
        _METRICS_DIR_CREATED.append(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path  # the workers, forked after this, inherit it
    server.log.info("metrics of every worker in %s", path)


def child_exit(server, worker):
    """A worker gone: its live gauges leave the sum (its counters stay: they were counted)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    import shutil

    for path in _METRICS_DIR_CREATED:
        shutil.rmtree(path, ignore_errors=True)
