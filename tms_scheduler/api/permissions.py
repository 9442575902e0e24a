"""Who may do what: every operation of the API, its id, and the roles allowed to call it, in one table.

The app refuses to start if a route under /api/v1 has no row here or a row names no route;
a before-request check enforces the table; the OpenAPI description takes each operation's id
and roles from it; and the README's role table is generated from it
(`python -m tms_scheduler.api.permissions`).

The roles, minimum necessary:
- front desk: contact data, booking, moves, cancellations, check-in, the day board, reminders
  and call-backs; never a treatment record or a PHQ-9 score;
- technician: the day's list, check-in, completing a session with its treatment record, no-shows;
- clinician: everything clinical: treatment records, PHQ-9, progress, the worklist;
- admin: everything, including users, sites, chairs, protocols, closures, reminder policy, audit.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from ..domain.roles import ADMIN, CLINICIAN, FRONT_DESK, ROLES, TECHNICIAN

PUBLIC = "public"  # no token: signing in, Twilio's (signed) webhooks, health
SIGNED_IN = "signed_in"  # any role

EVERY_ROLE = ROLES
DESK = (FRONT_DESK, ADMIN)
CHAIRSIDE = (FRONT_DESK, TECHNICIAN, ADMIN)
TREATING = (TECHNICIAN, CLINICIAN, ADMIN)
CLINICAL = (CLINICIAN, ADMIN)
COURSE_READERS = (FRONT_DESK, TECHNICIAN, CLINICIAN, ADMIN)
ADMIN_ONLY = (ADMIN,)
# Who receives PHQ-9 scores with a course's progress (the others get progress without them).
SEES_PHQ9 = CLINICAL


@dataclass(frozen=True)
class Operation:
    id: str  # the OpenAPI operationId
    method: str
    rule: str  # the Flask URL rule
    allowed: str | tuple[str, ...]  # PUBLIC, SIGNED_IN, or the roles
    what: str  # in the clinic's words, for the README's table

    @property
    def roles(self) -> tuple[str, ...]:
        if self.allowed == PUBLIC or self.allowed == SIGNED_IN:
            return ROLES
        assert isinstance(self.allowed, tuple)
        return self.allowed


S, C, SE, P = "/api/v1/sites/<string:site_id>", "/api/v1/courses/<int:course_id>", \
    "/api/v1/sessions/<int:session_id>", "/api/v1/patients/<int:patient_id>"
U = "/api/v1/users/<int:user_id>"

OPERATIONS: tuple[Operation, ...] = (
    # signing in and users
    Operation("signIn", "POST", "/api/v1/auth/tokens", PUBLIC, "sign in"),
    Operation("signOut", "DELETE", "/api/v1/auth/tokens/current", SIGNED_IN, "sign out"),
    Operation("listUsers", "GET", "/api/v1/users", ADMIN_ONLY, "read the users"),
    Operation("createUser", "POST", "/api/v1/users", ADMIN_ONLY, "add a user"),
    Operation("disableUser", "POST", f"{U}/disable", ADMIN_ONLY,
              "disable a user (no sign-in; their tokens stop working at once)"),
    Operation("enableUser", "POST", f"{U}/enable", ADMIN_ONLY, "enable a disabled user again"),
    Operation("revokeUserTokens", "POST", f"{U}/revoke-tokens", ADMIN_ONLY, "revoke all of a user's tokens"),
    # sites, chairs, closures, protocols: every role reads them, the administrator writes them
    Operation("listSites", "GET", "/api/v1/sites", EVERY_ROLE, "read sites"),
    Operation("createSite", "POST", "/api/v1/sites", ADMIN_ONLY, "add a site"),
    Operation("getSite", "GET", S, EVERY_ROLE, "read a site"),
    Operation("updateSite", "PATCH", S, ADMIN_ONLY, "change a site"),
    Operation("listChairs", "GET", f"{S}/chairs", EVERY_ROLE, "read a site's chairs"),
    Operation("createChair", "POST", f"{S}/chairs", ADMIN_ONLY, "add a chair"),
    Operation("updateChair", "PATCH", f"{S}/chairs/<int:chair_id>", ADMIN_ONLY, "rename, retire or restore a chair"),
    Operation("takeChairOutOfService", "POST", f"{S}/chairs/<int:chair_id>/out-of-service", ADMIN_ONLY,
              "take a chair out of service"),
    Operation("listClosures", "GET", f"{S}/closures", EVERY_ROLE, "read a site's closures"),
    Operation("closeSite", "POST", f"{S}/closures", ADMIN_ONLY, "close a site for a day"),
    Operation("getReminderPolicy", "GET", f"{S}/reminder-policy", EVERY_ROLE, "read a site's reminder policy"),
    Operation("setReminderPolicy", "PUT", f"{S}/reminder-policy", ADMIN_ONLY, "set a site's reminder policy"),
    Operation("listProtocols", "GET", "/api/v1/protocols", EVERY_ROLE, "read protocols"),
    Operation("createProtocol", "POST", "/api/v1/protocols", ADMIN_ONLY, "add a protocol"),
    # the day
    Operation("getDayBoard", "GET", f"{S}/schedule", CHAIRSIDE + (CLINICIAN,), "read a site's day board"),
    Operation("getWorklist", "GET", f"{S}/worklist", CLINICAL, "read the clinicians' worklist of courses at risk"),
    # patients: contact data
    Operation("searchPatients", "GET", "/api/v1/patients", DESK + (CLINICIAN,), "find patients"),
    Operation("registerPatient", "POST", "/api/v1/patients", DESK, "register a patient"),
    Operation("getPatient", "GET", P, COURSE_READERS, "read a patient"),
    Operation("updatePatient", "PATCH", P, DESK, "change a patient's details"),
    # booking
    Operation("getAvailability", "GET", f"{S}/availability", DESK, "search the start times a course fits at"),
    Operation("findNextStarts", "GET", "/api/v1/availability", DESK, "search the next dates a course fits"),
    Operation("bookCourse", "POST", "/api/v1/courses", DESK, "book a course"),
    Operation("listCourses", "GET", "/api/v1/courses", DESK + (CLINICIAN,), "find courses"),
    Operation("getCourse", "GET", C, COURSE_READERS, "read a course"),
    Operation("cancelCourse", "POST", f"{C}/cancel", DESK + (CLINICIAN,), "cancel the rest of a course"),
    Operation("pauseCourse", "POST", f"{C}/pause", DESK + (CLINICIAN,), "pause a course"),
    Operation("resumeCourse", "POST", f"{C}/resume", DESK + (CLINICIAN,), "resume a course"),
    # clinical
    Operation("getProgress", "GET", f"{C}/progress", COURSE_READERS,
              "read a course's progress (PHQ-9 only for clinicians and admins)"),
    Operation("listAssessments", "GET", f"{C}/assessments", CLINICAL, "read PHQ-9 scores"),
    Operation("recordAssessment", "POST", f"{C}/assessments", CLINICAL, "record a PHQ-9 score"),
    Operation("getTreatmentRecord", "GET", f"{SE}/treatment-record", TREATING, "read a treatment record"),
    Operation("getOutcomes", "GET", "/api/v1/outcomes", CLINICAL, "read outcomes across courses"),
    # sessions
    Operation("getSession", "GET", SE, COURSE_READERS, "read a session"),
    Operation("getSessionHistory", "GET", f"{SE}/history", COURSE_READERS, "read a session's history"),
    Operation("checkIn", "POST", f"{SE}/check-in", CHAIRSIDE, "check a patient in"),
    Operation("completeSession", "POST", f"{SE}/complete", TREATING, "complete a session with its treatment record"),
    Operation("recordNoShow", "POST", f"{SE}/no-show", (TECHNICIAN, ADMIN), "mark a no-show"),
    Operation("cancelSession", "POST", f"{SE}/cancel", DESK, "cancel a session"),
    Operation("rescheduleSession", "POST", f"{SE}/reschedule", DESK, "move a session"),
    Operation("bookMakeup", "POST", f"{SE}/makeup", DESK, "book a make-up refused before, with an override"),
    # texts
    Operation("listSessionReminders", "GET", f"{SE}/reminders", DESK, "read a session's reminders"),
    Operation("listCourseReminders", "GET", f"{C}/reminders", DESK, "read a course's reminders"),
    Operation("resendReminder", "POST", "/api/v1/reminders/<int:reminder_id>/resend", DESK,
              "send a failed reminder again"),
    Operation("listPatientMessages", "GET", f"{P}/messages", DESK, "read a patient's texts"),
    Operation("listCallbacks", "GET", f"{S}/callbacks", DESK, "read the call-back list"),
    Operation("markCallbackDone", "POST", "/api/v1/callbacks/<int:callback_id>/done", DESK,
              "mark a call-back done"),
    # the audit trail
    Operation("listAuditEvents", "GET", "/api/v1/audit", ADMIN_ONLY, "read the audit trail"),
)

BY_ROUTE: dict[tuple[str, str], Operation] = {(op.method, op.rule): op for op in OPERATIONS}
BY_ID: dict[str, Operation] = {op.id: op for op in OPERATIONS}


def operation_for(method: str, rule: str) -> Operation | None:
    return BY_ROUTE.get((method, rule))


def openapi_path(rule: str) -> str:
    """/api/v1/courses/<int:course_id> as OpenAPI writes it: /api/v1/courses/{course_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def allowed_phrase(op: Operation) -> str:
    """Who may call an operation, in words, for its description."""
    if op.allowed == PUBLIC:
        return "No sign-in needed."
    if op.allowed == SIGNED_IN:
        return "Any signed-in user."
    return "Roles: " + ", ".join(op.roles) + "."


def role_table() -> str:
    """The README's role table, as markdown."""
    lines = ["| what | call | " + " | ".join(ROLES) + " |", "|---|---|" + ":-:|" * len(ROLES)]
    for op in OPERATIONS:
        marks = ["✓" if role in op.roles else "" for role in ROLES]
        what = f"{op.what} (no sign-in)" if op.allowed == PUBLIC else op.what
        lines.append(f"| {what} | `{op.method} {openapi_path(op.rule)}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(role_table() + "\n")
