"""Audit rows gathered during a transaction and written by its commit, in one statement.

A use case appends rows as it reads and changes patient data (services.audit); they go into
`audit_events` just before the transaction commits, so they stand or fall with it. A read on SQLite
(db.engine.reading) takes them instead and writes them right after its snapshot ends, in a short
write transaction of their own, before the read answers.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, sessionmaker

from .models import AuditEvent

_PENDING = "audit_rows"


def append(db: Session, rows: list[dict[str, Any]]) -> None:
    db.info.setdefault(_PENDING, []).extend(rows)


def take(db: Session) -> list[dict[str, Any]]:
    """The rows noted so far, no longer pending: for a read on SQLite, which writes them after its snapshot
    (db.engine.reading)."""
    return db.info.pop(_PENDING, None) or []


def install_audit_flush(factory: sessionmaker[Session]) -> None:
    @event.listens_for(factory, "before_commit")
    def _write_audit_rows(session: Session) -> None:
        rows = session.info.pop(_PENDING, None)
        if rows:
            session.execute(insert(AuditEvent), rows)

    @event.listens_for(factory, "after_rollback")
    def _forget_audit_rows(session: Session) -> None:
        session.info.pop(_PENDING, None)
