"""Headers every answer carries: a strict Content-Security-Policy, no sniffing, no framing, no referrer,
and no caching of anything under /api/v1 (answers there carry patient data)."""
from __future__ import annotations

from flask import Flask, Response, request

# Scripts and styles from the service only; nothing embeds it; forms post to it only.
STRICT = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# Swagger UI sets style attributes on its elements: /docs alone allows inline styles (never scripts).
DOCS = STRICT.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
PRIVATE_PREFIXES = ("/api/v1/", "/webhooks/")


def install(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", DOCS if request.path.startswith("/docs") else STRICT)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith(PRIVATE_PREFIXES):
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
        return response
