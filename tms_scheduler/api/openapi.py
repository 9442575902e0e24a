"""The OpenAPI description's conventions, applied to every operation in one place.

Each operation gets its id and the roles that may call it from the permission table, and
the refusals every signed-in operation can answer (401, 403) are declared on it.
"""
from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from flask import Flask

from . import permissions


class PermissionsPlugin(BasePlugin):
    """Names each operation and says who may call it, from permissions.OPERATIONS."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or operations is None:
            return
        for method, operation in operations.items():
            op = permissions.operation_for(method.upper(), rule.rule)
            if op is None:
                continue
            operation["operationId"] = op.id
            who = permissions.allowed_phrase(op)
            operation["description"] = f"{operation.get('description', '').rstrip()}\n\n{who}".strip()
            if op.allowed != permissions.PUBLIC:
                responses = operation.setdefault("responses", {})
                responses.setdefault("401", {"$ref": "#/components/responses/Unauthorized"})
                if op.allowed != permissions.SIGNED_IN:
                    responses.setdefault("403", {"$ref": "#/components/responses/Forbidden"})


def check_every_route_has_a_rule(app: Flask) -> None:
    """Refuses an app whose API has a route without a permission rule, or a rule without a route."""
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    unruled = routes - set(permissions.BY_ROUTE)
    unrouted = set(permissions.BY_ROUTE) - routes
    if unruled or unrouted:
        raise RuntimeError(f"permissions.OPERATIONS is out of step with the routes: no rule for {sorted(unruled)}; "
                           f"no route for {sorted(unrouted)}")
