"""The web process: `gunicorn wsgi:app`, or `flask --app wsgi ...` for the commands."""
from tms_scheduler.app import create_app
from tms_scheduler.cli import register_commands
from tms_scheduler.settings import Settings

app = create_app(Settings.from_env())
register_commands(app)
