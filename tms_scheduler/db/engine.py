from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from . import audit_log
from .audit_log import install_audit_flush
from .write_guard import install_write_guard

# How long opening a PostgreSQL connection may take before the request gives up (503).
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)
        _serialise_sqlite_writes(engine)
        return engine
    # Pre-ping: each checkout first tests its pooled connection (one round trip) and replaces
    # a dead one (the server restarted, a proxy dropped it) before anything is sent on it, so
    # a request after a restart does not fail once. A connection lost mid-request is not
    # retried: api/errors.py answers 503 with Retry-After, and the transaction rolled back.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 1800)
    # Sessions on UTC: timestamps come back already in UTC and need no conversion. A short
    # connect timeout: while the server is unreachable a request is answered 503, not held.
    kwargs.setdefault("connect_args", {"options": "-c timezone=UTC", "connect_timeout": CONNECT_TIMEOUT_SECONDS})
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, hide_parameters=True, **kwargs)


# The connection option a writing unit of work opens its SQLite transaction with (BEGIN IMMEDIATE).
WRITES = "tms_writes"
_READING = "tms_reading"


class WriteInRead(RuntimeError):
    """A read unit of work (reading()) tried to change rows other than its audit trail."""


def _serialise_sqlite_writes(engine: Engine) -> None:
    """A writing SQLite transaction starts with BEGIN IMMEDIATE; every other one with a deferred BEGIN.

    pysqlite's own deferred BEGIN lets two writers both read a free chair and then one fail on
    upgrade; taking the write lock at the start makes the check and the insert one step, as the
    overlap trigger expects. So each `transaction()` (a connection with the WRITES option) takes
    the write lock from its first statement, and writers take turns. Reads (`reading()`, a bare
    session such as the token check) open a deferred transaction: in WAL mode they take no lock
    at all, read one snapshot from their first SELECT to their end, and never wait for a writer.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITES) else "BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    install_write_guard(factory)
    install_audit_flush(factory)
    _install_read_guard(factory)
    return factory


def _install_read_guard(factory: sessionmaker[Session]) -> None:
    """Inside reading() nothing but the audit rows is written: a flush or an ORM INSERT, UPDATE or
    DELETE there is refused (on SQLite a deferred read that upgrades to a write could fail with
    SQLITE_BUSY_SNAPSHOT, and a use case that writes belongs in transaction())."""

    @event.listens_for(factory, "before_flush")
    def _check_flush(session: Session, _context, _instances) -> None:
        if session.info.get(_READING) and (session.new or session.deleted
                                           or any(session.is_modified(o) for o in session.dirty)):
            raise WriteInRead("a read unit of work (reading()) must not write; use transaction()")

    @event.listens_for(factory, "do_orm_execute")
    def _check_statement(state) -> None:
        if state.session.info.get(_READING) and (state.is_insert or state.is_update or state.is_delete):
            raise WriteInRead("a read unit of work (reading()) must not write; use transaction()")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work that writes: committed when the block ends, rolled back whole if it raises.

    On SQLite it opens with BEGIN IMMEDIATE (when its first statement is sent): it holds the
    write lock from its first read to its commit, so writers take turns.
    """
    with factory(execution_options={WRITES: True}) as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work that only reads (and notes audit rows): one consistent snapshot.

    PostgreSQL: one transaction; the audit rows noted are written by its commit, as in transaction().
    SQLite: a deferred BEGIN, so the read takes no lock and is never held up by a writer (WAL); the
    audit rows are written once its snapshot has ended, in a short BEGIN IMMEDIATE transaction of their
    own (a deferred read that upgraded to a write would fail with SQLITE_BUSY_SNAPSHOT whenever another
    writer committed meanwhile). A read that notes none never takes the write lock. Either way the
    block's answer is not returned before its audit rows are committed: if they cannot be, it raises.
    """
    rows: list[dict] = []
    with factory() as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        with session.begin():
            session.info[_READING] = True
            try:
                yield session
            finally:
                session.info.pop(_READING, None)
            if sqlite:
                rows = audit_log.take(session)
    if rows:
        with transaction(factory) as writer:
            audit_log.append(writer, rows)
