"""API-test speed-ups that change no behaviour under test."""
from __future__ import annotations

import pytest

from tms_scheduler.services import auth as auth_service


@pytest.fixture(autouse=True)
def quick_unknown_user_check(monkeypatch, quick_password_hashing):
    """Sign-ins for unknown names verify against a dummy hash made at production cost; make it cheap too."""
    monkeypatch.setattr(auth_service, "_DUMMY_HASH", auth_service._hasher.hash("not a real password"), raising=False)
