"""Sending due reminders, each exactly once, with any number of scheduler processes.

A dispatcher claims a batch of due reminders with a lease (FOR UPDATE SKIP LOCKED on
PostgreSQL; on SQLite, whose writers take turns, the claim is one write transaction), sends
each through the sender, and records the outcome in a transaction of its own right after the
send. A dispatcher that dies leaves its claimed reminders to be taken again once the lease
runs out: only the text in flight at that moment can go twice. A batch whose sends outlast half
its lease renews it before the next send, and leaves whatever another dispatcher took meanwhile
(a slow Twilio must not make two dispatchers send one batch). A reminder voided (its session
cancelled or moved) after it was claimed and before it is sent is the one other way: the send
and the void race for a few milliseconds, and the history shows both.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, String, Update, bindparam, func, insert, select, update
from sqlalchemy import exc as sa_exc

from ..db import models
from ..db.types import UTCDateTime
from ..domain import lifecycle, reminders, texts
from ..domain.calendar import day_start
from ..sms.log_sender import masked
from ..sms.sender import INVALID_NUMBER, UNSUBSCRIBED, Outgoing, SendFailed
from . import audit
from .actor import SCHEDULER
from .reminder_planning import policy_from
from .runtime import Runtime, Texting

log = logging.getLogger(__name__)

# A claimed reminder another dispatcher took once this one's claim had lapsed: it is that one's to send.
TAKEN = "taken"


@dataclass
class DispatchReport:
    """What one run of the dispatcher did, by outcome."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def handled(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Claimed:
    """A claimed reminder with what sending it needs, read in the claim's query."""

    id: int
    kind: str
    attempts: int
    session_id: int | None
    digest_week: date | None
    session_status: str | None
    session_starts_at: datetime | None
    patient_id: int
    phone: str
    first_name: str
    language: str
    consented: bool
    opted_out: bool
    phone_invalid: bool
    site_id: str
    site_name: str
    site_phone: str
    zone: ZoneInfo
    policy: reminders.Policy


def dispatch_due(rt: Runtime, *, worker: str, stop: Callable[[], bool] = lambda: False) -> DispatchReport:
    """Sends every due reminder, batch by batch, until none is due or `stop()` says so.

    A batch claimed is always finished: `stop` is only asked between batches. Within a batch,
    up to `texting.concurrency` texts are in flight at once (a send mostly waits on Twilio); one
    patient's reminders go one after the other, so the consent limits count each in turn.
    """
    report = DispatchReport()
    senders = ThreadPoolExecutor(rt.texting.concurrency, "dispatch") if rt.texting.concurrency > 1 else None
    try:
        while not stop():
            claimed_at = rt.now()  # no later than the claim's own moment: the lease is reckoned from here
            batch = _claim(rt, worker)
            if not batch:
                break
            lease = _Lease(worker, [item.id for item in batch], claimed_at + rt.texting.lease)
            by_patient: dict[int, list[Claimed]] = {}
            for item in batch:
                by_patient.setdefault(item.patient_id, []).append(item)
            deliver = partial(_deliver_in_turn, rt, lease)
            groups = by_patient.values()
            for outcomes in senders.map(deliver, groups) if senders else map(deliver, groups):
                for outcome in outcomes:
                    report.add(outcome)
    finally:
        if senders is not None:
            senders.shutdown(wait=True)
    return report


def _deliver_in_turn(rt: Runtime, lease: _Lease, items: list[Claimed]) -> list[str]:
    return [_deliver(rt, item, lease) for item in items]


@dataclass
class _Lease:
    """A dispatcher's claim on its batch: until when it holds (by this dispatcher's clock, the one
    lease_until is written by) and which of the batch's reminders another dispatcher took since."""

    worker: str
    ids: list[int]
    until: datetime
    lost: set[int] = field(default_factory=set)
    renewing: threading.Lock = field(default_factory=threading.Lock)  # the batch's senders share it


def claim_statement(now: datetime, worker: str, texting: Texting) -> Update:
    """The claim: a lease on up to `texting.batch` due reminders no live lease holds, the earliest
    first, skipping rows another dispatcher has locked; RETURNING their ids."""
    R = models.Reminder
    due = (select(R.id)
           .where(R.status == reminders.PENDING, R.send_at <= now, (R.lease_until.is_(None)) | (R.lease_until < now))
           .order_by(R.send_at, R.id).limit(texting.batch)
           .with_for_update(skip_locked=True))
    return (update(R).where(R.id.in_(due.scalar_subquery()))
            .values(lease_until=now + texting.lease, leased_by=worker, attempts=R.attempts + 1, updated_at=now)
            .returning(R.id).execution_options(synchronize_session=False))


def claimed_statement(ids: list[int]) -> Select[*tuple[Any, ...]]:
    """What sending the claimed reminders needs, in one query: each with its session, patient, site and
    the site's policy (if it has one of its own)."""
    R, S, P, T = models.Reminder, models.TreatmentSession, models.Patient, models.Site
    return (select(R.id, R.kind, R.attempts, R.session_id, R.digest_week, S.status, S.starts_at, P.id, P.phone,
                   P.first_name, P.language, P.sms_consent, P.sms_opted_out, P.phone_invalid_at, T.id, T.name,
                   T.phone, T.timezone, models.ReminderPolicy)
            .join(P, P.id == R.patient_id).join(T, T.id == R.site_id)
            .outerjoin(S, S.id == R.session_id)
            .outerjoin(models.ReminderPolicy, models.ReminderPolicy.site_id == R.site_id)
            .where(R.id.in_(ids)).order_by(R.send_at, R.id))


def _claim(rt: Runtime, worker: str) -> list[Claimed]:
    with rt.transaction() as db:
        ids = list(db.scalars(claim_statement(rt.now(), worker, rt.texting)))
        if not ids:
            return []
        rows = db.execute(claimed_statement(ids)).all()
    return [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                    r[13] is not None, r[14], r[15], r[16], ZoneInfo(r[17]), policy_from(r[18])) for r in rows]


def _deliver(rt: Runtime, item: Claimed, lease: _Lease) -> str:
    """Sends one claimed reminder, or settles why it is not sent; answers the outcome."""
    now, worker = rt.now(), lease.worker
    fate = _why_not_now(rt, item, now)
    if fate is not None:
        return fate
    body = _render(rt, item)
    if body is None:
        return _settle(rt, item, reminders.CANCELLED)  # a digest of a week left with no visit
    if not _still_mine(rt, item, lease, now):
        return TAKEN
    try:
        sid = rt.texting.sender.send(Outgoing(item.phone, body, rt.texting.status_callback_url))
    except SendFailed as failure:
        return _failed(rt, item, worker, failure)
    kept = _record_sent_surely(rt, {"sent_reminder_id": item.id, "sent_worker": worker, "sent_sid": sid,
                                    "sent_now": now, "sent_patient_id": item.patient_id, "sent_phone": item.phone,
                                    "sent_body": body}, lease)
    if not kept:
        log.warning("reminder %s: sent as %s after its claim had lapsed or it was voided", item.id, sid)
    return reminders.SENT


def _still_mine(rt: Runtime, item: Claimed, lease: _Lease, now: datetime) -> bool:
    """Whether the batch's claim still holds for the reminder about to be sent.

    The lease is taken for the whole batch, and the sends before this one may have been slow (a
    slow or timing-out Twilio): the lease may have run out, and another dispatcher claimed the
    reminder since, and sent it. While more than half the lease is left nobody else can hold it,
    and nothing is asked. Past that, one statement renews the claim on the batch's reminders still
    this dispatcher's and pending (a claim that lapsed and nobody took is still its own) and says
    which they are. Only a send that itself outlasts half the lease (far longer than the sender's
    timeout) can then go twice.
    """
    with lease.renewing:
        if now >= lease.until - rt.texting.lease / 2:
            R = models.Reminder
            with rt.transaction() as db:
                kept = set(db.scalars(update(R).where(R.id.in_(lease.ids), R.leased_by == lease.worker,
                                                      R.status == reminders.PENDING)
                                      .values(lease_until=now + rt.texting.lease, updated_at=now)
                                      .returning(R.id).execution_options(synchronize_session=False)))
            lease.lost |= set(lease.ids) - kept  # the batch's reminders handled already are among them
            lease.until = now + rt.texting.lease
        lost = item.id in lease.lost
    if lost:
        log.info("reminder %s: left to the dispatcher that claimed it after this one's claim lapsed", item.id)
        return False
    return True


# The record of a send (_record_sent): the reminder `sent`, if the lease is still this worker's and
# nothing voided it since the claim, and the text among the patient's messages. Built once; executed
# with the values of each send (named sent_*: a value named as a column would be SET as well).
_R, _M = models.Reminder, models.Message
_MARK_SENT = (update(_R)
              .where(_R.id == bindparam("sent_reminder_id", type_=Integer),
                     _R.leased_by == bindparam("sent_worker", type_=String), _R.status == reminders.PENDING)
              .values(status=reminders.SENT, twilio_sid=bindparam("sent_sid", type_=String),
                      sent_at=bindparam("sent_now", type_=UTCDateTime), lease_until=None, error_code=None,
                      updated_at=bindparam("sent_now", type_=UTCDateTime))
              .returning(_R.id))
_ADD_MESSAGE = insert(_M).values(
    patient_id=bindparam("sent_patient_id", type_=Integer), direction="out",
    phone=bindparam("sent_phone", type_=String), body=bindparam("sent_body", type_=String), status=reminders.SENT,
    twilio_sid=bindparam("sent_sid", type_=String), reminder_id=bindparam("sent_reminder_id", type_=Integer),
    at=bindparam("sent_now", type_=UTCDateTime))
# Both in one statement (PostgreSQL's data-modifying WITH), answering 1 if the reminder was marked.
# The audit trail's row for the text: the scheduler created a message of the patient's.
_A = models.AuditEvent
_AUDIT_SENT = insert(_A).values(
    at=bindparam("sent_now", type_=UTCDateTime), user_id=None, username=None, role=SCHEDULER.role,
    action=audit.CREATE, entity=audit.MESSAGE, entity_id=bindparam("sent_sid", type_=String),
    patient_id=bindparam("sent_patient_id", type_=Integer), request_id=bindparam("sent_worker", type_=String),
    client_ip=None)
_RECORD_SENT = (select(func.count()).select_from(_MARK_SENT.cte("kept"))
                .add_cte(_ADD_MESSAGE.returning(_M.id).cte("message"))
                .add_cte(_AUDIT_SENT.returning(_A.id).cte("audited")))


# Waits between tries to record a text already sent, while the database is unreachable.
RECORD_RETRY_FIRST_SECONDS, RECORD_RETRY_MOST_SECONDS = 0.1, 0.5
RECORD_RETRY_WINDOW = timedelta(seconds=30)


def _record_sent_surely(rt: Runtime, values: dict[str, Any], lease: _Lease) -> bool:
    """_record_sent, tried again while the database is unreachable (restarted, failed over): the text
    has gone, and a reminder left `pending` would be claimed and sent again by the next dispatcher
    once the lease lapsed. While the lease holds nobody else can; past it, the record still lands
    unless another dispatcher claimed the reminder first, so the tries go on for at least
    RECORD_RETRY_WINDOW (an outage outlasting a short lease), quickly, to land before that claim.

    A try whose commit went through but whose answer was lost shows on the next as the message's
    sid already on record (unique): it is on record, then."""
    delay = RECORD_RETRY_FIRST_SECONDS
    deadline = max(lease.until, rt.now() + max(rt.texting.lease, RECORD_RETRY_WINDOW))
    while True:
        try:
            return _record_sent(rt, values)
        except sa_exc.IntegrityError:
            log.warning("reminder %s: its send was on record already (an earlier try's answer was lost)",
                        values["sent_reminder_id"])
            return _is_marked_sent(rt, values)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError) as lost:
            if rt.now() + timedelta(seconds=delay) >= deadline:
                raise
            log.warning("reminder %s: sent, but the database did not take the record (%s); trying again in %.1f s",
                        values["sent_reminder_id"], lost.__class__.__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, RECORD_RETRY_MOST_SECONDS)


def _is_marked_sent(rt: Runtime, values: dict[str, Any]) -> bool:
    R = models.Reminder
    with rt.sessions() as db:
        return db.scalar(select(R.status).where(R.id == values["sent_reminder_id"])) == reminders.SENT


def _record_sent(rt: Runtime, values: dict[str, Any]) -> bool:
    """Puts a send on record, durably, before the next send goes: whether the reminder was still
    this worker's to mark `sent` (the message is recorded either way: the text did go).

    On PostgreSQL that is one statement in autocommit: one round trip, committed (and flushed to
    the WAL) when it answers, instead of BEGIN, UPDATE, INSERT and COMMIT. SQLite has no
    data-modifying WITH: there it is the two statements in one transaction.
    """
    with rt.sessions() as db:
        if db.get_bind().dialect.name == "postgresql":
            connection = db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            return bool(connection.scalar(_RECORD_SENT, values))
        with db.begin():
            connection = db.connection()
            kept = connection.execute(_MARK_SENT, values).first() is not None
            connection.execute(_ADD_MESSAGE, values)
            connection.execute(_AUDIT_SENT, values)
        return kept


def _why_not_now(rt: Runtime, item: Claimed, now: datetime) -> str | None:
    """Settles a reminder that must not go now (voided, too late, opted out, over the limit, quiet
    hours); None when it may be sent."""
    if item.session_id is not None and item.session_status != lifecycle.SCHEDULED:
        return _settle(rt, item, reminders.CANCELLED)
    if item.session_starts_at is not None and item.session_starts_at <= now:
        return _settle(rt, item, reminders.EXPIRED)
    if item.opted_out:
        return _settle(rt, item, reminders.SUPPRESSED)
    if item.phone_invalid:
        return _settle(rt, item, reminders.SUPPRESSED, error_code=INVALID_NUMBER)
    allowed = reminders.next_allowed(now, item.zone, item.policy)
    if allowed != now:
        if item.session_starts_at is not None and allowed >= item.session_starts_at:
            return _settle(rt, item, reminders.EXPIRED)
        with rt.transaction() as db:  # held back by quiet hours: back in the queue for when they end
            db.execute(update(models.Reminder).where(models.Reminder.id == item.id,
                                                     models.Reminder.status == reminders.PENDING)
                       .values(send_at=allowed, lease_until=None, leased_by=None, attempts=item.attempts - 1,
                               updated_at=now).execution_options(synchronize_session=False))
        return "held"
    if not item.consented and _over_consent_limit(rt, item, now):
        return _settle(rt, item, reminders.SUPPRESSED)
    return None


def _over_consent_limit(rt: Runtime, item: Claimed, now: datetime) -> bool:
    """Without consent: 1 text a local day, 3 in the 7 local days to today."""
    today = now.astimezone(item.zone).date()
    M = models.Message
    with rt.sessions() as db:
        sent_today, sent_week = db.execute(
            select(func.count().filter(M.at >= day_start(today, item.zone)), func.count())
            .where(M.patient_id == item.patient_id, M.direction == "out", M.status != reminders.FAILED,
                   M.at >= day_start(today - timedelta(days=6), item.zone))).one()
    return reminders.over_consent_limit(sent_today, sent_week)


def _render(rt: Runtime, item: Claimed) -> str | None:
    if item.kind != reminders.DIGEST:
        assert item.session_starts_at is not None
        return texts.reminder(item.language, first_name=item.first_name, site_name=item.site_name,
                              site_phone=item.site_phone, starts_at=item.session_starts_at.astimezone(item.zone),
                              kind=item.kind)
    monday = item.digest_week
    assert monday is not None
    S = models.TreatmentSession
    with rt.sessions() as db:
        visits = list(db.scalars(
            select(S.starts_at).join(models.Course, models.Course.id == S.course_id)
            .where(models.Course.patient_id == item.patient_id, S.site_id == item.site_id,
                   S.status == lifecycle.SCHEDULED, S.starts_at >= day_start(monday, item.zone),
                   S.starts_at < day_start(monday + timedelta(days=7), item.zone))
            .order_by(S.starts_at)))
    if not visits:
        return None
    return texts.digest(item.language, first_name=item.first_name, site_name=item.site_name,
                        site_phone=item.site_phone, visits=[v.astimezone(item.zone) for v in visits])


def _settle(rt: Runtime, item: Claimed, status: str, *, error_code: int | None = None) -> str:
    """A claimed reminder ends without a send."""
    now = rt.now()
    with rt.transaction() as db:
        db.execute(update(models.Reminder).where(models.Reminder.id == item.id,
                                                 models.Reminder.status == reminders.PENDING)
                   .values(status=status, error_code=error_code, lease_until=None, updated_at=now)
                   .execution_options(synchronize_session=False))
    return status


def _failed(rt: Runtime, item: Claimed, worker: str, failure: SendFailed) -> str:
    """A send that did not go: tried again later when it may work, up to the limit; else failed.

    21610: the patient opted out at the carrier. 21211: the number cannot take texts; the
    front desk is told. Neither is tried again.
    """
    now, texting = rt.now(), rt.texting
    log.warning("reminder %s to %s not sent (try %d): %s", item.id, masked(item.phone), item.attempts, failure.reason)
    R = models.Reminder
    mine = (R.id == item.id, R.leased_by == worker, R.status == reminders.PENDING)
    with rt.transaction() as db:
        if failure.retry and item.attempts < texting.max_attempts:
            db.execute(update(R).where(*mine)
                       .values(send_at=now + reminders.retry_delay(item.attempts, texting.retry_base),
                               lease_until=None, leased_by=None, error_code=failure.code, updated_at=now)
                       .execution_options(synchronize_session=False))
            return "retried"
        db.execute(update(R).where(*mine).values(status=reminders.FAILED, error_code=failure.code, lease_until=None,
                                                 updated_at=now).execution_options(synchronize_session=False))
        if failure.code in (UNSUBSCRIBED, INVALID_NUMBER):
            audit.note(db, SCHEDULER, now, audit.UPDATE, audit.PATIENT, item.patient_id, item.patient_id)
        if failure.code == UNSUBSCRIBED:
            db.execute(update(models.Patient).where(models.Patient.id == item.patient_id)
                       .values(sms_opted_out=True, sms_opted_out_at=now, updated_at=now)
                       .execution_options(synchronize_session=False))
        elif failure.code == INVALID_NUMBER:
            db.execute(update(models.Patient).where(models.Patient.id == item.patient_id)
                       .values(phone_invalid_at=now, updated_at=now).execution_options(synchronize_session=False))
            open_already = db.scalar(select(models.Callback.id).where(
                models.Callback.patient_id == item.patient_id, models.Callback.reason == reminders.INVALID_PHONE,
                models.Callback.done_at.is_(None)))
            if open_already is None:
                db.add(models.Callback(site_id=item.site_id, patient_id=item.patient_id,
                                       reason=reminders.INVALID_PHONE, created_at=now))
    return reminders.FAILED
