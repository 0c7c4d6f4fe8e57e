"""The exporter's state in the model's DuckDB file, schema `meta_capi`.

- `send_log`: one row per event Meta accepted. A batch is written only after Meta accepted it,
  so a crash can at worst resend the batches that were in flight (same event_id: Meta dedupes).
- `runs`: one row per run, written at the start and completed at the end. `completed` is true
  only for a real send (no dry run, no test_event_code) that left nothing undelivered; the dbt
  macro `meta_first_send_completed()` reads it to narrow the window from 62 to 7 days.
- `rejected_rows`: why each row or event was not sent: order_id, reason, never raw PII.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import duckdb

log = logging.getLogger(__name__)

SCHEMA = "meta_capi"

DDL = f"""
create schema if not exists {SCHEMA};
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
"""


class DatabaseBusyError(RuntimeError):
    """Another process (dbt, or a second exporter) holds the DuckDB file."""


@dataclass(frozen=True)
class Rejection:
    order_id: str | None
    product_id: str | None
    stage: str  # "validation" (our rules) or "meta" (Meta rejected the event)
    reason: str
    message: str | None = None


def connect(path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseBusyError(
                f"{path} is in use by another process (a dbt run or another exporter). DuckDB allows one "
                "writer at a time: wait for it to finish, then run the exporter again."
            ) from None
        raise
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    # Every read has its own ORDER BY; not keeping insertion order lets DuckDB stream with less memory.
    con.execute("set preserve_insertion_order = false")
    # The export is bound by Python, not DuckDB, and the other core hashes customers. One DuckDB
    # thread also keeps its memory low: with two, sorting 10M lines ran out of 256MB (measured).
    con.execute("set threads = 1")
    return con


class StateStore:
    """Reads and writes the `meta_capi` tables; used from one thread only."""

    def __init__(self, con: duckdb.DuckDBPyConnection, dataset_id: str, run_id: str, is_test: bool) -> None:
        self._con = con.cursor()
        self.dataset_id = dataset_id
        self.run_id = run_id
        self.is_test = is_test
        self._con.execute(DDL)

    def start_run(self, model: str, dry_run: bool, started_at: datetime) -> None:
        self._con.execute(
            f"insert into {SCHEMA}.runs (run_id, dataset_id, model, started_at, dry_run, is_test) values (?, ?, ?, ?, ?, ?)",
            [self.run_id, self.dataset_id, model, started_at, dry_run, self.is_test],
        )

    def finish_run(
        self, finished_at: datetime, counts: dict[str, int], exit_code: int, completed: bool, error: str | None
    ) -> None:
        columns = ", ".join(f"{name} = ?" for name in counts)
        self._con.execute(
            f"update {SCHEMA}.runs set {columns}, finished_at = ?, exit_code = ?, completed = ?, error = ? where run_id = ?",
            [*counts.values(), finished_at, exit_code, completed, error, self.run_id],
        )

    def sent_payloads_query(self) -> str:
        """SQL for the latest accepted payload hash per order_id of this dataset (real sends only)."""
        return (
            f"select order_id, arg_max(payload_hash, sent_at) as sent_payload_hash from {SCHEMA}.send_log "
            f"where dataset_id = '{self.dataset_id}' and not is_test group by order_id"
        )

    def record_accepted(self, rows: list[tuple[str, str, str, str | None, datetime]]) -> None:
        """Log (event_id, order_id, payload_hash, fbtrace_id, sent_at) of events Meta accepted, in one transaction."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        # unnest() of list parameters inserts them all in one statement (executemany is row by row).
        self._con.execute(
            f"insert into {SCHEMA}.send_log select ?, unnest(?::varchar[]), unnest(?::varchar[]), "
            "unnest(?::varchar[]), ?, unnest(?::varchar[]), unnest(?::timestamp[]), ?",
            [self.dataset_id, *columns[:3], self.run_id, *columns[3:], self.is_test],
        )

    def for_another_thread(self) -> StateStore:
        """The same state on a cursor of its own: a DuckDB cursor must not be shared between threads."""
        return StateStore(self._con, self.dataset_id, self.run_id, self.is_test)

    def record_rejections(self, rejections: list[Rejection], rejected_at: datetime) -> None:
        if not rejections:
            return
        columns = list(
            zip(*((r.order_id, r.product_id, r.stage, r.reason, r.message) for r in rejections), strict=True)
        )
        self._con.execute(
            f"insert into {SCHEMA}.rejected_rows select ?, unnest(?::varchar[]), unnest(?::varchar[]), "
            "unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]), ?",
            [self.run_id, *(list(column) for column in columns), rejected_at],
        )
