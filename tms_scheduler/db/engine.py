from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

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


def _serialise_sqlite_writes(engine: Engine) -> None:
    """Every SQLite transaction starts with BEGIN IMMEDIATE.

    pysqlite's own deferred BEGIN lets two writers both read a free chair and then
    one fail on upgrade; taking the write lock at the start makes the check and the
    insert one step, as the overlap trigger expects.
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    install_write_guard(factory)
    install_audit_flush(factory)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back whole if it raises."""
    with factory() as session, session.begin():
        yield session
