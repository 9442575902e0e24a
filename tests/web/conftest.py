"""Pages through Flask's test client, signed in through the sign-in form as a demo user."""
from __future__ import annotations

import re

import pytest

from tests.conftest import DEMO_PASSWORDS

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class PageClient:
    """A browser-like client: keeps the session cookie, sends each form's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.csrf = ""

    def get(self, path: str, **kwargs):
        answer = self.client.get(path, **kwargs)
        found = CSRF.search(answer.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return answer

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=form, **kwargs)

    def sign_in(self, role: str) -> PageClient:
        username, password = DEMO_PASSWORDS[role]
        self.get("/sign-in")
        answer = self.post("/sign-in", {"username": username, "password": password})
        assert answer.status_code == 302, answer.get_data(as_text=True)
        self.get(answer.headers["Location"])
        return self


@pytest.fixture
def pages(app):
    """pages("front_desk") is a page client signed in as that demo user; pages() one signed in as nobody."""

    def make(role: str | None = None) -> PageClient:
        client = PageClient(app.test_client())
        return client.sign_in(role) if role else client

    return make
