"""Test data through the API, with sensible defaults a test overrides only where it matters."""
from __future__ import annotations

import itertools
from datetime import date, timedelta

_patients = itertools.count(100)


def patient_body(**overrides) -> dict:
    """A new patient each call: another phone and birth date, so no two are taken for one person."""
    n = next(_patients)
    body = {
        "first_name": "Ana", "last_name": "Lopez", "date_of_birth": str(date(1950, 1, 1) + timedelta(days=n % 20000)),
        "phone": f"(714) 555-{n % 10000:04d}", "language": "en", "sms_consent": True,
    }
    return {**body, **overrides}


def create_patient(client, **overrides) -> dict:
    answer = client.post("/api/v1/patients", json=patient_body(**overrides))
    assert answer.status_code == 201, answer.json
    return answer.json


def course_body(patient_id: int, **overrides) -> dict:
    body = {"patient_id": patient_id, "site_id": "fullerton", "protocol_id": "tms-10hz-standard",
            "start_date": "2027-03-01", "preferred_time": "09:00"}
    return {**body, **overrides}


def book_course(client, patient_id: int | None = None, **overrides) -> dict:
    if patient_id is None:
        patient_id = create_patient(client)["id"]
    answer = client.post("/api/v1/courses", json=course_body(patient_id, **overrides))
    assert answer.status_code == 201, answer.json
    return answer.json


# --- helpers for the API tests

def row_counts(db) -> dict[str, int]:
    """How many rows every table holds, to show that a refused request wrote nothing."""
    from sqlalchemy import func, select

    from tms_scheduler.db.models import Base

    with db() as session:
        return {t.name: session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


class writes_nothing:
    """`with writes_nothing(db): answer = client.post(...)` fails if any table's row count changed."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.before = row_counts(self.db)
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            after = row_counts(self.db)
            changed = {t: (self.before[t], after[t]) for t in after if after[t] != self.before.get(t)}
            assert not changed, f"a refused request wrote rows (table: before, after): {changed}"
        return False


def error_fields(answer) -> set[str]:
    """The fields an error answer blames: each path in `errors` ("phases.0.sessions"), and its top-level field."""
    errors = (answer.json or {}).get("errors") or {}
    assert all(isinstance(why, str) for why in errors.values()), f"errors is {{path: reason}}: {errors}"
    return set(errors) | {path.split(".", 1)[0] for path in errors}


def fill_fullerton_figure8_chairs(client, preferred_time: str = "09:00", start_date: str = "2027-03-01") -> list[dict]:
    """Two other patients' standard courses: both Fullerton figure-8 chairs taken at that time."""
    return [
        book_course(client, create_patient(client, first_name=f"Filler{i}", last_name="Patient")["id"],
                    preferred_time=preferred_time, start_date=start_date)
        for i in range(2)
    ]


# --- helpers for the attendance tests

LOS_ANGELES = "America/Los_Angeles"


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0):
    """An instant given as Fullerton's wall-clock time (America/Los_Angeles), in UTC."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(LOS_ANGELES)).astimezone(UTC)


def signed_in(client, role: str):
    """A fresh sign-in as the demo user of `role` at the app clock's present time.

    Tokens live 12 hours on the app clock, so a test that moves the clock far signs in again.
    """
    from tests.conftest import DEMO_PASSWORDS, RoleClient

    username, password = DEMO_PASSWORDS[role]
    answer = client.post("/api/v1/auth/tokens", json={"username": username, "password": password})
    assert answer.status_code == 201, answer.json
    return RoleClient(client, answer.json["token"])


def user_id_of(db, role: str) -> int:
    """The id of the demo user of `role`."""
    from sqlalchemy import select

    from tests.conftest import DEMO_PASSWORDS
    from tms_scheduler.db.models import User

    with db() as session:
        return session.scalar(select(User.id).where(User.username == DEMO_PASSWORDS[role][0]))


def chair_ids(client, site_id: str = "fullerton", coil: str = "figure-8") -> list[int]:
    """The site's chairs of one coil, in id order."""
    answer = client.get(f"/api/v1/sites/{site_id}/chairs")
    assert answer.status_code == 200, answer.json
    return sorted(c["id"] for c in answer.json if c["coil"] == coil)


def signed_in_at(client, clock, when, role: str = "front_desk"):
    """Moves the app clock to `when` and signs in afresh as `role` there."""
    clock.now = when
    return signed_in(client, role)


def session_number(course: dict, number: int) -> dict:
    """The course's session with that number."""
    return next(s for s in course["sessions"] if s["number"] == number)
