from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .write_guard import install_write_guard


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _serialise_sqlite_writes(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout; a connection the server dropped
    # fails its statement, SQLAlchemy discards the pool, and the request can be retried.
    kwargs.setdefault("pool_recycle", 1800)
    # Sessions on UTC: timestamps come back already in UTC and need no conversion.
    kwargs.setdefault("connect_args", {"options": "-c timezone=UTC"})
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


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
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back whole if it raises."""
    with factory() as session, session.begin():
        yield session
