"""What every page shares: signing in with a session cookie, the CSRF check on every form, and who may
see which page, taken from the API's one permission table (api/permissions.py).

A page names the API operation it stands for (`uses`); its roles are that operation's, so a page can
no more drift from the API's rules than the API can. A button names its own operation and shows
only to a role that may call it (`can()` in templates). The app refuses to start with a page route
that names no operation.

Signing in issues the same kind of token as the API's sign-in (same limit on guesses, same audit
row); the token lives in Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure outside
development), so disabling a user or revoking their tokens signs their pages out at once too.
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ..api import permissions
from ..db import models
from ..domain.errors import DomainError
from ..logs import current_request_id
from ..services import auth as auth_service
from ..services import catalog
from ..services.actor import Actor
from ..services.runtime import Runtime

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")

# endpoint -> the API operation the page stands for
PAGE_RULES: dict[str, permissions.Operation] = {}
OPEN_ENDPOINTS = frozenset({"web.sign_in", "web.static"})
CSRF_FIELD = "csrf_token"
# Each role's first page after signing in.
HOME = {"front_desk": "front_desk.board", "technician": "technician.today", "clinician": "clinician.worklist",
        "admin": "admin.sites"}


def page(blueprint: Blueprint, rule: str, *, uses: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
    """Registers a page at `rule`, open to the roles that may call the API operation `uses`."""
    op = permissions.BY_ID[uses]

    def register(view: Callable) -> Callable:
        blueprint.add_url_rule(rule, view_func=view, methods=list(methods))
        PAGE_RULES[f"{blueprint.name}.{view.__name__}"] = op
        return view

    return register


def runtime() -> Runtime:
    return current_app.extensions["tms"].runtime


def actor() -> Actor:
    caller = g.caller
    return Actor(caller.user_id, caller.role, username=caller.username, request_id=current_request_id(),
                 client_ip=request.remote_addr)


def can(operation_id: str) -> bool:
    """Whether the signed-in role may call the API operation (so see its page or button)."""
    caller = g.get("caller")
    return caller is not None and caller.role in permissions.BY_ID[operation_id].roles


def page_exists(endpoint: str) -> bool:
    """Whether a page is there and the signed-in role may see it (so a link to it can be shown)."""
    op = PAGE_RULES.get(endpoint)
    return op is not None and g.get("caller") is not None and g.caller.role in op.roles


def csrf_token() -> str:
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def _csrf_ok() -> bool:
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    expected = session.get(CSRF_FIELD) or ""
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def is_page_request() -> bool:
    endpoint = request.endpoint or ""
    return endpoint in PAGE_RULES or endpoint in OPEN_ENDPOINTS or endpoint in ("web.home", "web.sign_out")


def guard_pages() -> BaseResponse | None:
    """Before every page: a form carries its CSRF token (400), the caller is signed in (else to the
    sign-in page) and their role may see the page (403)."""
    if not is_page_request() or request.endpoint == "web.static":
        return None
    if request.method == "POST" and not _csrf_ok():
        return _refusal_page(400, "This form has expired or did not come from this service. Go back, reload "
                                  "the page and try again.")
    if request.endpoint == "web.sign_in":
        return None
    token = session.get("token")
    caller = auth_service.caller_for(runtime(), token) if token else None
    if caller is None:
        session.pop("token", None)
        return redirect(url_for("web.sign_in", next=request.full_path.rstrip("?") if request.method == "GET" else None))
    g.caller = caller
    op = PAGE_RULES.get(request.endpoint or "")
    if op is not None and caller.role not in op.roles:
        return _refusal_page(403, f"A {caller.role.replace('_', ' ')} may not {op.what}.")
    return None


def _refusal_page(status: int, message: str) -> Response:
    response = Response(render_template("refused.html", status=status, message=message), status=status)
    return response


def show_error(exc: DomainError) -> None:
    """A rule the service refused, said on the page it came from."""
    flash(exc.message, "error")
    for field, why in (exc.errors or {}).items():
        flash(f"{field.replace('_', ' ')}: {why}", "error")


def safe_path(target: str | None) -> str | None:
    """`target` if it is a path of this service (where a form or a sign-in may send the browser back
    to), else None: never another site, a scheme-relative `//host` or a backslash a browser reads as one."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def back_to(default: str) -> str:
    """Where a form sends the user back to: its `back` field if a path of this service, else `default`."""
    return safe_path(request.form.get("back")) or default


def tms_sites() -> list[models.Site]:
    """The sites with TMS chairs, the ones the day's pages choose among."""
    return [s for s in catalog.list_sites(runtime()) if s.offers_tms]


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render_template("sign_in.html", next=safe_path(request.args.get("next")))
    username = request.form.get("username", "")[:200]
    password = request.form.get("password", "")[:1000]
    anonymous = Actor(None, "anonymous", request_id=current_request_id(), client_ip=request.remote_addr)
    settings = current_app.extensions["tms"].settings
    try:
        issued = auth_service.issue_token(runtime(), username, password, anonymous,
                                          ttl=timedelta(minutes=settings.token_ttl_minutes))
    except auth_service.TooManySignIns as exc:
        return render_template("sign_in.html", error="Too many wrong passwords for this name; try again in "
                                                     f"{exc.retry_after_seconds // 60 + 1} minutes.",
                               next=None), 429
    except auth_service.BadCredentials:
        return render_template("sign_in.html", error="The name or the password is wrong.", next=None), 401
    session.clear()
    session["token"] = issued.token
    csrf_token()
    return redirect(safe_path(request.form.get("next")) or home_of(issued.role))


@bp.post("/sign-out")
def sign_out():
    caller = g.caller
    auth_service.revoke_token(runtime(), caller.token_id)
    session.clear()
    return redirect(url_for("web.sign_in"))


@bp.get("/")
def home():
    return redirect(home_of(g.caller.role))


def home_of(role: str) -> str:
    """The role's first page, or the first page of the menu it may see."""
    endpoint = HOME[role]
    if endpoint in PAGE_RULES and role in PAGE_RULES[endpoint].roles:
        return url_for(endpoint)
    for _, menu_endpoint, operation_id in MENU:
        if role in permissions.BY_ID[operation_id].roles:
            return url_for(menu_endpoint)
    return url_for("web.sign_in")


def install(app: Flask, blueprints: list[Blueprint]) -> None:
    app.register_blueprint(bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.before_request(guard_pages)

    @app.after_request
    def _private(response: BaseResponse) -> BaseResponse:
        # Pages carry patients' names and appointments: never kept by a browser's or a proxy's cache.
        if is_page_request() and request.endpoint != "web.static":
            response.headers["Cache-Control"] = "no-store"
        return response
    app.jinja_env.globals.update(can=can, csrf_token=csrf_token, CSRF_FIELD=CSRF_FIELD, page_exists=page_exists)

    @app.context_processor
    def _navigation() -> dict[str, Any]:
        return {"navigation": navigation()}

    for endpoint in app.view_functions:
        blueprint_name = endpoint.split(".", 1)[0]
        if blueprint_name in {b.name for b in blueprints} and endpoint not in PAGE_RULES:
            raise RuntimeError(f"page {endpoint} names no API operation: add uses= to its page()")


# The menu: (label, endpoint, operation), each shown to the roles that may see that page.
MENU: list[tuple[str, str, str]] = []


def menu_item(label: str, endpoint: str, operation_id: str) -> None:
    MENU.append((label, endpoint, operation_id))


def navigation() -> list[tuple[str, str]]:
    if g.get("caller") is None:
        return []
    return [(label, url_for(endpoint)) for label, endpoint, operation_id in MENU if can(operation_id)]
