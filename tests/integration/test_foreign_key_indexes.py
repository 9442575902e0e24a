"""Every foreign key has an index to find its rows by, on both backends.

Neither database indexes the referencing side of a foreign key by itself. Without one, deleting (or
re-keying) a parent row makes the database scan the whole child table to check nobody still points at
it, once per deleted row: deleting one course's 36 sessions at a million stored sessions scanned
`sessions` 36 times for `makeup_for_id` (~3 s). Joins and filters on the column pay the same way.

A foreign key counts as covered when its columns are the leading columns of the primary key, of a
unique constraint or of a plain index. A partial index does not count: its WHERE clause hides rows the
check has to find (`uq_courses_one_active_per_patient` covers only active courses, not a patient's others).
"""
from __future__ import annotations

import pytest
from sqlalchemy import inspect

from tms_scheduler.db import migrate
from tms_scheduler.db.engine import make_engine

PARTIAL = ("postgresql_where", "sqlite_where")


def _leading_column_sets(inspector, table: str) -> list[tuple[str, list[str]]]:
    """(name, columns) of everything on `table` a lookup by its leading columns can use."""
    found: list[tuple[str, list[str]]] = []
    pk = inspector.get_pk_constraint(table)
    if pk.get("constrained_columns"):
        found.append((pk.get("name") or "primary key", list(pk["constrained_columns"])))
    for unique in inspector.get_unique_constraints(table):
        found.append((unique.get("name") or "unique", list(unique["column_names"])))
    for index in inspector.get_indexes(table):
        if any(index.get("dialect_options", {}).get(key) is not None for key in PARTIAL):
            continue
        columns: list[str] = []
        for column in index["column_names"]:
            if column is None:  # an expression: nothing after it leads
                break
            columns.append(column)
        found.append((index["name"], columns))
    return found


def unindexed_foreign_keys(url: str) -> list[str]:
    """"table(columns) -> referred table" for each foreign key no index, unique constraint or PK leads with."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        missing = []
        for table in sorted(inspector.get_table_names()):
            candidates = _leading_column_sets(inspector, table)
            for fk in inspector.get_foreign_keys(table):
                wanted = set(fk["constrained_columns"])
                if not any(set(columns[:len(wanted)]) == wanted for _, columns in candidates):
                    missing.append(f"{table}({', '.join(fk['constrained_columns'])}) -> {fk['referred_table']}")
        return missing
    finally:
        engine.dispose()


def test_every_foreign_key_of_the_migrated_schema_leads_an_index(database_url):
    assert unindexed_foreign_keys(database_url) == []


@pytest.mark.parametrize("fresh_database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_check_finds_the_foreign_keys_left_unindexed_before_0003(fresh_database_url):
    # The schema before the indexes: the check must see the gaps, the partial unique index included.
    migrate.upgrade(fresh_database_url, "0002")

    missing = unindexed_foreign_keys(fresh_database_url)

    assert "sessions(makeup_for_id) -> sessions" in missing
    assert "courses(patient_id) -> patients" in missing
    assert "treatment_records(session_id) -> sessions" not in missing  # its primary key
    assert "sessions(chair_id) -> chairs" not in missing  # ix_sessions_chair_starts leads with it

    migrate.upgrade(fresh_database_url)
    assert unindexed_foreign_keys(fresh_database_url) == []
