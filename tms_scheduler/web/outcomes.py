"""The outcomes page: response and remission beyond the single course, over the courses completed in a
period, per site and protocol, beside what patients are told; and the courses left out for want of scores."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, render_template, request

from ..api.inputs import EARLIEST_YEAR, LATEST_YEAR
from ..domain.errors import DomainError
from ..domain.outcomes import PUBLISHED_REMISSION, PUBLISHED_RESPONSE
from ..services import catalog, outcomes
from .core import actor, menu_item, page, runtime

bp = Blueprint("outcomes", __name__, url_prefix="/outcomes")
menu_item("Outcomes", "outcomes.summary", "getOutcomes")

DEFAULT_PERIOD_DAYS = 365


def _date(name: str, errors: list[str]) -> date | None:
    """The date the form sent under `name`, or None when left empty; a bad one is said in `errors`."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.append(f"{name.capitalize()}: not a date (YYYY-MM-DD)")
        return None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        errors.append(f"{name.capitalize()}: must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
        return None
    return day


@page(bp, "/", uses="getOutcomes")
def summary():
    sites = catalog.list_sites(runtime())
    protocols = catalog.list_protocols(runtime())
    errors: list[str] = []
    site_id = request.args.get("site") or None
    protocol_id = request.args.get("protocol") or None
    if site_id is not None and site_id not in {s.id for s in sites}:
        errors.append("Site: no such site")
        site_id = None
    if protocol_id is not None and protocol_id not in {p.id for p in protocols}:
        errors.append("Protocol: no such protocol")
        protocol_id = None
    until = _date("to", errors) or runtime().clinic_today()
    since = _date("from", errors) or until - timedelta(days=DEFAULT_PERIOD_DAYS)
    report = None
    if not errors:
        try:
            report = outcomes.completed_outcomes(runtime(), actor(), since=since, until=until, site_id=site_id,
                                                 protocol_id=protocol_id)
        except DomainError as exc:
            errors.append(exc.message)
    return render_template("outcomes/summary.html", title="Outcomes", sites=sites, protocols=protocols,
                           site_id=site_id, protocol_id=protocol_id, since=since, until=until, report=report,
                           errors=errors, published_response=PUBLISHED_RESPONSE,
                           published_remission=PUBLISHED_REMISSION), 422 if errors else 200
