"""Tables written through one seam only: a flush or statement touching them outside it is refused.

The seam (services.session_changes) opens `guarded_writes(db)` around each change; any
other code that adds, changes or deletes a session or its history fails loudly instead
of skipping what the seam writes with it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

GUARDED_TABLES = frozenset({"sessions", "session_events"})
_OPEN = "guarded_writes_open"


class WriteOutsideSeam(RuntimeError):
    pass


@contextmanager
def guarded_writes(db: Session) -> Iterator[None]:
    db.info[_OPEN] = db.info.get(_OPEN, 0) + 1
    try:
        yield
    finally:
        db.info[_OPEN] -= 1


def _refuse(table: str) -> WriteOutsideSeam:
    return WriteOutsideSeam(f"'{table}' rows are written only through services.session_changes")


def install_write_guard(factory: sessionmaker[Session]) -> None:
    @event.listens_for(factory, "before_flush")
    def _check_flush(session: Session, _context, _instances) -> None:
        if session.info.get(_OPEN):
            return
        for obj in chain(session.new, session.deleted, session.dirty):
            table = getattr(type(obj), "__tablename__", None)
            if table in GUARDED_TABLES and (obj not in session.dirty or session.is_modified(obj)):
                raise _refuse(table)

    @event.listens_for(factory, "do_orm_execute")
    def _check_statement(state: ORMExecuteState) -> None:
        if not (state.is_insert or state.is_update or state.is_delete) or state.session.info.get(_OPEN):
            return
        table = getattr(state.statement, "table", None)
        if table is not None and table.name in GUARDED_TABLES:
            raise _refuse(table.name)
