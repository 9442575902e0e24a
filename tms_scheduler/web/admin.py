"""The administrators' pages: sites, chairs, closures, protocols, reminder policy, users.

Each page stands for an operation only an administrator may call (api/permissions.py), so only
administrators see them. Form input is read with the API's own marshmallow schemas (api/schemas.py):
the same bounds hold on both paths (dates in the years 1900-2100, times HH:MM, bounded numbers and
text), and a refused field is a 422 page saying why. What the services refuse is said the same way.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from marshmallow import Schema, ValidationError
from werkzeug.wrappers import Response as BaseResponse

from ..api import schemas
from ..api.context import forget_zones
from ..db import models
from ..domain import reminders as reminder_rules
from ..domain.errors import DomainError, NotFound
from ..domain.protocols import COILS
from ..domain.roles import ROLES
from ..services import auth as auth_service
from ..services import catalog, disruptions
from ..services import reminders as reminder_service
from .core import actor, menu_item, page, runtime, show_error

bp = Blueprint("admin", __name__, url_prefix="/admin")
menu_item("Sites", "admin.sites", "createSite")
menu_item("Protocols", "admin.protocols", "createProtocol")
menu_item("Users", "admin.users", "listUsers")

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
RULE_KINDS = {
    reminder_rules.FIRST: "the first visit (mapping)",
    reminder_rules.EVERY: "every session",
    reminder_rules.MAKEUP: "a make-up session",
    reminder_rules.MOVED: "a moved session",
    reminder_rules.TAPER: "a taper session",
}
PHASE_ROWS = 5  # blank phase rows on the new-protocol form
SPARE_RULE_ROWS = 3  # blank rule rows below a policy's rules
MAX_RULE_ROWS = 20  # the API's bound on a policy's rules
USERS_PER_PAGE = 100
REPORT_LINES = 15  # what a closure or a chair out of service hit, said line by line up to this many
MAX_PASSWORD_LENGTH = 200
_DIGITS = re.compile(r"^-?[0-9]{1,12}$")
_PAGE = re.compile(r"^[0-9]{1,6}$")
_REPORT = "admin_report"


# --- reading forms

class Invalid(Exception):
    """Form input refused before any service saw it: {field path: why}."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("invalid form")
        self.errors = errors


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {"phases.0.sessions": "why"}."""
    if isinstance(messages, dict):
        out: dict[str, str] = {}
        for key, value in messages.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": " ".join(messages)}
    if isinstance(messages, list):
        out = {}
        for i, value in enumerate(messages):
            out.update(_flatten(value, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix or "_schema": str(messages)}


def label(path: str) -> str:
    """A field's path in words: "phases.0.sessions" -> "Phase 1, sessions"."""
    if path == "_schema":
        return "The form"
    words: list[str] = []
    for part in path.split("."):
        if part.isdigit() and words:
            words[-1] = f"{words[-1].removesuffix('s')} {int(part) + 1}"
        else:
            words.append(part.replace("_", " "))
    text = ", ".join(words)
    return text[:1].upper() + text[1:]


def _load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Invalid(_flatten(exc.messages)) from None


def _text(name: str) -> str:
    return request.form.get(name, "").strip()


def _number(value: str) -> Any:
    """A number typed into a form as an int when it is one; anything else is left for the schema to refuse."""
    value = value.strip()
    return int(value) if _DIGITS.match(value) else value


def _checked(name: str) -> bool:
    return name in request.form


def _refused(errors: dict[str, str], render: Callable[[], str]) -> tuple[str, int]:
    """The form again, with each refused field said in words: 422."""
    for path, why in errors.items():
        flash(f"{label(path)}: {why}", "error")
    return render(), 422


def _domain_refused(exc: DomainError, render: Callable[[], str]) -> tuple[str, int]:
    if isinstance(exc, NotFound):
        abort(404)
    show_error(exc)
    return render(), 422


def _site_or_404(site_id: str) -> models.Site:
    try:
        return catalog.get_site(runtime(), site_id)
    except NotFound:
        abort(404)


# --- what a disruption hit, in words, carried to the page shown after the redirect

def _local(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y} at {local:%H:%M}"


def disruption_report(site: models.Site, disruption: disruptions.Disruption, *, replan: bool) -> list[str]:
    """The sessions a closure or a chair out of service hit, and what became of each, in sentences."""
    zone = ZoneInfo(site.timezone)
    chairs = {c.id: c.name for c in catalog.list_chairs(runtime(), site.id)}

    def chair(chair_id: int) -> str:
        return chairs.get(chair_id, f"chair {chair_id}")

    affected = disruption.affected
    moved_ids = {m.session_id for m in disruption.moves}
    left = [s for s in affected if s.id not in moved_ids]
    numbers = {s.id: (s.course_id, s.number) for s in affected}
    if not affected:
        return ["It hit no booked session: nothing needs moving."]
    n = len(affected)
    summary = f"It hit {n} booked session{'s' if n != 1 else ''}"
    if not replan:
        summary += ", left where they are: move them from the day board."
    elif not left:
        summary += ", all moved."
    else:
        summary += f": {n - len(left)} moved, {len(left)} left to move (a patient already checked in stays)."
    lines = [summary]
    for m in disruption.moves:
        course_id, number = numbers.get(m.session_id, (m.course_id, None))
        which = f"course {course_id}, session {number}" if number else f"course {course_id}, a later session"
        lines.append(f"Moved {which}: from {_local(m.from_starts_at, zone)} in {chair(m.from_chair_id)} "
                     f"to {_local(m.to_starts_at, zone)} in {chair(m.to_chair_id)}.")
    for s in left:
        state = "" if s.status == "scheduled" else f" ({s.status.replace('_', ' ')})"
        lines.append(f"Still to move: course {s.course_id}, session {s.number}, "
                     f"{_local(s.starts_at, zone)} in {chair(s.chair_id)}{state}.")
    if len(lines) > REPORT_LINES + 1:
        hidden = len(lines) - REPORT_LINES - 1
        lines = [*lines[:REPORT_LINES + 1], f"... and {hidden} more (the day board of each day lists them)."]
    return lines


def _keep_report(page_name: str, title: str, lines: list[str]) -> None:
    session[_REPORT] = {"page": page_name, "title": title, "lines": lines}


def _take_report(page_name: str) -> dict[str, Any] | None:
    report = session.get(_REPORT)
    if isinstance(report, dict) and report.get("page") == page_name:
        session.pop(_REPORT)
        return report
    return None


# --- sites

def _site_form() -> dict[str, Any]:
    return {
        "name": _text("name"), "timezone": _text("timezone"), "offers_tms": _checked("offers_tms"),
        "address": request.form.get("address", "").strip(), "phone": _text("phone"),
        "open_days": [_number(d) for d in request.form.getlist("open_days")],
        "opens": _text("opens"), "closes": _text("closes"), "holiday_calendar": _text("holiday_calendar"),
    }


def _render_sites(form: Any = None) -> str:
    sites = catalog.list_sites(runtime())
    return render_template("admin/sites.html", title="Sites", sites=sites, weekdays=WEEKDAYS,
                           form=form if form is not None else {}, new=form is None)


@page(bp, "/sites", uses="createSite")
def sites():
    return _render_sites()


@page(bp, "/sites", uses="createSite", methods=("POST",))
def create_site():
    def again() -> str:
        return _render_sites(request.form)

    try:
        fields = _load(schemas.SiteCreate(), {"id": _text("id"), **_site_form()})
        site = catalog.create_site(runtime(), fields, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    forget_zones()
    flash(f"Site {site.name} added.", "done")
    return redirect(url_for("admin.site", site_id=site.id))


def _render_site(site: models.Site, form: Any = None) -> str:
    return render_template("admin/site.html", title=f"Site: {site.name}", site=site, weekdays=WEEKDAYS,
                           form=form if form is not None else {}, fresh=form is None)


@page(bp, "/sites/<string:site_id>", uses="updateSite")
def site(site_id: str):
    return _render_site(_site_or_404(site_id))


@page(bp, "/sites/<string:site_id>", uses="updateSite", methods=("POST",))
def update_site(site_id: str):
    the_site = _site_or_404(site_id)

    def again() -> str:
        return _render_site(the_site, request.form)

    try:
        fields = _load(schemas.SitePatch(), _site_form())
        changed = catalog.update_site(runtime(), site_id, fields, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    forget_zones()
    flash(f"Site {changed.name} changed.", "done")
    return redirect(url_for("admin.site", site_id=site_id))


# --- chairs

def _render_chairs(the_site: models.Site, form: Any = None, failed: int | None = None) -> str:
    chairs = catalog.list_chairs(runtime(), the_site.id)
    today = runtime().now().astimezone(ZoneInfo(the_site.timezone)).date()
    return render_template("admin/chairs.html", title=f"Chairs: {the_site.name}", site=the_site, chairs=chairs,
                           coils=COILS, today=today, form=form if form is not None else {}, failed=failed,
                           report=_take_report(f"chairs:{the_site.id}"))


@page(bp, "/sites/<string:site_id>/chairs", uses="createChair")
def chairs(site_id: str):
    return _render_chairs(_site_or_404(site_id))


@page(bp, "/sites/<string:site_id>/chairs", uses="createChair", methods=("POST",))
def create_chair(site_id: str):
    the_site = _site_or_404(site_id)

    def again() -> str:
        return _render_chairs(the_site, request.form)

    try:
        fields = _load(schemas.ChairCreate(), {"name": _text("name"), "coil": _text("coil")})
        chair = catalog.create_chair(runtime(), site_id, fields, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    flash(f"Chair {chair.name} added ({chair.coil} coil).", "done")
    return redirect(url_for("admin.chairs", site_id=site_id))


CHAIR_ACTIONS = ("rename", "retire", "restore", "back_in_service")


@page(bp, "/sites/<string:site_id>/chairs/<int:chair_id>", uses="updateChair", methods=("POST",))
def update_chair(site_id: str, chair_id: int):
    the_site = _site_or_404(site_id)
    action = request.form.get("action", "")

    def again() -> str:
        return _render_chairs(the_site, request.form, failed=chair_id)

    if action not in CHAIR_ACTIONS:
        return _refused({"action": f"one of {', '.join(CHAIR_ACTIONS)}"}, again)
    try:
        if action == "rename":
            fields = _load(schemas.ChairPatch(), {"name": _text("name")})
        elif action == "back_in_service":
            fields = {"out_of_service_from": None}
        else:
            fields = {"active": action == "restore"}
        chair = catalog.update_chair(runtime(), site_id, chair_id, fields, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    done = {"rename": f"Chair renamed {chair.name}.", "retire": f"{chair.name} retired.",
            "restore": f"{chair.name} restored.", "back_in_service": f"{chair.name} is back in service."}
    flash(done[action], "done")
    return redirect(url_for("admin.chairs", site_id=site_id))


@page(bp, "/sites/<string:site_id>/chairs/<int:chair_id>/out-of-service", uses="takeChairOutOfService",
      methods=("POST",))
def chair_out_of_service(site_id: str, chair_id: int):
    the_site = _site_or_404(site_id)

    def again() -> str:
        return _render_chairs(the_site, request.form, failed=chair_id)

    try:
        fields = _load(schemas.OutOfService(), {"from_date": _text("from_date"),
                                                "reason": request.form.get("reason", "").strip(),
                                                "replan": _checked("replan")})
        chair, hit = disruptions.retire_chair(runtime(), site_id, chair_id, fields["from_date"], fields["reason"],
                                              actor(), replan=fields["replan"])
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    day = fields["from_date"]
    flash(f"{chair.name} is out of service from {day:%A} {day.day} {day:%B %Y}.", "done")
    _keep_report(f"chairs:{site_id}", f"What taking {chair.name} out of service hit",
                 disruption_report(the_site, hit, replan=fields["replan"]))
    return redirect(url_for("admin.chairs", site_id=site_id))


# --- closures

def _render_closures(the_site: models.Site, form: Any = None) -> str:
    closures = catalog.list_closures(runtime(), the_site.id)
    today = runtime().now().astimezone(ZoneInfo(the_site.timezone)).date()
    return render_template("admin/closures.html", title=f"Closures: {the_site.name}", site=the_site,
                           closures=closures, today=today, form=form if form is not None else {},
                           report=_take_report(f"closures:{the_site.id}"))


@page(bp, "/sites/<string:site_id>/closures", uses="closeSite")
def closures(site_id: str):
    return _render_closures(_site_or_404(site_id))


@page(bp, "/sites/<string:site_id>/closures", uses="closeSite", methods=("POST",))
def close_site(site_id: str):
    the_site = _site_or_404(site_id)

    def again() -> str:
        return _render_closures(the_site, request.form)

    try:
        fields = _load(schemas.ClosureCreate(), {"date": _text("date"),
                                                 "reason": request.form.get("reason", "").strip(),
                                                 "replan": _checked("replan")})
        closure, hit = disruptions.close_site(runtime(), site_id, fields["date"], fields["reason"], actor(),
                                              replan=fields["replan"])
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    day: date = closure.date
    flash(f"{the_site.name} is closed on {day:%A} {day.day} {day:%B %Y}: {closure.reason}.", "done")
    _keep_report(f"closures:{site_id}", f"What closing on {day.isoformat()} hit",
                 disruption_report(the_site, hit, replan=fields["replan"]))
    return redirect(url_for("admin.closures", site_id=site_id))


# --- reminder policy

def _policy_rows(policy: reminder_rules.Policy) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"applies_to": r.applies_to, "minutes_before": str(r.minutes_before)}
                                  for r in policy.rules]
    spare = min(SPARE_RULE_ROWS, MAX_RULE_ROWS - len(rows))
    return rows + [{"applies_to": "", "minutes_before": ""} for _ in range(max(spare, 0))]


def _policy_form_rows() -> list[dict[str, Any]]:
    return [{"applies_to": request.form.get(f"rules-{i}-applies_to", ""),
             "minutes_before": request.form.get(f"rules-{i}-minutes_before", "")} for i in range(MAX_RULE_ROWS)
            if f"rules-{i}-applies_to" in request.form or f"rules-{i}-minutes_before" in request.form]


def _render_policy(the_site: models.Site, form: Any = None, rows: list[dict[str, Any]] | None = None) -> str:
    policy = reminder_service.get_policy(runtime(), the_site.id)
    return render_template("admin/reminder_policy.html", title=f"Reminder policy: {the_site.name}",
                           site=the_site, policy=policy, rows=rows if rows is not None else _policy_rows(policy),
                           form=form if form is not None else {}, fresh=form is None, rule_kinds=RULE_KINDS,
                           weekdays=WEEKDAYS, minutes_words=minutes_in_words)


def minutes_in_words(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))
             if n]
    return " ".join(parts) or "0 minutes"


@page(bp, "/sites/<string:site_id>/reminder-policy", uses="setReminderPolicy")
def reminder_policy(site_id: str):
    return _render_policy(_site_or_404(site_id))


@page(bp, "/sites/<string:site_id>/reminder-policy", uses="setReminderPolicy", methods=("POST",))
def set_reminder_policy(site_id: str):
    the_site = _site_or_404(site_id)
    rows = _policy_form_rows()

    def again() -> str:
        return _render_policy(the_site, request.form, rows)

    rules = [{"applies_to": r["applies_to"].strip(), "minutes_before": _number(r["minutes_before"])}
             for r in rows if r["applies_to"].strip() or r["minutes_before"].strip()]
    digest = ({"weekday": _number(_text("digest_weekday")), "time": _text("digest_time")}
              if _checked("digest") else None)
    try:
        body = _load(schemas.ReminderPolicy(), {"rules": rules, "weekly_digest": digest,
                                                "quiet_start": _text("quiet_start"), "quiet_end": _text("quiet_end")})
        policy = reminder_rules.Policy(
            rules=tuple(reminder_rules.Rule(r["applies_to"], r["minutes_before"]) for r in body["rules"]),
            digest=(reminder_rules.Digest(body["weekly_digest"]["weekday"], body["weekly_digest"]["time"])
                    if body["weekly_digest"] else None),
            quiet_start=body["quiet_start"], quiet_end=body["quiet_end"])
        reminder_service.put_policy(runtime(), site_id, policy, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    flash(f"Reminder policy of {the_site.name} set; it applies to reminders planned from now on.", "done")
    return redirect(url_for("admin.reminder_policy", site_id=site_id))


# --- protocols

def _render_protocols(form: Any = None) -> str:
    return render_template("admin/protocols.html", title="Protocols", protocols=catalog.list_protocols(runtime()),
                           coils=COILS, form=form if form is not None else {}, phase_rows=PHASE_ROWS,
                           phases_words=phases_in_words)


def phases_in_words(phases: list[dict[str, int]]) -> str:
    return ", then ".join(f"{p['sessions']} session{'s' if p['sessions'] != 1 else ''} at {p['days_per_week']} "
                          "a week" for p in phases)


@page(bp, "/protocols", uses="createProtocol")
def protocols():
    return _render_protocols()


@page(bp, "/protocols", uses="createProtocol", methods=("POST",))
def create_protocol():
    def again() -> str:
        return _render_protocols(request.form)

    phases = []
    for i in range(PHASE_ROWS):
        sessions, per_week = _text(f"phases-{i}-sessions"), _text(f"phases-{i}-days_per_week")
        if sessions or per_week:
            phases.append({"sessions": _number(sessions), "days_per_week": _number(per_week)})
    data: dict[str, Any] = {"id": _text("id"), "name": _text("name"), "coil": _text("coil"), "phases": phases,
                            "mapping_minutes": _number(_text("mapping_minutes")),
                            "session_minutes": _number(_text("session_minutes"))}
    for optional in ("sessions_per_day", "min_gap_minutes"):
        if _text(optional):
            data[optional] = _number(_text(optional))
    try:
        fields = _load(schemas.ProtocolCreate(), data)
        protocol = catalog.create_protocol(runtime(), fields, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    flash(f"Protocol {protocol.name} added: {protocol.total_sessions} sessions.", "done")
    return redirect(url_for("admin.protocols"))


# --- users

def _page_number() -> int:
    value = request.args.get("page", "1")
    if not _PAGE.match(value) or not 1 <= int(value) <= 100_000:
        abort(404)
    return int(value)


def _render_users(form: Any = None) -> str:
    number = _page_number()
    users = auth_service.list_users(runtime(), actor(), limit=USERS_PER_PAGE + 1,
                                    offset=(number - 1) * USERS_PER_PAGE)
    return render_template("admin/users.html", title="Users", users=users[:USERS_PER_PAGE],
                           more=len(users) > USERS_PER_PAGE, page_number=number, roles=ROLES,
                           form=form if form is not None else {}, me=actor().user_id)


@page(bp, "/users", uses="listUsers")
def users():
    return _render_users()


@page(bp, "/users", uses="createUser", methods=("POST",))
def create_user():
    def again() -> str:
        return _render_users(request.form)

    password = request.form.get("password", "")
    try:
        fields = _load(schemas.UserCreate(only=("username", "role")),
                       {"username": _text("username"), "role": _text("role")})
        if not password:
            raise Invalid({"password": "enter a password"})
        if len(password) > MAX_PASSWORD_LENGTH:
            raise Invalid({"password": f"at most {MAX_PASSWORD_LENGTH} characters"})
        user = auth_service.create_user(runtime(), fields["username"], fields["role"], password, actor())
    except Invalid as exc:
        return _refused(exc.errors, again)
    except DomainError as exc:
        return _domain_refused(exc, again)
    flash(f"User {user.username} added as {user.role.replace('_', ' ')}.", "done")
    return redirect(url_for("admin.users"))


def _user_change(change: Callable[[], str]) -> BaseResponse:
    try:
        flash(change(), "done")
    except NotFound:
        abort(404)
    except DomainError as exc:
        show_error(exc)
    return redirect(url_for("admin.users"))


@page(bp, "/users/<int:user_id>/disable", uses="disableUser", methods=("POST",))
def disable_user(user_id: int):
    def change() -> str:
        user = auth_service.disable_user(runtime(), user_id, actor())
        return f"{user.username} is disabled: they cannot sign in and their sign-ins in use stopped working."

    return _user_change(change)


@page(bp, "/users/<int:user_id>/enable", uses="enableUser", methods=("POST",))
def enable_user(user_id: int):
    def change() -> str:
        user = auth_service.enable_user(runtime(), user_id, actor())
        return f"{user.username} is enabled: they may sign in again."

    return _user_change(change)


@page(bp, "/users/<int:user_id>/revoke-tokens", uses="revokeUserTokens", methods=("POST",))
def revoke_user_tokens(user_id: int):
    def change() -> str:
        revoked = auth_service.revoke_user_tokens(runtime(), user_id, actor())
        return (f"{revoked.revoked} sign-in{'s' if revoked.revoked != 1 else ''} of user {user_id} revoked; "
                "they sign in again.")

    return _user_change(change)
