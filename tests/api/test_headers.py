"""Headers on every answer: a strict content policy, no sniffing, no framing, no referrer; answers with
patient data are never cached; /docs works without the internet."""
from __future__ import annotations

import pytest

from tms_scheduler.api import headers


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/api/v1/sites", "/api/v1/nothing-here"])
def test_every_answer_carries_the_security_headers(front_desk, path):
    answer = front_desk.get(path)

    assert answer.headers["Content-Security-Policy"] == headers.STRICT
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_content_policy_allows_no_inline_script_and_no_other_origin():
    directives = dict(d.strip().split(" ", 1) for d in headers.STRICT.split(";"))

    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers.STRICT


def test_answers_with_patient_data_are_never_cached(front_desk):
    patient = front_desk.post("/api/v1/patients", json={"first_name": "Ivo", "last_name": "Kral",
                                                         "date_of_birth": "1961-01-02", "phone": "(714) 555-0177"})

    answer = front_desk.get(f"/api/v1/patients/{patient.json['id']}")

    assert answer.headers["Cache-Control"] == "no-store"


def test_refusals_are_not_cached_either(client):
    assert client.get("/api/v1/patients").headers["Cache-Control"] == "no-store"


def test_the_docs_page_loads_swagger_ui_from_the_service_itself(client):
    page = client.get("/docs")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "cdn" not in text and "https://" not in text and "<script>" not in text  # no inline script either
    for asset in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "init.js"):
        assert client.get(f"/docs/assets/{asset}").status_code == 200


def test_the_docs_page_may_use_inline_styles_but_never_inline_scripts(client):
    policy = client.get("/docs").headers["Content-Security-Policy"]

    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self';" in policy


def test_session_cookies_would_be_http_only_same_site_and_secure_outside_development(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the tests run as TMS_ENV=test, over plain HTTP


def test_session_cookies_are_secure_in_production(database_url):
    from tms_scheduler.app import create_app
    from tms_scheduler.settings import Settings

    app = create_app(Settings(database_url=database_url, env="production", secret_key="k" * 20 + "x" * 20,
                              twilio_account_sid="AC" + "0" * 32, twilio_auth_token="t" * 32,
                              twilio_from_number="+17145550100", sms_backend="log"))
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["tms"].engine.dispose()
