"""gunicorn settings for the web process; the environment can override each."""
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30
accesslog = "-"
errorlog = "-"
# Migrations run before the web starts (`flask --app wsgi db upgrade`), never in a worker.
preload_app = False

# gunicorn keeps its own error (stderr) and access (stdout) logs. The service's loggers,
# the worker's start line `tms_scheduler ready on <database>` among them, go to stderr at
# INFO; other libraries' warnings too. The database URL is logged with its password hidden.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING", "handlers": ["service"]},
    "loggers": {
        "tms_scheduler": {"level": "INFO", "handlers": ["service"], "propagate": False},
    },
    "handlers": {
        "service": {"class": "logging.StreamHandler", "formatter": "service", "stream": "ext://sys.stderr"},
    },
    "formatters": {
        "service": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                    "datefmt": "[%Y-%m-%d %H:%M:%S %z]"},
    },
}

# No control socket: it lives at one path per user by default, so several gunicorns on
# one machine (a chain's N web processes, the tests) would take over each other's.
control_socket_disable = True
