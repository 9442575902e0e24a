"""The clinicians' pages: the worklist of courses at risk, and a course's page with its chart."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("clinician", __name__, url_prefix="/clinic")
