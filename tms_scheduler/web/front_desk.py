"""The front desk's pages: the site's day board, with check-in, cancellation and moves from it."""
from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..domain.errors import DomainError
from ..services import attendance, catalog, courses
from .core import actor, menu_item, page, runtime, show_error

bp = Blueprint("front_desk", __name__, url_prefix="/desk")
menu_item("Day board", "front_desk.board", "getDayBoard")


def _day(value: str | None, zone: ZoneInfo) -> date:
    """The day asked for, or today where the site is."""
    if not value:
        return runtime().now().astimezone(zone).date()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(404)
    if not 1900 <= day.year <= 2100:
        abort(404)
    return day


@page(bp, "/board", uses="getDayBoard")
def board():
    sites = [s for s in catalog.list_sites(runtime()) if s.offers_tms]
    site_id = request.args.get("site") or (sites[0].id if sites else None)
    if site_id not in {s.id for s in sites}:
        abort(404)
    site = next(s for s in sites if s.id == site_id)
    zone = ZoneInfo(site.timezone)
    day = _day(request.args.get("date"), zone)
    try:
        the_board = courses.day_board(runtime(), site_id, day, actor())
    except DomainError as exc:
        show_error(exc)
        return redirect(url_for("front_desk.board"))
    times = sorted({s.starts_at.astimezone(zone).strftime("%H:%M") for _, entries in the_board.chairs
                    for s in (e.session for e in entries)})
    cells = {(chair.id, e.session.starts_at.astimezone(zone).strftime("%H:%M")): e
             for chair, entries in the_board.chairs for e in entries}
    return render_template("front_desk/board.html", title=f"Day board, {site.name}", sites=sites, site=site,
                           day=day, board=the_board, times=times, cells=cells, zone=site.timezone,
                           back=request.full_path)


@page(bp, "/sessions/<int:session_id>/check-in", uses="checkIn", methods=("POST",))
def check_in(session_id: int):
    back = request.form.get("back") or url_for("front_desk.board")
    try:
        attendance.check_in(runtime(), session_id, actor())
        flash("Checked in.", "done")
    except DomainError as exc:
        show_error(exc)
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("front_desk.board"))
