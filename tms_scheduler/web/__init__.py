"""Pages for each role, served by the same app and through the same services as the API, so the
permission table, the audit trail, reminders and the clinic's rules hold on both paths.

Server-rendered (Jinja2) with a little plain JavaScript (static/app.js); no build step, no CDN.
core.py signs in, checks every form's CSRF token and decides who sees which page.
"""
from __future__ import annotations

from flask import Flask

from . import admin, clinician, core, front_desk, outcomes, technician

PAGE_BLUEPRINTS = [front_desk.bp, technician.bp, clinician.bp, outcomes.bp, admin.bp]


def install(app: Flask) -> None:
    core.install(app, PAGE_BLUEPRINTS)
