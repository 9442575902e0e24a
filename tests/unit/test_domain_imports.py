"""The domain is plain Python: no framework, database, SMS or scheduler library, nothing from outside it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .clinic import PACKAGE_DIR

DOMAIN_DIR = PACKAGE_DIR / "domain"
FORBIDDEN = {"flask", "flask_smorest", "sqlalchemy", "alembic", "twilio", "apscheduler", "marshmallow", "webargs"}
MODULES = sorted(DOMAIN_DIR.glob("*.py"))


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, relative imports made absolute from tms_scheduler.domain."""
    package = ["tms_scheduler", "domain"]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names += [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                names.append(node.module)
    return names


def refused(module: str) -> bool:
    top = module.split(".")[0]
    if top in FORBIDDEN:
        return True
    inside_domain = module == "tms_scheduler.domain" or module.startswith("tms_scheduler.domain.")
    return top == "tms_scheduler" and not inside_domain


def test_the_domain_package_has_modules_to_check():
    assert {p.name for p in MODULES} >= {"planning.py", "allocation.py", "booking.py", "calendar.py",
                                          "protocols.py", "phones.py", "errors.py"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_domain_module_imports_nothing_from_frameworks_or_the_rest_of_the_service(path):
    assert [m for m in imported_modules(path) if refused(m)] == []


@pytest.mark.parametrize("source, bad", [
    ("import flask", True),
    ("from sqlalchemy.orm import Session", True),
    ("from twilio.rest import Client", True),
    ("import apscheduler.schedulers.background", True),
    ("from marshmallow import Schema", True),
    ("from ..db import models", True),
    ("from tms_scheduler.services import demo", True),
    ("from .. import settings", True),
    ("from .planning import lay_out", False),
    ("from . import errors", False),
    ("from tms_scheduler.domain.calendar import US_CLINIC", False),
    ("import holidays", False),
])
def test_the_import_check_tells_forbidden_imports_from_allowed_ones(tmp_path, source, bad):
    module = tmp_path / "probe.py"
    module.write_text(source + "\n")
    assert any(refused(m) for m in imported_modules(module)) is bad
