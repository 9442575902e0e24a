"""The technicians' pages: today's sessions at the site, and the treatment record form."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("technician", __name__, url_prefix="/chair")
