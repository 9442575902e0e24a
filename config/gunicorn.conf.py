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
