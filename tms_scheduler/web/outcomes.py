"""The outcomes page: response and remission beyond the single course."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("outcomes", __name__, url_prefix="/outcomes")
