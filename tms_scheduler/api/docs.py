"""/docs: Swagger UI on /openapi.json, served from the pinned swagger-ui-bundle package, never a CDN."""
from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, send_from_directory

SWAGGER_UI = Path(swagger_ui_bundle.swagger_ui_path)
OWN = Path(__file__).parent / "docs_assets"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>TMS scheduler API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
"""

blp = Blueprint("docs", __name__)


@blp.get("/docs")
def page() -> Response:
    return Response(PAGE, content_type="text/html; charset=utf-8")


@blp.get("/docs/assets/<path:name>")
def asset(name: str) -> Response:
    folder = OWN if (OWN / name).is_file() else SWAGGER_UI
    return send_from_directory(folder, name, max_age=3600)
