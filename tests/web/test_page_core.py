"""What every page shares: signing in and out with a session cookie, CSRF on every form, the
permission table, private caching, and no 500 for odd input."""
from __future__ import annotations

import pytest
from flask import Blueprint

from tests.conftest import DEMO_PASSWORDS
from tms_scheduler.web import core


def test_a_page_sends_someone_not_signed_in_to_the_sign_in_page_and_back(pages):
    browser = pages()

    answer = browser.get("/desk/board?site=fullerton")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in?next=")
    username, password = DEMO_PASSWORDS["front_desk"]
    browser.get(answer.headers["Location"])
    signed_in = browser.post("/sign-in", {"username": username, "password": password,
                                          "next": "/desk/board?site=fullerton"})
    assert signed_in.headers["Location"] == "/desk/board?site=fullerton"


def test_each_role_lands_on_a_page_it_may_see(pages):
    for role in ("front_desk", "technician", "clinician", "admin"):
        browser = pages(role)
        answer = browser.get("/")
        assert answer.status_code == 302, role
        landing = browser.get(answer.headers["Location"])
        assert landing.status_code == 200, (role, answer.headers["Location"])


def test_a_wrong_password_is_refused_in_words_and_sets_no_session(pages):
    browser = pages()
    browser.get("/sign-in")

    answer = browser.post("/sign-in", {"username": "frontdesk", "password": "not-the-password"})

    assert answer.status_code == 401
    assert "The name or the password is wrong." in answer.get_data(as_text=True)
    assert browser.get("/desk/board").status_code == 302


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_sign_in_never_sends_the_browser_off_the_service(pages, target):
    browser = pages()
    browser.get("/sign-in")
    username, password = DEMO_PASSWORDS["clinician"]

    answer = browser.post("/sign-in", {"username": username, "password": password, "next": target})

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/")
    assert not answer.headers["Location"].startswith("//")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(pages):
    browser = pages("front_desk")

    refused = browser.post("/sign-out", csrf=False)
    wrong = browser.post("/sign-out", {"csrf_token": "forged"})

    assert refused.status_code == 400 and wrong.status_code == 400
    assert "did not come from this service" in refused.get_data(as_text=True)
    assert browser.get("/desk/board").status_code == 200  # still signed in


def test_signing_out_revokes_the_token_behind_the_cookie(pages):
    browser = pages("front_desk")
    cookie = browser.client.get_cookie("session")

    assert browser.post("/sign-out").status_code == 302

    assert browser.get("/desk/board").status_code == 302
    replayed = pages()
    replayed.client.set_cookie(cookie.key, cookie.value)
    assert replayed.get("/desk/board").status_code == 302  # the old cookie's token is revoked


def test_disabling_a_user_signs_their_pages_out_at_once(pages, admin, db):
    from tests.factories import user_id_of

    browser = pages("technician")
    assert browser.get("/desk/board").status_code == 200

    assert admin.post(f"/api/v1/users/{user_id_of(db, 'technician')}/disable").status_code == 200

    assert browser.get("/desk/board").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site(pages):
    browser = pages()
    browser.get("/sign-in")
    username, password = DEMO_PASSWORDS["front_desk"]

    answer = browser.post("/sign-in", {"username": username, "password": password})

    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookies_outside_development(settings, clock):
    from dataclasses import replace

    from tms_scheduler.app import create_app

    app = create_app(replace(settings, env="staging"), clock=clock)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["tms"].engine.dispose()


def test_pages_are_never_cached_and_carry_the_strict_policy(pages):
    answer = pages("front_desk").get("/desk/board")

    assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize("query", ["site=nowhere", "date=0001-01-01", "date=9999-12-31", "date=2026-13-45",
                                   "date=%00", "site=%00"])
def test_odd_input_on_a_page_is_404_not_500(pages, query):
    assert pages("front_desk").get(f"/desk/board?{query}").status_code == 404


def test_a_page_without_an_api_operation_stops_the_app_starting(app):
    from flask import Flask

    stray = Blueprint("stray", __name__)
    stray.add_url_rule("/stray", view_func=lambda: "x")
    other = Flask("other")
    other.config["SECRET_KEY"] = "x"

    with pytest.raises(RuntimeError, match="stray"):
        core.install(other, [stray])


def test_the_menu_shows_only_pages_the_role_may_see(pages):
    desk = pages("front_desk").get("/desk/board").get_data(as_text=True)

    assert "Day board" in desk
    for label, _endpoint, operation_id in core.MENU:
        if "front_desk" not in core.permissions.BY_ID[operation_id].roles:
            assert f">{label}<" not in desk, label


def test_the_pages_stylesheet_and_script_are_served(pages):
    browser = pages()
    for asset in ("/static/app.css", "/static/app.js"):
        answer = browser.get(asset)
        assert answer.status_code == 200, asset
        assert answer.get_data()
