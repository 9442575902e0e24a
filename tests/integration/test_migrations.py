"""The migrations, on fresh databases of each backend: up, down to nothing, up again, and matching the models."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from tms_scheduler.db import migrate
from tms_scheduler.db.engine import make_engine
from tms_scheduler.db.models import Base

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
pytestmark = pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)

ALEMBIC_TABLE = "alembic_version"
FIRST_REVISION = "0001"  # the foundation, which creates the guard


def schema_differences(url: str) -> list:
    """What autogenerate would write to make the database match the models.

    Run against both backends this currently reports nothing, so no noise is filtered. It cannot see
    CHECK constraints, the partial index's WHERE clause, the exclusion constraint or the SQLite triggers;
    those are checked one by one below.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                    "compare_server_default": False})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {ALEMBIC_TABLE}
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def overlap_guards(url: str) -> set[str]:
    """The names of the chair-overlap guard's parts present in the database."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return set(connection.scalars(text(
                    "SELECT conname FROM pg_constraint WHERE conrelid = 'sessions'::regclass AND contype = 'x'")))
            return set(connection.scalars(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sessions'")))
    finally:
        engine.dispose()


def expected_guards(url: str) -> set[str]:
    if make_url(url).get_backend_name() == "postgresql":
        return {"ex_sessions_chair_overlap"}
    return {"tr_sessions_chair_overlap_insert", "tr_sessions_chair_overlap_update"}


def test_upgrading_a_fresh_database_reaches_head_with_the_schema_of_the_models(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    assert current(fresh_database_url) == migrate.head_revision()
    assert tables(fresh_database_url) == set(Base.metadata.tables)
    assert schema_differences(fresh_database_url) == []


def test_upgrading_installs_the_chair_overlap_guard(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    assert overlap_guards(fresh_database_url) == expected_guards(fresh_database_url)


def test_the_one_active_course_index_covers_only_active_courses(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                definition = connection.scalar(text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_courses_one_active_per_patient'"))
            else:
                definition = connection.scalar(text(
                    "SELECT sql FROM sqlite_master WHERE name = 'uq_courses_one_active_per_patient'"))
    finally:
        engine.dispose()
    assert "UNIQUE" in definition.upper()
    assert "active" in definition and "WHERE" in definition.upper()


def test_downgrading_to_base_removes_every_table_and_guard(fresh_database_url):
    migrate.upgrade(fresh_database_url)

    migrate.downgrade(fresh_database_url, "base")

    assert tables(fresh_database_url) == set()
    assert current(fresh_database_url) is None
    if make_url(fresh_database_url).get_backend_name() == "sqlite":
        assert overlap_guards(fresh_database_url) == set()


def test_upgrading_again_after_a_downgrade_rebuilds_the_same_schema(fresh_database_url):
    migrate.upgrade(fresh_database_url)
    migrate.downgrade(fresh_database_url, "base")

    migrate.upgrade(fresh_database_url)

    assert current(fresh_database_url) == migrate.head_revision()
    assert schema_differences(fresh_database_url) == []
    assert overlap_guards(fresh_database_url) == expected_guards(fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        with engine.connect() as connection:
            calendars = set(connection.scalars(text("SELECT id FROM holiday_calendars")))
    finally:
        engine.dispose()
    assert calendars == {"us-clinic", "none"}


def test_stepping_down_one_migration_at_a_time_keeps_the_chair_overlap_guard_until_the_last(fresh_database_url):
    # SQLite rebuilds a table to drop a column, and a rebuilt `sessions` would lose its triggers silently.
    migrate.upgrade(fresh_database_url)

    while current(fresh_database_url) != FIRST_REVISION:
        migrate.downgrade(fresh_database_url, "-1")
        assert overlap_guards(fresh_database_url) == expected_guards(fresh_database_url), current(fresh_database_url)

    migrate.downgrade(fresh_database_url, "-1")
    assert tables(fresh_database_url) == set()


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def schema_snapshot(url: str) -> dict:
    """Tables with their columns, indexes, keys and constraints, and the triggers: what a migration changes."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        snapshot: dict = {}
        for table in sorted(set(inspector.get_table_names()) - {ALEMBIC_TABLE}):
            snapshot[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in inspector.get_indexes(table)),
                "foreign keys": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                                        tuple(f["referred_columns"])) for f in inspector.get_foreign_keys(table)),
                "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
            }
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                snapshot["(constraints)"] = sorted(connection.execute(text(
                    "SELECT conrelid::regclass::text, conname, contype FROM pg_constraint "
                    "WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> :alembic"),
                    {"alembic": ALEMBIC_TABLE}).all())
                snapshot["(triggers)"] = sorted(connection.execute(text(
                    "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")).all())
                snapshot["(functions)"] = sorted(connection.scalars(text(
                    # the service's own: btree_gist's stay after a downgrade (CREATE EXTENSION IF NOT EXISTS)
                    "SELECT proname FROM pg_proc p WHERE pronamespace = 'public'::regnamespace AND NOT EXISTS "
                    "(SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')")))
            else:
                snapshot["(triggers)"] = sorted(connection.execute(text(
                    "SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")).all())
        return snapshot
    finally:
        engine.dispose()


def test_every_migration_steps_down_and_up_again_one_at_a_time_leaving_the_schema_it_found(fresh_database_url):
    revisions = revisions_oldest_first()
    assert revisions[0] == FIRST_REVISION and revisions[-1] == migrate.head_revision()
    # Up one at a time: the schema at each revision.
    at: dict[str | None, dict] = {None: schema_snapshot(fresh_database_url)}
    for revision in revisions:
        migrate.upgrade(fresh_database_url, "+1")
        assert current(fresh_database_url) == revision
        at[revision] = schema_snapshot(fresh_database_url)

    # Down one at a time, through every revision to none: each downgrade leaves what its upgrade found.
    for below in [*reversed(revisions[:-1]), None]:
        migrate.downgrade(fresh_database_url, "-1")
        assert current(fresh_database_url) == below
        assert schema_snapshot(fresh_database_url) == at[below], f"stepping down to {below}"

    # And up again, one at a time, to the same schemas.
    for revision in revisions:
        migrate.upgrade(fresh_database_url, "+1")
        assert current(fresh_database_url) == revision
        assert schema_snapshot(fresh_database_url) == at[revision], f"stepping up again to {revision}"
    assert schema_differences(fresh_database_url) == []
