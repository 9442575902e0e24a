"""Text reminders: which a session is owed, when each may go, and what a patient's reply means.

The rules (DOMAIN.md, Text reminders):
- A site's policy names rules by what they apply to (`first`, `every`, `makeup`, `moved`,
  `taper`) and how long before the session they go, a weekly digest, and quiet hours.
- Nothing is sent in quiet hours (the site's local time): a text falling due then goes at
  the next allowed moment, or is dropped (`expired`) if its session would have begun.
- Without SMS consent at most 1 text a day and 3 a week; after an opt-out, none.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .planning import MAPPING

# What a rule applies to; a digest is the weekly schedule text.
FIRST, EVERY, MAKEUP, MOVED, TAPER, DIGEST = "first", "every", "makeup", "moved", "taper", "digest"
APPLIES_TO = (FIRST, EVERY, MAKEUP, MOVED, TAPER)
KINDS = (*APPLIES_TO, DIGEST)
# When several rules give a session a text at the same time, the text says the most telling.
_TELLING = (MOVED, MAKEUP, TAPER, FIRST, EVERY)

# A reminder's life: pending until sent; Twilio's callbacks move it on, never back.
PENDING, SENT, DELIVERED, UNDELIVERED, FAILED = "pending", "sent", "delivered", "undelivered", "failed"
CANCELLED, EXPIRED, SUPPRESSED = "cancelled", "expired", "suppressed"
STATUSES = (PENDING, SENT, DELIVERED, UNDELIVERED, FAILED, CANCELLED, EXPIRED, SUPPRESSED)
RESENDABLE = frozenset({FAILED, UNDELIVERED})
# How far along delivery a status is: a callback may only move a reminder to a later stage.
_STAGE = {PENDING: 0, SENT: 1, DELIVERED: 2, UNDELIVERED: 2, FAILED: 2}
# Twilio's message statuses, as the reminder statuses they mean; the rest (queued, sending...) are
# before `sent` and change nothing.
TWILIO_STATUSES = {"sent": SENT, "delivered": DELIVERED, "undelivered": UNDELIVERED, "failed": FAILED}

# Why the front desk should call a patient.
CALL_BACK, UNHANDLED_TEXT, INVALID_PHONE = "call_back", "unhandled_text", "invalid_phone"
CALLBACK_REASONS = (CALL_BACK, UNHANDLED_TEXT, INVALID_PHONE)

# Consent: without it, at most this many texts in a local day, and in the 7 local days to today.
UNCONSENTED_PER_DAY, UNCONSENTED_PER_WEEK = 1, 3
# A moved session whose reminder time has passed is told now, if it is at least this far off.
LATE_NOTICE = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    applies_to: str
    minutes_before: int


@dataclass(frozen=True)
class Digest:
    weekday: int  # ISO, 1 = Monday
    at: time


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    digest: Digest | None
    quiet_start: time
    quiet_end: time


# DOMAIN.md's default: 48 h and 24 h before the first session; 24 h before any make-up, moved or
# taper session; a weekly schedule text for the coming week; quiet from 21:00 to 08:00.
DEFAULT_POLICY = Policy(
    rules=(Rule(FIRST, 48 * 60), Rule(FIRST, 24 * 60), Rule(MAKEUP, 24 * 60), Rule(MOVED, 24 * 60),
           Rule(TAPER, 24 * 60)),
    digest=Digest(weekday=7, at=time(17, 0)),  # Sunday evening, for the week ahead
    quiet_start=time(21, 0),
    quiet_end=time(8, 0),
)


@dataclass(frozen=True)
class SessionToRemind:
    """What the policy looks at in a session."""

    number: int
    kind: str  # a session kind (planning.MAPPING ...)
    starts_at: datetime
    moved: bool = False


@dataclass(frozen=True)
class PlannedReminder:
    kind: str
    minutes_before: int
    due_at: datetime
    send_at: datetime
    status: str  # pending, or expired when quiet hours hold it past the session's start


def _applies(rule: Rule, session: SessionToRemind) -> bool:
    if rule.applies_to == EVERY:
        return True
    if rule.applies_to == FIRST:
        return session.kind == MAPPING  # the course's first visit: after a pause or a missed one, the new one
    if rule.applies_to == MOVED:
        return session.moved
    return session.kind == rule.applies_to  # makeup and taper are session kinds of the same name


def in_quiet_hours(instant: datetime, zone: ZoneInfo, policy: Policy) -> bool:
    local = instant.astimezone(zone).time()
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    return (local >= start or local < end) if start > end else (start <= local < end)


def next_allowed(instant: datetime, zone: ZoneInfo, policy: Policy) -> datetime:
    """`instant`, or the end of the quiet hours it falls in (the site's local time)."""
    if not in_quiet_hours(instant, zone, policy):
        return instant
    local = instant.astimezone(zone)
    day = local.date() if local.time() < policy.quiet_end else local.date() + timedelta(days=1)
    # The end of quiet hours as a real instant; a wall time a clock change skips is taken forward.
    end = datetime.combine(day, policy.quiet_end, tzinfo=zone)
    return end.astimezone(instant.tzinfo) if instant.tzinfo else end


def plan(session: SessionToRemind, policy: Policy, zone: ZoneInfo, now: datetime) -> list[PlannedReminder]:
    """The reminders a session is owed by the policy, one per distinct time before it.

    A reminder whose time has passed is not planned, except that a moved session at least
    LATE_NOTICE away is told of its new time now.
    """
    by_minutes: dict[int, str] = {}
    for rule in policy.rules:
        if _applies(rule, session):
            current = by_minutes.get(rule.minutes_before)
            if current is None or _TELLING.index(rule.applies_to) < _TELLING.index(current):
                by_minutes[rule.minutes_before] = rule.applies_to
    planned = []
    for minutes, kind in sorted(by_minutes.items(), reverse=True):
        due_at = session.starts_at - timedelta(minutes=minutes)
        if due_at < now:
            if not (kind == MOVED and session.starts_at - now >= LATE_NOTICE):
                continue
            due_at = now
        send_at = next_allowed(due_at, zone, policy)
        planned.append(PlannedReminder(kind, minutes, due_at, send_at,
                                       PENDING if send_at < session.starts_at else EXPIRED))
    return planned


def moves_forward(current: str, reported: str) -> bool:
    """Whether a delivery status Twilio reports may replace the reminder's (never backwards)."""
    return current in _STAGE and _STAGE[reported] > _STAGE[current]


def digest_moment(week_before: date, policy: Policy, zone: ZoneInfo) -> datetime | None:
    """When the digest telling of the week that starts on Monday `week_before + 7` goes: the policy's
    weekday and time in the week before it; None without a digest."""
    if policy.digest is None:
        return None
    day = week_before + timedelta(days=policy.digest.weekday - 1)
    return datetime.combine(day, policy.digest.at, tzinfo=zone)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- the patient's replies

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "CANCEL", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM"})
CALL_BACK_WORDS = frozenset({"R"})

OPT_OUT, OPT_IN, HELP, CONFIRM, CALL_BACK_REQUEST, OTHER = "opt_out", "opt_in", "help", "confirm", "call_back", "other"


def meaning_of(body: str) -> str:
    """What a patient's text asks for, read as Twilio reads its keywords: the whole text, one word,
    case and surrounding spaces and punctuation aside."""
    word = re.sub(r"[^A-Za-z]", "", body.strip()).upper() if len(body.strip().split()) == 1 else ""
    if word in STOP_WORDS:
        return OPT_OUT
    if word in START_WORDS:
        return OPT_IN
    if word in HELP_WORDS:
        return HELP
    if word in CONFIRM_WORDS:
        return CONFIRM
    if word in CALL_BACK_WORDS:
        return CALL_BACK_REQUEST
    return OTHER


def over_consent_limit(sent_today: int, sent_this_week: int) -> bool:
    """Without consent, whether one more text would pass 1 a day or 3 a week."""
    return sent_today >= UNCONSENTED_PER_DAY or sent_this_week >= UNCONSENTED_PER_WEEK


def retry_delay(attempt: int, base: timedelta, cap: timedelta = timedelta(minutes=30)) -> timedelta:
    """Backoff before the next try after `attempt` failed ones: base, 2x base, 4x base... up to `cap`."""
    return min(base * (1 << max(attempt - 1, 0)), cap)
