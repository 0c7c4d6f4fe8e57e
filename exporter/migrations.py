"""The versions of the exporter's state (schema `meta_capi`), and how an older file is brought up to date.

Version 1: `send_log`, `runs` and `rejected_rows` as the first releases created them (they kept no
           version: a file with these tables and no `schema_version` is at version 1).
Version 2: `schema_version` (one row per version applied) and `runs.exporter_version` (the
           release that made each run).
Version 3: `runs.dropped_user_data` (unusable values per match key and reason) and
           `runs.match_key_events` (events sent carrying each match key), both JSON text.

migrate() applies what a warehouse lacks, in one transaction (where the engine has them: DuckDB
and PostgreSQL), before anything is sent; check() then compares the tables with what this
exporter writes, so a state it cannot use stops the run with exit 2 before the first request
instead of after Meta accepted events it could not log. The DDL is written once, with DuckDB's
type names; warehouse.py reads other engines' type names back as those.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

from exporter.config import ConfigError
from exporter.warehouse import Warehouse

SCHEMA = "meta_capi"
SCHEMA_VERSION = 3

MIGRATIONS: dict[int, str] = {
    # The schema itself is created by migrate(), only when absent: PostgreSQL checks the CREATE
    # privilege on the database even for `create schema if not exists` of an existing schema.
    1: f"""
create table if not exists {SCHEMA}.send_log (
    dataset_id varchar not null,
    event_id varchar not null,
    order_id varchar not null,
    payload_hash varchar not null,
    run_id varchar not null,
    fbtrace_id varchar,
    sent_at timestamp not null,
    is_test boolean not null default false
);
create table if not exists {SCHEMA}.runs (
    run_id varchar primary key,
    dataset_id varchar not null,
    model varchar,
    started_at timestamp not null,
    finished_at timestamp,
    dry_run boolean not null,
    is_test boolean not null,
    rows_read bigint,
    rows_rejected bigint,
    events_built bigint,
    events_skipped bigint,
    events_sent bigint,
    events_accepted bigint,
    events_rejected_by_meta bigint,
    events_undelivered bigint,
    batches bigint,
    retries bigint,
    exit_code integer,
    completed boolean not null default false,
    error varchar
);
create table if not exists {SCHEMA}.rejected_rows (
    run_id varchar not null,
    order_id varchar,
    product_id varchar,
    stage varchar not null,
    reason varchar not null,
    message varchar,
    rejected_at timestamp not null
);
""",
    2: f"""
create table {SCHEMA}.schema_version (version integer primary key, applied_at timestamp not null);
alter table {SCHEMA}.runs add column exporter_version varchar;
""",
    3: f"""
alter table {SCHEMA}.runs add column dropped_user_data varchar;
alter table {SCHEMA}.runs add column match_key_events varchar;
""",
}

# What this exporter reads and writes, at SCHEMA_VERSION: table -> column -> DuckDB type. Other
# columns may be added by hand as long as they can stay empty (checked by writing, see state.py).
COLUMNS: dict[str, dict[str, str]] = {
    "send_log": {
        "dataset_id": "VARCHAR", "event_id": "VARCHAR", "order_id": "VARCHAR", "payload_hash": "VARCHAR",
        "run_id": "VARCHAR", "fbtrace_id": "VARCHAR", "sent_at": "TIMESTAMP", "is_test": "BOOLEAN",
    },
    "runs": {
        "run_id": "VARCHAR", "dataset_id": "VARCHAR", "model": "VARCHAR", "started_at": "TIMESTAMP",
        "finished_at": "TIMESTAMP", "dry_run": "BOOLEAN", "is_test": "BOOLEAN", "rows_read": "BIGINT",
        "rows_rejected": "BIGINT", "events_built": "BIGINT", "events_skipped": "BIGINT", "events_sent": "BIGINT",
        "events_accepted": "BIGINT", "events_rejected_by_meta": "BIGINT", "events_undelivered": "BIGINT",
        "batches": "BIGINT", "retries": "BIGINT", "exit_code": "INTEGER", "completed": "BOOLEAN", "error": "VARCHAR",
        "exporter_version": "VARCHAR", "dropped_user_data": "VARCHAR", "match_key_events": "VARCHAR",
    },
    "rejected_rows": {
        "run_id": "VARCHAR", "order_id": "VARCHAR", "product_id": "VARCHAR", "stage": "VARCHAR", "reason": "VARCHAR",
        "message": "VARCHAR", "rejected_at": "TIMESTAMP",
    },
    "schema_version": {"version": "INTEGER", "applied_at": "TIMESTAMP"},
}  # fmt: skip


class StateError(ConfigError):
    """The meta_capi tables are not what this exporter can use (exit code 2, before anything is sent)."""


FIRST_TABLES = ("send_log", "runs", "rejected_rows")  # version 1


def current_version(wh: Warehouse) -> int:
    """0: no state yet; 1: tables made before versions were kept; else the highest version applied."""
    tables = set(wh.columns(SCHEMA))
    if "schema_version" in tables:
        return wh.execute(f"select coalesce(max(version), 0) from {SCHEMA}.schema_version").fetchone()[0]
    if not tables & set(FIRST_TABLES):
        return 0
    for table in FIRST_TABLES:  # migrations build on all of them
        if table not in tables:
            raise StateError(f"{SCHEMA}.{table} is missing. {REPAIR_HINT}")
    return 1


def migrate(wh: Warehouse) -> list[int]:
    """Bring the state up to SCHEMA_VERSION; returns the versions applied (none when up to date)."""
    version = current_version(wh)
    if version > SCHEMA_VERSION:
        raise StateError(
            f"The exporter's state ({SCHEMA}) has schema version {version}, newer than this exporter knows "
            f"({SCHEMA_VERSION}): a newer release wrote it. Run that release, or upgrade this one."
        )
    missing = list(range(version + 1, SCHEMA_VERSION + 1))
    if not missing:
        return []
    applied_at = datetime.now(UTC).replace(tzinfo=None)
    wh.begin()
    try:
        if not wh.schema_exists(SCHEMA):
            wh.execute(f"create schema {SCHEMA}")
        for step in missing:
            wh.execute_script(MIGRATIONS[step])
        wh.insert_rows(f"{SCHEMA}.schema_version", COLUMNS["schema_version"], [(v, applied_at) for v in missing])
        wh.commit()
    except BaseException:
        with suppress(*wh.errors):  # a failed commit leaves no transaction to roll back
            wh.rollback()
        raise
    return missing


def check(wh: Warehouse) -> None:
    """Raise StateError naming what differs from COLUMNS: a missing table or column, another type."""
    present = wh.columns(SCHEMA)
    for table, expected in COLUMNS.items():
        if table not in present:
            raise StateError(f"{SCHEMA}.{table} is missing. {REPAIR_HINT}")
        lacking = [column for column in expected if column not in present[table]]
        if lacking:
            raise StateError(f"{SCHEMA}.{table} lacks column(s) {', '.join(lacking)}. {REPAIR_HINT}")
        for column, data_type in expected.items():
            if present[table][column] != data_type:
                raise StateError(
                    f"{SCHEMA}.{table}.{column} is {present[table][column]}, not {data_type}. {REPAIR_HINT}"
                )


REPAIR_HINT = (
    "The exporter's state was changed by another program or by hand: restore the table, or drop schema "
    f"{SCHEMA} to start afresh (the next run then sends every event in the window again, which Meta "
    "deduplicates)."
)
