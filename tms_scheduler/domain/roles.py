"""Who works with the service: each signed-in user has one of these roles."""
from __future__ import annotations

FRONT_DESK, TECHNICIAN, CLINICIAN, ADMIN = "front_desk", "technician", "clinician", "admin"
ROLES = (FRONT_DESK, TECHNICIAN, CLINICIAN, ADMIN)
