"""Health, readiness, the OpenAPI description and metrics."""
from __future__ import annotations

import re

from tms_scheduler.db.migrate import head_revision

HIDDEN_METHODS = {"HEAD", "OPTIONS"}


def test_healthz_answers_200_without_a_token(client):
    answer = client.get("/healthz")

    assert answer.status_code == 200
    assert answer.json["status"] == "ok"


def test_readyz_answers_200_at_the_newest_migration(client):
    answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json["migration"] == head_revision()


def test_the_openapi_description_is_served_without_a_token(client):
    answer = client.get("/openapi.json")

    assert answer.status_code == 200
    assert answer.json["openapi"].startswith("3.")


def test_the_openapi_description_lists_every_api_path_with_every_method(app, client):
    described = client.get("/openapi.json").json["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - HIDDEN_METHODS):
            if method.lower() not in described.get(path, {}):
                missing.append(f"{method} {path}")

    assert not missing, f"not in /openapi.json: {missing}"


def test_the_api_docs_page_is_served(client):
    assert client.get("/docs").status_code == 200


def test_metrics_answer_prometheus_text(client):
    client.get("/healthz")

    answer = client.get("/metrics")

    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    text = answer.get_data(as_text=True)
    assert "# TYPE tms_http_requests_total counter" in text
    assert re.search(r'tms_http_requests_total\{[^}]*endpoint="/healthz"[^}]*\} [1-9]', text)
