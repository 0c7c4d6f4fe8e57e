"""The exporter's state in the model's DuckDB file, schema `meta_capi`.

- `send_log`: one row per event Meta accepted. A batch is written only after Meta accepted it,
  so a crash can at worst resend the batches that were in flight (same event_id: Meta dedupes).
- `runs`: one row per run, written at the start and completed at the end. `completed` is true
  only for a real send (no dry run, no test_event_code) that left nothing undelivered; the dbt
  macro `meta_first_send_completed()` reads it to narrow the window from 62 to 7 days.
- `rejected_rows`: why each row or event was not sent: order_id, reason, never raw PII.
- `schema_version`: the versions of these tables applied to this file (see migrations.py).

Nothing a server said reaches these tables unscrubbed (see redact.py), and no value is pasted
into SQL: values are parameters; the dataset id is ASCII digits (checked in config.py).
"""

from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import duckdb

from exporter import migrations
from exporter.config import ConfigError, check_numeric_id
from exporter.events import MATCH_KEYS, Event
from exporter.migrations import SCHEMA, StateError

if TYPE_CHECKING:
    from exporter.dbt_artifacts import ModelRelation

log = logging.getLogger(__name__)

SEND_LOG_COLUMNS = "dataset_id, event_id, order_id, payload_hash, run_id, fbtrace_id, sent_at, is_test"
REJECTED_COLUMNS = "run_id, order_id, product_id, stage, reason, message, rejected_at"
PROBE_RUN_ID = "meta-capi-write-check"  # never committed
# Meta rejects an event older than 7 days (the whole request with it); it asks for store
# purchases within 62 days. In seconds.
MAX_AGE = 7 * 86400
MAX_AGE_PHYSICAL_STORE = 62 * 86400


class DatabaseBusyError(ConfigError):
    """Another process (dbt, or a second exporter) holds the DuckDB file."""


@dataclass(frozen=True)
class Rejection:
    order_id: str | None
    product_id: str | None
    stage: str  # "validation" (our rules) or "meta" (Meta rejected the event)
    reason: str
    message: str | None = None


class Accepted(NamedTuple):
    """An event Meta accepted: one row of the send log (with the run's dataset and run id)."""

    event_id: str
    order_id: str
    payload_hash: str
    fbtrace_id: str | None
    sent_at: datetime


@dataclass
class ModelCounts:
    """The model's rows for one run, by what happens to them."""

    rejected_lines: Counter = field(default_factory=Counter)  # reason -> item lines
    pending_events: int = 0  # to send
    pending_lines: int = 0
    skipped_events: int = 0  # Meta already accepted the same payload
    skipped_lines: int = 0

    @property
    def lines(self) -> int:
        return sum(self.rejected_lines.values()) + self.pending_lines + self.skipped_lines


class DatabaseError(ConfigError):
    """The DuckDB file cannot be opened, read or written (corrupt, truncated, unreadable, disk full)."""


def connect(path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    settings: dict[str, str | int | bool] = {
        # Every read has its own ORDER BY; not keeping insertion order lets DuckDB stream with less memory.
        "preserve_insertion_order": False,
        # The export is bound by Python, not DuckDB, and the other core hashes customers. One DuckDB
        # thread also keeps its memory low: with two, sorting 10M lines ran out of 256MB (measured).
        "threads": 1,
    }
    if memory_limit:
        settings["memory_limit"] = memory_limit  # a setting, never pasted into SQL
    try:
        return duckdb.connect(str(path), config=settings)
    except duckdb.Error as exc:
        raise open_error(path, exc) from None


def connect_read_only(path: Path | str) -> duckdb.DuckDBPyConnection:
    """The file for `history` and `rejected`, which never write; a writer holding it is refused alike."""
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise open_error(path, exc) from None


def open_error(path: Path | str, exc: duckdb.Error) -> DatabaseError | DatabaseBusyError:
    """What to tell the user when DuckDB cannot open the file: one line."""
    if "lock" in str(exc).lower():
        return DatabaseBusyError(
            f"{path} is in use by another process (a dbt run or another exporter). DuckDB allows one "
            "writer at a time: wait for it to finish, then run the exporter again."
        )
    return database_error(path, exc)


def database_error(path: Path | str, exc: BaseException) -> DatabaseError:
    """What to tell the user about a DuckDB error reading or writing the file: one line."""
    return DatabaseError(
        f"Cannot use the DuckDB file {path}: {first_line(exc)}. Check that it is the complete file dbt built "
        "(rebuild it with `dbt run` if it is damaged), that it is readable and writable, and that the disk has "
        "free space."
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class StateStore:
    """Reads and writes the `meta_capi` tables; used from one thread only."""

    def __init__(self, con: duckdb.DuckDBPyConnection, dataset_id: str, run_id: str, is_test: bool) -> None:
        check_numeric_id(dataset_id, "The dataset id")
        self._con = con.cursor()
        self.dataset_id = dataset_id
        self.run_id = run_id
        self.is_test = is_test

    def prepare(self, started_at: datetime) -> None:
        """Bring the tables up to date and prove they can be written, before anything is sent.

        Raises StateError (exit 2) when they cannot be used: Meta must never accept events that
        then cannot be logged, or every rerun would send everything again.
        """
        applied = migrations.migrate(self._con)
        if applied:
            log.info("State in %s brought to schema version %d", SCHEMA, applied[-1])
        migrations.check(self._con)
        self._con.execute("begin transaction")
        try:
            probe = copy.copy(self)  # on this cursor, inside this transaction
            probe.run_id = PROBE_RUN_ID
            probe.start_run("write check", True, started_at)
            probe.finish_run(started_at, {}, 0, False, None)
            probe.record_accepted([Accepted("write-check", "write-check", "0" * 64, None, started_at)])
            probe.record_rejections([Rejection("write-check", None, "validation", "write_check")], started_at)
        except duckdb.IOException:
            raise  # the file, not the tables (see database_error)
        except duckdb.Error as exc:
            raise StateError(
                f"The exporter cannot write to {SCHEMA} ({first_line(exc)}). {migrations.REPAIR_HINT}"
            ) from None
        finally:
            with suppress(duckdb.Error):  # the error above is the one to tell
                self._con.execute("rollback")

    def start_run(self, model: str, dry_run: bool, started_at: datetime) -> None:
        self._con.execute(
            f"insert into {SCHEMA}.runs (run_id, dataset_id, model, started_at, dry_run, is_test, exporter_version) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [self.run_id, self.dataset_id, model, started_at, dry_run, self.is_test, exporter_version()],
        )

    def finish_run(
        self, finished_at: datetime, figures: dict[str, object], exit_code: int, completed: bool, error: str | None
    ) -> None:
        """Complete the run's row: `figures` are RunReport.state_columns(), by column name."""
        columns = "".join(f"{name} = ?, " for name in figures)
        self._con.execute(
            f"update {SCHEMA}.runs set {columns}finished_at = ?, exit_code = ?, completed = ?, error = ? where run_id = ?",
            [*figures.values(), finished_at, exit_code, completed, error, self.run_id],
        )

    # --- the events to send (dbt model meta_capi_events) ---------------------------------

    def check_event_models(self, events: ModelRelation, rejected_lines: ModelRelation) -> None:
        """Refuse, before the run starts, event tables that are missing or lack a column the
        exporter reads (built by an older release of the models)."""
        needed = {
            events: ("event_id", "order_id", "event_time", "payload", "payload_hash", "reject_reason", "action_source",
                     "line_count", "dropped_user_data", *(f"has_{key}" for key in MATCH_KEYS)),
            rejected_lines: ("order_id", "product_id", "reason"),
        }  # fmt: skip
        for relation, columns in needed.items():
            try:
                present = {row[0] for row in self._con.execute(f"describe {relation.sql()}").fetchall()}
            except duckdb.CatalogException:
                raise ConfigError(
                    f"The model {relation} is not in the DuckDB file: run `dbt build` first (with the same profile "
                    "and target as the exporter)."
                ) from None
            missing = [name for name in columns if name not in present]
            if missing:
                raise ConfigError(
                    f"The model {relation} lacks column(s) {', '.join(missing)}: it was built by another release of "
                    "the models. Run `dbt build` again."
                )

    def _events_sql(self, events: ModelRelation, resend: bool) -> str:
        """Each sendable event of the model, with why it cannot be sent now (send_problem) and
        whether Meta already has it (already_sent: the order's latest accepted payload is this
        one). The model checked the window at dbt's as_of; the age is checked again here, at
        the moment of sending, since Meta rejects a whole request for one event too old."""
        match_keys = ", ".join(f"case when has_{key} then '{key}' end" for key in MATCH_KEYS)
        sent = (
            "select null as order_id, null as sent_hash where false"
            if resend
            else f"select order_id, arg_max(payload_hash, sent_at) as sent_hash from {SCHEMA}.send_log "
            "where dataset_id = $dataset_id and not is_test group by order_id"
        )
        return f"""
            select
                events.event_id, events.order_id, events.event_time, events.payload, events.payload_hash,
                events.line_count,
                concat_ws(',', {match_keys}) as match_keys,
                events.dropped_user_data,
                coalesce(sent.sent_hash = events.payload_hash, false) as already_sent,
                case
                    when events.event_time > $now then 'timestamp_in_future'
                    when events.event_time <= $now
                        - case when events.action_source = 'physical_store' then {MAX_AGE_PHYSICAL_STORE} else {MAX_AGE} end
                        then 'timestamp_too_old'
                end as send_problem
            from {events.sql()} as events
            left join ({sent}) as sent on sent.order_id = events.order_id
            where events.reject_reason is null"""

    def event_counts(self, events: ModelRelation, rejected_lines: ModelRelation, now: int, resend: bool) -> ModelCounts:
        """What the models hold for this run, before anything is sent."""
        parameters = {"dataset_id": self.dataset_id, "now": now} if not resend else {"now": now}
        by_outcome = self._con.execute(
            "select already_sent, send_problem, count(*), coalesce(sum(line_count), 0) "
            f"from ({self._events_sql(events, resend)}) group by all",
            parameters,
        ).fetchall()
        rejected = self._con.execute(f"select reason, count(*) from {rejected_lines.sql()} group by reason").fetchall()
        counts = ModelCounts(rejected_lines=Counter(dict(rejected)))
        for already_sent, send_problem, event_count, line_count in by_outcome:
            if already_sent:
                counts.skipped_events += event_count
                counts.skipped_lines += line_count
            elif send_problem:
                counts.rejected_lines[send_problem] += line_count
            else:
                counts.pending_events += event_count
                counts.pending_lines += line_count
        return counts

    def pending_events(
        self, events: ModelRelation, now: int, resend: bool, chunk_rows: int = 10_000
    ) -> Iterator[Event]:
        """The events to send: sendable, not too old now, and not already accepted by Meta; the
        oldest first (closest to Meta's age limit), in a stable order (by order_id after time)."""
        parameters = {"dataset_id": self.dataset_id, "now": now} if not resend else {"now": now}
        cursor = self._con.cursor()
        cursor.execute(
            f"select {', '.join(Event._fields)} from ({self._events_sql(events, resend)}) "
            "where not already_sent and send_problem is null order by event_time, order_id",
            parameters,
        )
        # 10,000 rows a fetch (~12 MB of payloads), as the bench's bare read of these columns
        # does: fewer round trips through DuckDB's Python binding, for the same memory bound.
        while rows := cursor.fetchmany(chunk_rows):
            yield from map(Event._make, rows)

    def record_model_rejections(
        self, events: ModelRelation, rejected_lines: ModelRelation, now: int, resend: bool, rejected_at: datetime
    ) -> None:
        """Copy the model's rejected lines, and the events too old to send now, into rejected_rows."""
        parameters = {"run_id": self.run_id, "at": rejected_at, "now": now}
        if not resend:
            parameters["dataset_id"] = self.dataset_id
        self._con.execute(
            f"insert into {SCHEMA}.rejected_rows ({REJECTED_COLUMNS}) "
            f"select $run_id, order_id, product_id, 'validation', reason, null, $at from {rejected_lines.sql()} "
            "union all "
            f"select $run_id, order_id, null, 'validation', send_problem, null, $at from ({self._events_sql(events, resend)}) "
            "where not already_sent and send_problem is not null",
            parameters,
        )

    def record_accepted(self, rows: list[Accepted]) -> None:
        """Log events Meta accepted, in one transaction."""
        columns = [[getattr(row, name) for row in rows] for name in Accepted._fields]
        # unnest() of list parameters inserts them all in one statement (executemany is row by row).
        self._con.execute(
            f"insert into {SCHEMA}.send_log ({SEND_LOG_COLUMNS}) select ?, unnest(?::varchar[]), unnest(?::varchar[]), "
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
            f"insert into {SCHEMA}.rejected_rows ({REJECTED_COLUMNS}) select ?, unnest(?::varchar[]), "
            "unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]), ?",
            [self.run_id, *(list(column) for column in columns), rejected_at],
        )


def exporter_version() -> str:
    try:
        return metadata.version("meta-offline-events")
    except metadata.PackageNotFoundError:  # run from a checkout without installing it
        return "unknown"


# --- reading the state back: `python -m exporter history` and `rejected`, and dbt's build log ---

# The runs columns history shows; a file written by an older release may lack the later ones.
RUN_COLUMNS = (
    "run_id", "started_at", "finished_at", "dataset_id", "dry_run", "is_test", "rows_read", "rows_rejected",
    "events_built", "events_skipped", "events_sent", "events_accepted", "events_rejected_by_meta",
    "events_undelivered", "exit_code", "completed", "dropped_user_data", "match_key_events",
)  # fmt: skip
JSON_COLUMNS = ("dropped_user_data", "match_key_events")  # JSON text in meta_capi.runs
SAMPLE_ORDERS = 3  # order ids shown per rejection reason
MODEL_BUILDS = f"{SCHEMA}.dbt_model_builds"  # written by dbt's on-run-end hook meta_record_model_builds


def recent_runs(con: duckdb.DuckDBPyConnection, last: int, dataset_id: str | None = None) -> dict:
    """The latest `last` runs, newest first, with their match-key coverage (share of events sent)."""
    if last < 1:
        raise ConfigError("--last must be at least 1.")
    present = {row["column_name"] for row in _read(con, _RUNS_COLUMNS_SQL, [SCHEMA])}
    columns = ", ".join(name if name in present else f"null as {name}" for name in RUN_COLUMNS)
    rows = _read(
        con,
        f"select {columns}, epoch(finished_at - started_at) as duration_seconds "
        f"from {SCHEMA}.runs where ? is null or dataset_id = ? order by started_at desc, run_id desc limit ?",
        [dataset_id, dataset_id, last],
    )
    for row in rows:
        for name in JSON_COLUMNS:
            row[name] = json.loads(row[name]) if row[name] else {}
        sent = row["events_sent"]
        row["match_key_coverage"] = {
            key: round(count / sent, 3) for key, count in row.pop("match_key_events").items() if sent
        }
    return {"runs": rows}


def rejections(con: duckdb.DuckDBPyConnection, run_id: str | None) -> dict:
    """Why rows of a run (default: the latest that read rows) were rejected, with example order ids."""
    if run_id is None:
        latest = _read(
            con, f"select run_id from {SCHEMA}.runs where rows_read > 0 order by started_at desc, run_id desc limit 1"
        )
        if not latest:
            return {"run_id": None, "reasons": []}
        run_id = latest[0]["run_id"]
    elif not _read(con, f"select run_id from {SCHEMA}.runs where run_id = ?", [run_id]):
        raise ConfigError(f"No run {run_id!r} in {SCHEMA}.runs: `python -m exporter history` lists the runs.")
    reasons = _read(
        con,
        "select stage, reason, count(*) as rows, "
        "list(distinct order_id order by order_id) filter (where order_id is not null)[1:?] as example_order_ids "
        f"from {SCHEMA}.rejected_rows where run_id = ? group by stage, reason order by rows desc, stage, reason",
        [SAMPLE_ORDERS, run_id],
    )
    return {"run_id": run_id, "reasons": reasons}


def latest_model_build(con: duckdb.DuckDBPyConnection, unique_id: str) -> dict | None:
    """dbt's latest recorded attempt to build the model (invocation_id, status, recorded_at), or None."""
    rows = _read(
        con,
        f"select invocation_id, status, recorded_at from {MODEL_BUILDS} where unique_id = ? "
        "order by recorded_at desc limit 1",
        [unique_id],
    )
    return rows[0] if rows else None


def _read(con: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[dict]:
    """Rows as dicts; none while the table does not exist yet (nothing recorded so far)."""
    try:
        cursor = con.execute(sql, parameters or [])
    except duckdb.CatalogException:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_RUNS_COLUMNS_SQL = (
    "select column_name from information_schema.columns where table_schema = ? and table_name = 'runs' "
    "and table_catalog = current_database()"
)
