"""The demo clinic, Oak Health Center, as the domain description gives it."""
from __future__ import annotations

from datetime import time
from typing import Any

from sqlalchemy import select

from ..db import models
from ..domain.calendar import NO_HOLIDAYS, US_CLINIC
from .auth import hash_password
from .runtime import Runtime

HOLIDAY_CALENDARS: list[dict[str, Any]] = [
    {"id": US_CLINIC.id, "name": "US clinic holidays (observed)", "country": US_CLINIC.country,
     "rules": [{"name": r.name, "offset_days": r.offset_days} for r in US_CLINIC.rules]},
    {"id": NO_HOLIDAYS.id, "name": "No holidays", "country": None, "rules": []},
]

_HOURS: dict[str, Any] = {"timezone": "America/Los_Angeles", "open_days": [1, 2, 3, 4, 5], "opens": time(7),
                          "closes": time(19),
          "holiday_calendar": "us-clinic"}
SITES: list[dict[str, Any]] = [
    {"id": "beverly-hills", "name": "Oak Health Center Beverly Hills", "offers_tms": False,
     "address": "9400 Brighton Way, Beverly Hills, CA 90210", "phone": "+13105550140", **_HOURS},
    {"id": "south-pasadena", "name": "Oak Health Center South Pasadena", "offers_tms": False,
     "address": "1115 Mission St, South Pasadena, CA 91030", "phone": "+16265550150", **_HOURS},
    {"id": "fullerton", "name": "Oak Health Center Fullerton", "offers_tms": True,
     "address": "2555 E Chapman Ave, Fullerton, CA 92831", "phone": "+17145550160", **_HOURS},
    {"id": "laguna-hills", "name": "Oak Health Center Laguna Hills", "offers_tms": True,
     "address": "24000 Alicia Pkwy, Laguna Hills, CA 92653", "phone": "+19495550170", **_HOURS},
]

CHAIRS = [
    ("fullerton", "Fullerton chair 1", "figure-8"),
    ("fullerton", "Fullerton chair 2", "figure-8"),
    ("fullerton", "Fullerton H1 chair", "h1"),
    ("laguna-hills", "Laguna Hills chair 1", "figure-8"),
    ("laguna-hills", "Laguna Hills chair 2", "figure-8"),
]

PROTOCOLS: list[dict[str, Any]] = [
    {"id": "tms-10hz-standard", "name": "10 Hz rTMS, 3,000 pulses at 120% MT", "coil": "figure-8",
     "phases": [{"sessions": 30, "days_per_week": 5}, {"sessions": 3, "days_per_week": 3},
                {"sessions": 2, "days_per_week": 2}, {"sessions": 1, "days_per_week": 1}],
     "mapping_minutes": 60, "session_minutes": 45, "sessions_per_day": 1, "min_gap_minutes": 0},
    {"id": "itbs", "name": "Intermittent theta burst (iTBS)", "coil": "figure-8",
     "phases": [{"sessions": 30, "days_per_week": 5}],
     "mapping_minutes": 60, "session_minutes": 15, "sessions_per_day": 1, "min_gap_minutes": 0},
    {"id": "deep-tms-h1", "name": "Deep TMS, H1 coil, 18 Hz", "coil": "h1",
     "phases": [{"sessions": 20, "days_per_week": 5}, {"sessions": 16, "days_per_week": 2}],
     "mapping_minutes": 60, "session_minutes": 30, "sessions_per_day": 1, "min_gap_minutes": 0},
    {"id": "accelerated-itbs", "name": "Accelerated iTBS (SAINT/SNT style)", "coil": "figure-8",
     "phases": [{"sessions": 50, "days_per_week": 5}],
     "mapping_minutes": 60, "session_minutes": 15, "sessions_per_day": 10, "min_gap_minutes": 50},
]

# One user per role. Their passwords are for the demo only and printed by seed-demo in development.
DEMO_USERS = [
    ("frontdesk", "front_desk", "oak-reception-demo"),
    ("technician", "technician", "oak-coil-room-demo"),
    ("clinician", "clinician", "oak-phq9-review-demo"),
    ("admin", "admin", "oak-office-keys-demo"),
]


def seed_demo(rt: Runtime) -> list[str]:
    """Adds what is missing of the demo clinic and never changes what is there; answers what it added."""
    added: list[str] = []
    with rt.transaction() as db:
        for row in HOLIDAY_CALENDARS:
            if db.get(models.HolidayCalendarRow, row["id"]) is None:
                db.add(models.HolidayCalendarRow(**row))
                added.append(f"holiday calendar {row['id']}")
        db.flush()
        for row in SITES:
            if db.get(models.Site, row["id"]) is None:
                db.add(models.Site(**row))
                added.append(f"site {row['id']}")
        db.flush()
        for site_id, name, coil in CHAIRS:
            exists = db.scalar(select(models.Chair.id).where(models.Chair.site_id == site_id,
                                                             models.Chair.name == name))
            if exists is None:
                db.add(models.Chair(site_id=site_id, name=name, coil=coil, active=True))
                added.append(f"chair {name}")
        for row in PROTOCOLS:
            if db.get(models.Protocol, row["id"]) is None:
                total = sum(p["sessions"] for p in row["phases"])
                db.add(models.Protocol(**row, total_sessions=total))
                added.append(f"protocol {row['id']}")
        for username, role, password in DEMO_USERS:
            if db.scalar(select(models.User.id).where(models.User.username == username)) is None:
                db.add(models.User(username=username, role=role, password_hash=hash_password(password), active=True))
                added.append(f"user {username}")
    return added
