"""A demo clinic that looks lived in: about 30 patients mid-course at both TMS sites, relative to today.

`seed_history(rt)` replays the last weeks of the clinic through the same use cases the front
desk, the technicians, the clinicians and the scheduler use (intake, booking, check-in,
treatment, no-shows and cancellations with their make-ups, PHQ-9 scores, reminders sent and
answered), on a clock set in the past and moved forward event by event, so the sessions'
history, the reminders and the audit trail are what they would be had it all happened.
It ends at the real now with a closure ahead (whose sessions are moved).

Deterministic (a seeded `random.Random`), except the log sender's message ids. Run twice it
changes nothing: the history's first patient is its marker. Never in production. Texts go
through the log sender whatever the settings: the demo's phone numbers are fictional
(555-01xx) and must never reach Twilio.
"""
from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ..db import models
from ..domain import lifecycle
from ..domain.errors import DomainError, RuleViolation
from ..sms.log_sender import LogSender
from . import attendance, authorization, booking, dispatch, disruptions, inbound, patients, progress
from . import reminders as reminder_service
from .actor import Actor
from .demo import seed_demo
from .runtime import Runtime

SEED = 20261201
WORKER = "demo-history"
ZONE = ZoneInfo("America/Los_Angeles")

# (first name, last name, language) per site; the first is the marker that the history is loaded.
_FULLERTON = [
    ("Marisol", "Quintero", "es"), ("Gregory", "Halvorsen", "en"), ("Denise", "Okonkwo", "en"),
    ("Trevor", "Nakamura", "en"), ("Lucia", "Benavides", "es"), ("Harold", "Pettigrew", "en"),
    ("Anjali", "Deshmukh", "en"), ("Wesley", "Carrington", "en"), ("Rosa", "Villalobos", "es"),
    ("Colleen", "Brannigan", "en"), ("Samuel", "Achterberg", "en"), ("Mei", "Lindqvist", "en"),
    ("Victor", "Ramirez", "es"), ("Janelle", "Whitfield", "en"), ("Omar", "Haddad", "en"),
    ("Bethany", "Kowalczyk", "en"),
]
_LAGUNA_HILLS = [
    ("Eleanor", "Fairbanks", "en"), ("Marcus", "Delacroix", "en"), ("Guadalupe", "Serrano", "es"),
    ("Nathaniel", "Brooks", "en"), ("Ingrid", "Solberg", "en"), ("Tomas", "Echeverria", "es"),
    ("Priya", "Venkataraman", "en"), ("Dwayne", "Holloway", "en"), ("Kristen", "Abernathy", "en"),
    ("Farid", "Rahimi", "en"), ("Yolanda", "Castaneda", "es"), ("Russell", "Ingersoll", "en"),
    ("Hannah", "Zielinski", "en"), ("Curtis", "Montgomery", "en"),
]
PATIENT_COUNT = len(_FULLERTON) + len(_LAGUNA_HILLS)
_AREA_CODE = {"fullerton": "714", "laguna-hills": "949"}
_PHYSICIAN = {"fullerton": "Dr. Priya Raman", "laguna-hills": "Dr. Daniel Okafor"}
_PAYERS = ["Blue Shield of California", "Anthem Blue Cross", "Aetna", "UnitedHealthcare", "Medicare"]
_TIMES = [time(h, m) for h in range(7, 18) for m in (0, 30)]

# PHQ-9 outcomes after a full course, in the published proportions (about 55% respond, a third remit):
# of every nine patients, three remit, two more respond, four do not (one of those in part).
_OUTCOME_CYCLE = ("remission", "remission", "remission", "response", "response",
                  "partial", "none", "none", "none")
COURSE_WEEKS = 6


@dataclass(frozen=True)
class PatientPlan:
    first_name: str
    last_name: str
    language: str
    date_of_birth: date
    phone: str
    sms_consent: bool
    site_id: str
    protocol_id: str
    start: date  # the wanted first day (moved on if the site is closed or full)
    preferred: time
    baseline: int
    final: int  # the PHQ-9 the trajectory tends to by week 6
    outcome: str
    motor_threshold: int
    no_shows: frozenset[int]  # session numbers the patient does not come to
    cancels: frozenset[int]  # session numbers the patient cancels on the morning
    authorized: bool


def _outcomes(rng: random.Random, n: int) -> list[str]:
    """`n` outcomes in the cycle's proportions, shuffled within each cycle."""
    out: list[str] = []
    while len(out) < n:
        cycle = list(_OUTCOME_CYCLE)
        rng.shuffle(cycle)
        out += cycle
    return out[:n]


def _final_score(rng: random.Random, baseline: int, outcome: str) -> int:
    if outcome == "remission":
        return rng.randint(1, 4)
    if outcome == "response":
        return max(5, min(baseline // 2, rng.randint(5, 9)))
    if outcome == "partial":
        return round(baseline * rng.uniform(0.55, 0.72))  # a drop of 28-45%: what payers ask, not a response
    return round(baseline * rng.uniform(0.78, 1.0))


def phq9_at(plan: PatientPlan, week: int, rng: random.Random) -> int:
    """The score in treatment week `week` (1 = a week after the first session): most of the change
    comes in the first weeks, with a point or two of noise."""
    progress_share = min(1.0, week / COURSE_WEEKS) ** 0.7
    score = plan.baseline - (plan.baseline - plan.final) * progress_share + rng.uniform(-1.5, 1.5)
    return max(0, min(27, round(score)))


def _protocol(i: int) -> str:
    n = i if i < len(_FULLERTON) else i - len(_FULLERTON)
    if i < len(_FULLERTON) and n in (3, 9, 14):
        return "deep-tms-h1"
    return "itbs" if n % 4 == 2 else "tms-10hz-standard"


def _weeks_ago(i: int) -> int:
    """Courses started 1 to 6 weeks ago, spread evenly; iTBS (30 daily sessions) at most 5 weeks ago,
    so that every course is still under way."""
    fullerton = i < len(_FULLERTON)
    n = i if fullerton else i - len(_FULLERTON)
    weeks = 1 + (n + (0 if fullerton else 3)) % 6
    return min(weeks, 5) if _protocol(i) == "itbs" else weeks


def plan_history(today: date, seed: int = SEED) -> list[PatientPlan]:
    """Who the history's patients are, what they are treated with, from when, and how they fare."""
    rng = random.Random(seed)
    people = [*_FULLERTON, *_LAGUNA_HILLS]
    # The outcomes go out longest course first, so those far enough along to show one show the mix.
    by_length = sorted(range(len(people)), key=lambda i: (-_weeks_ago(i), i))
    outcomes = dict(zip(by_length, _outcomes(rng, len(people)), strict=True))
    plans: list[PatientPlan] = []
    monday = today - timedelta(days=today.weekday())
    for i, (first, last, language) in enumerate(people):
        site_id = "fullerton" if i < len(_FULLERTON) else "laguna-hills"
        n = i if site_id == "fullerton" else i - len(_FULLERTON)
        protocol_id = _protocol(i)
        weeks_ago = _weeks_ago(i)
        start = monday - timedelta(weeks=weeks_ago) + timedelta(days=rng.choice((0, 0, 1, 2, 3)))
        baseline = rng.randint(14, 24)
        outcome = outcomes[i]
        no_shows: set[int] = set()
        cancels: set[int] = set()
        roll = rng.random()
        if roll < 0.35:
            no_shows.add(rng.randint(3, 5 * weeks_ago + 1))
        elif roll < 0.45:
            cancels.add(rng.randint(3, 5 * weeks_ago + 1))
        if n == 5:  # two in a row: a course at risk for the clinicians' worklist
            first_missed = rng.randint(4, 8)
            no_shows |= {first_missed, first_missed + 1}
        plans.append(PatientPlan(
            first_name=first, last_name=last, language=language,
            date_of_birth=date(1948, 1, 1) + timedelta(days=rng.randint(0, 54 * 365)),
            phone=f"+1{_AREA_CODE[site_id]}5550{101 + n:03d}", sms_consent=rng.random() < 0.87,
            site_id=site_id, protocol_id=protocol_id, start=start, preferred=rng.choice(_TIMES),
            baseline=baseline, final=_final_score(rng, baseline, outcome), outcome=outcome,
            motor_threshold=rng.randint(46, 72), no_shows=frozenset(no_shows), cancels=frozenset(cancels),
            authorized=protocol_id != "itbs" and rng.random() < 0.7,
        ))
    return plans


class _Clock:
    """The history's clock: where the replay has got to."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class _Course:
    plan: PatientPlan
    course_id: int
    first_day: date
    weeks_scored: set[int] = field(default_factory=set)
    motor_threshold: int = 0


@dataclass
class HistoryReport:
    patients: int = 0
    courses: int = 0
    completed: int = 0
    no_shows: int = 0
    cancelled: int = 0
    makeups: int = 0
    assessments: int = 0
    texts_sent: int = 0
    texts_received: int = 0
    closures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"history: {self.patients} patients, {self.courses} courses",
                f"history: {self.completed} sessions completed, {self.no_shows} no-shows, "
                f"{self.cancelled} cancelled by the patient, {self.makeups} make-ups booked",
                f"history: {self.assessments} PHQ-9 scores, {self.texts_sent} texts sent, "
                f"{self.texts_received} received",
                *(f"history: closure {what}" for what in self.closures)]


class ProductionRefused(RuleViolation):
    pass


def history_loaded(rt: Runtime) -> bool:
    marker = _FULLERTON[0]
    with rt.reading() as db:
        return db.scalar(select(models.Patient.id).where(
            models.Patient.first_name == marker[0], models.Patient.last_name == marker[1],
            models.Patient.phone == f"+1{_AREA_CODE['fullerton']}5550101").limit(1)) is not None


def seed_history(rt: Runtime, *, env: str = "development") -> list[str]:
    """Loads the demo clinic's recent past (see the module); answers what it added, [] if it was there.

    `env` is the settings' environment: production is refused.
    """
    if env == "production":
        raise ProductionRefused("The demo history is never loaded in production",
                                {"env": "production refuses demo data"})
    seed_demo(rt)
    if history_loaded(rt):
        return []
    now = rt.now()
    clock = _Clock(now)
    texting = replace(rt.texting, sender=LogSender(), status_callback_url=None, concurrency=1)
    replay = _Replay(replace(rt, clock=clock, texting=texting), clock, now)
    replay.run(plan_history(now.astimezone(ZONE).date()))
    return replay.report.lines()


def _actors(rt: Runtime) -> dict[str, Actor]:
    with rt.reading() as db:
        users = db.execute(select(models.User.id, models.User.username, models.User.role)
                           .where(models.User.username.in_(["frontdesk", "technician", "clinician", "admin"])))
        return {role: Actor(user_id, role, username=username, request_id=WORKER) for user_id, username, role in users}


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)


class _Replay:
    """The events of the last weeks in the order they happened, each run at its own moment."""

    def __init__(self, rt: Runtime, clock: _Clock, until: datetime):
        self.rt, self.clock, self.until = rt, clock, until
        self.rng = random.Random(SEED + 1)
        self.actors = _actors(rt)
        self.report = HistoryReport()
        self.courses: dict[int, _Course] = {}  # by course id
        self.patient_ids: set[int] = set()
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        if when <= self.until:
            heapq.heappush(self._queue, (when, next(self._order), action))

    def run(self, plans: list[PatientPlan]) -> None:
        for plan in plans:
            intake = plan.start - timedelta(days=self.rng.randint(7, 16))
            self.at(_local(intake, time(10, self.rng.randrange(0, 60, 5))), partial(self.intake, plan, intake))
        first = min(plan.start for plan in plans) - timedelta(days=3)
        for offset in range((self.until.astimezone(ZONE).date() - first).days + 1):
            day = first + timedelta(days=offset)
            self.at(_local(day, time(6, 0)), partial(self.open_day, day))
            for hour, minute in ((8, 5), (12, 5), (17, 5), (19, 35)):
                self.at(_local(day, time(hour, minute)), self.send_due)
            if day.isoweekday() == 7:
                self.at(_local(day, time(17, 1)), self.plan_digests)
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            self.clock.now = when
            action()
        self.clock.now = self.until
        self.send_due()
        self.close_ahead()

    # --- intake and booking

    def intake(self, plan: PatientPlan, intake_day: date) -> None:
        patient = patients.create_patient(self.rt, {
            "first_name": plan.first_name, "last_name": plan.last_name, "date_of_birth": plan.date_of_birth,
            "phone": plan.phone, "language": plan.language, "sms_consent": plan.sms_consent,
            "another_person": True}, self.actors["front_desk"])
        self.patient_ids.add(patient.id)
        self.report.patients += 1
        book_day = max(intake_day + timedelta(days=1), plan.start - timedelta(days=3))
        self.at(_local(book_day, time(11, 15)), partial(self.book, plan, patient.id, intake_day))

    def book(self, plan: PatientPlan, patient_id: int, intake_day: date) -> None:
        times = _TIMES[_TIMES.index(plan.preferred):] + _TIMES[:_TIMES.index(plan.preferred)]
        for shift in range(10):
            start = plan.start + timedelta(days=shift)
            auth = None
            if plan.authorized:
                auth = authorization.Authorization(
                    payer=self.rng.choice(_PAYERS), number=f"PA-{self.rng.randint(10**7, 10**8 - 1)}",
                    sessions=36, valid_from=start - timedelta(days=2), valid_to=start + timedelta(days=150))
            for preferred in times[:6]:
                try:
                    course = booking.book_course(self.rt, booking.BookingRequest(
                        patient_id=patient_id, site_id=plan.site_id, protocol_id=plan.protocol_id, start_date=start,
                        preferred_time=preferred, authorization=auth), self.actors["front_desk"])
                except DomainError:
                    continue
                first_day = min(s.starts_at for s in course.sessions).astimezone(ZONE).date()
                self.courses[course.id] = _Course(plan, course.id, first_day, motor_threshold=plan.motor_threshold)
                self.report.courses += 1
                self.clock.now += timedelta(minutes=40)  # the clinician scores the baseline at intake
                progress.add_assessment(self.rt, course.id, self.actors["clinician"], instrument="PHQ-9",
                                        score=plan.baseline, taken_on=intake_day)
                self.report.assessments += 1
                return

    # --- the days

    def open_day(self, day: date) -> None:
        """What the day holds for the history's courses: each scheduled session's fate."""
        if not self.courses:
            return
        S = models.TreatmentSession
        with self.rt.transaction() as db:
            rows = db.execute(select(S.id, S.course_id, S.number, S.starts_at, S.ends_at)
                              .where(S.course_id.in_(list(self.courses)), S.status == lifecycle.SCHEDULED,
                                     S.starts_at >= _local(day, time(0)),
                                     S.starts_at < _local(day + timedelta(days=1), time(0)))
                              .order_by(S.starts_at)).all()
        for session_id, course_id, number, starts_at, ends_at in rows:
            plan = self.courses[course_id].plan
            if number in plan.cancels:
                self.at(_local(day, time(6, 40)), partial(self.cancel, session_id))
            elif number in plan.no_shows:
                self.at(ends_at + timedelta(minutes=20), partial(self.no_show, session_id))
            else:
                arrive = starts_at - timedelta(minutes=self.rng.randint(2, 12))
                self.at(arrive, partial(self.check_in, session_id))
                self.at(ends_at - timedelta(minutes=self.rng.randint(0, 3)),
                        partial(self.complete, session_id, course_id, day))

    def check_in(self, session_id: int) -> None:
        attendance.check_in(self.rt, session_id, self.actors["front_desk"])

    def complete(self, session_id: int, course_id: int, day: date) -> None:
        entry = self.courses[course_id]
        plan = entry.plan
        week = (day - entry.first_day).days // 7
        if week and week not in entry.weeks_scored:  # the motor threshold is re-checked weekly
            entry.motor_threshold = max(35, min(85, plan.motor_threshold + self.rng.randint(-3, 3)))
        attendance.complete(self.rt, session_id, self._details(entry, day), self.actors["technician"])
        self.report.completed += 1
        if week and week not in entry.weeks_scored:
            entry.weeks_scored.add(week)
            self.clock.now += timedelta(minutes=5)
            progress.add_assessment(self.rt, course_id, self.actors["clinician"], instrument="PHQ-9",
                                    score=phq9_at(plan, week, self.rng), taken_on=day)
            self.report.assessments += 1

    def _details(self, entry: _Course, day: date) -> attendance.TreatmentDetails:
        plan, rng = entry.plan, self.rng
        early = (day - entry.first_day).days < 10
        side_effects: list[str] = []
        if rng.random() < (0.3 if early else 0.08):
            side_effects.append("headache")
        if rng.random() < (0.25 if early else 0.1):
            side_effects.append("scalp discomfort")
        discomfort = rng.randint(2, 5) if side_effects else rng.randint(0, 2)
        notes = None
        if day == entry.first_day:
            notes = "Motor threshold mapped (visible APB twitch); coil position marked on the cap."
        elif side_effects and rng.random() < 0.5:
            notes = rng.choice(["Tolerated well after a short pause.", "Acetaminophen before the session helped.",
                                "Intensity titrated up over the first minutes."])
        frequency, pulses, position = {
            "tms-10hz-standard": (10.0, 3000, "Left DLPFC (Beam F3)"),
            "itbs": (50.0, 600, "Left DLPFC (Beam F3)"),
            "deep-tms-h1": (18.0, 1980, "H1 coil, 6 cm anterior to the motor hotspot"),
        }.get(plan.protocol_id, (10.0, 3000, "Left DLPFC (Beam F3)"))
        return attendance.TreatmentDetails(
            motor_threshold=entry.motor_threshold, intensity=120, frequency=frequency, pulses=pulses,
            coil_position=position, side_effects=tuple(side_effects), discomfort=discomfort,
            supervising_physician=_PHYSICIAN[plan.site_id], notes=notes)

    def no_show(self, session_id: int) -> None:
        outcome = attendance.record_no_show(self.rt, session_id, self.actors["technician"])
        self.report.no_shows += 1
        self.report.makeups += outcome.makeup is not None

    def cancel(self, session_id: int) -> None:
        reason = self.rng.choice(["called in sick", "car trouble", "a family emergency", "no childcare today"])
        outcome = attendance.cancel_session(self.rt, session_id, self.actors["front_desk"],
                                            by=lifecycle.BY_PATIENT, reason=f"patient called: {reason}")
        self.report.cancelled += 1
        self.report.makeups += outcome.makeup is not None

    # --- texts

    def plan_digests(self) -> None:
        reminder_service.plan_weekly_digests(self.rt)

    def send_due(self) -> None:
        now = self.rt.now()
        report = dispatch.dispatch_due(self.rt, worker=WORKER)
        sent = report.counts.get("sent", 0)
        if not sent:
            return
        self.report.texts_sent += sent
        with self.rt.transaction() as db:
            texted: list[int] = list(db.scalars(select(models.Message.patient_id).where(
                models.Message.direction == "out", models.Message.at == now,
                models.Message.patient_id.in_(self.patient_ids)).order_by(models.Message.id)).all())  # type: ignore[arg-type]
            phones = dict(db.execute(select(models.Patient.id, models.Patient.phone)
                                     .where(models.Patient.id.in_(texted))).all())
            languages = dict(db.execute(select(models.Patient.id, models.Patient.language)
                                        .where(models.Patient.id.in_(texted))).all())
        for patient_id in texted:
            roll = self.rng.random()
            if roll < 0.55:
                body = self.rng.choice(["C", "c", "CONFIRM", "C "])
            elif roll < 0.59:
                body = "R"
            elif roll < 0.63:
                body = "Gracias, ahi estare" if languages[patient_id] == "es" else "Thanks, see you then"
            else:
                continue
            self.at(now + timedelta(minutes=self.rng.randint(3, 55)), partial(self.reply, phones[patient_id], body))

    def reply(self, phone: str, body: str) -> None:
        sid = f"SM{self.rng.getrandbits(128):032x}"
        inbound.receive_text(self.rt, sid=sid, phone=phone, body=body)
        self.report.texts_received += 1

    # --- ahead

    def close_ahead(self) -> None:
        """A staff training day at Laguna Hills about ten days ahead; its sessions moved."""
        today = self.until.astimezone(ZONE).date()
        day = today + timedelta(days=10)
        for _ in range(20):
            if day.isoweekday() <= 5:
                try:
                    _closure, disruption = disruptions.close_site(
                        self.rt, "laguna-hills", day, "Staff training day (coil maintenance)", self.actors["admin"],
                        replan=True)
                except DomainError:
                    pass
                else:
                    self.report.closures.append(f"laguna-hills on {day}, {len(disruption.moves)} sessions moved")
                    return
            day += timedelta(days=1)
