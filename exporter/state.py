"""The exporter's state in the warehouse dbt built the model in, schema `meta_capi`, and every
SQL statement the exporter runs, written once for DuckDB, PostgreSQL and Spark (the rules are in
warehouse.py, which owns what differs between them).

- `send_log`: one row per event Meta accepted. A batch is written only after Meta accepted it,
  so a crash can at worst resend the batches that were in flight (same event_id: Meta dedupes).
- `runs`: one row per run, written at the start and completed at the end. `completed` is true
  only for a real send (no dry run, no test_event_code) that left nothing undelivered; the dbt
  macro `meta_first_send_completed()` reads it to narrow the window from 62 to 7 days.
- `rejected_rows`: why each row or event was not sent: order_id, reason, never raw PII.
- `schema_version`: the versions of these tables applied to this warehouse (see migrations.py).

Nothing a server said reaches these tables unscrubbed (see redact.py), and no value is pasted
into SQL: values are parameters; the dataset id is ASCII digits (checked in config.py).
"""

from __future__ import annotations

import copy
import json
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from itertools import islice
from typing import TYPE_CHECKING, NamedTuple

from exporter import migrations
from exporter.config import ConfigError, check_numeric_id
from exporter.events import MATCH_KEYS, Event
from exporter.migrations import COLUMNS, SCHEMA, StateError
from exporter.warehouse import DatabaseBusyError, DatabaseError, Warehouse, first_line  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from exporter.dbt_artifacts import ModelRelation

log = logging.getLogger(__name__)

REJECTED_COLUMNS = "run_id, order_id, product_id, stage, reason, message, rejected_at"
PROBE_RUN_ID = "meta-capi-write-check"  # never committed
# Meta rejects an event older than 7 days (the whole request with it); it asks for store
# purchases within 62 days. In seconds.
MAX_AGE = 7 * 86400
MAX_AGE_PHYSICAL_STORE = 62 * 86400
FETCH_ROWS = 1_000  # rows turned into Python objects at a time (see StateStore.pending_events)


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


class StateStore:
    """Reads and writes the `meta_capi` tables; used from one thread only."""

    def __init__(self, wh: Warehouse, dataset_id: str, run_id: str, is_test: bool) -> None:
        check_numeric_id(dataset_id, "The dataset id")
        self._wh = wh
        self.dataset_id = dataset_id
        self.run_id = run_id
        self.is_test = is_test

    def prepare(self, started_at: datetime) -> None:
        """Bring the tables up to date and prove they can be written, before anything is sent.

        Raises StateError (exit 2) when they cannot be used: Meta must never accept events that
        then cannot be logged, or every rerun would send everything again.
        """
        wh = self._wh
        try:
            applied = migrations.migrate(wh)
        except wh.errors as exc:
            if wh.privilege_problem(exc):
                raise StateError(wh.privilege_hint(exc)) from None
            raise
        if applied:
            log.info("State in %s brought to schema version %d", SCHEMA, applied[-1])
        migrations.check(wh)
        if not wh.transactional:
            return  # a write check that cannot be rolled back would leave its rows behind (Spark)
        wh.begin()
        try:
            probe = copy.copy(self)  # on this cursor, inside this transaction
            probe.run_id = PROBE_RUN_ID
            probe.start_run("write check", True, started_at)
            probe.finish_run(started_at, {}, 0, False, None)
            probe.record_accepted([Accepted("write-check", "write-check", "0" * 64, None, started_at)])
            probe.record_rejections([Rejection("write-check", None, "validation", "write_check")], started_at)
        except wh.errors as exc:
            if wh.is_storage_error(exc):
                raise  # the storage, not the tables (see Warehouse.database_error)
            if wh.privilege_problem(exc):
                raise StateError(wh.privilege_hint(exc)) from None
            raise StateError(
                f"The exporter cannot write to {SCHEMA} ({first_line(exc)}). {migrations.REPAIR_HINT}"
            ) from None
        finally:
            with suppress(*wh.errors):  # the error above is the one to tell
                wh.rollback()

    def start_run(self, model: str, dry_run: bool, started_at: datetime) -> None:
        self._wh.execute(
            f"insert into {SCHEMA}.runs (run_id, dataset_id, model, started_at, dry_run, is_test, exporter_version) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [self.run_id, self.dataset_id, model, started_at, dry_run, self.is_test, exporter_version()],
        )

    def finish_run(
        self, finished_at: datetime, figures: dict[str, object], exit_code: int, completed: bool, error: str | None
    ) -> None:
        """Complete the run's row: `figures` are RunReport.state_columns(), by column name."""
        values = {**figures, "finished_at": finished_at, "exit_code": exit_code, "completed": completed, "error": error}
        self._wh.update_row(f"{SCHEMA}.runs", values, "run_id", self.run_id)

    # --- the events to send (dbt model meta_capi_events) ---------------------------------

    def check_event_models(self, events: ModelRelation, rejected_lines: ModelRelation) -> None:
        """Refuse, before the run starts, event tables that are missing or lack a column the
        exporter reads (built by an older release of the models)."""
        needed = {
            events: ("event_id", "order_id", "event_time", "send_order", "payload", "payload_hash", "reject_reason",
                     "action_source", "line_count", "dropped_user_data", *(f"has_{key}" for key in MATCH_KEYS)),
            rejected_lines: ("order_id", "product_id", "reason"),
        }  # fmt: skip
        wh = self._wh
        for relation, columns in needed.items():
            try:
                present = wh.column_names(self._relation(relation))
            except wh.errors as exc:
                if wh.privilege_problem(exc):
                    raise ConfigError(wh.privilege_hint(exc)) from None
                if not wh.is_missing_table(exc):
                    raise
                raise ConfigError(
                    f"The model {relation} is not in {wh.holder}: run `dbt build` first (with the same profile "
                    "and target as the exporter)."
                ) from None
            missing = [name for name in columns if name not in present]
            if missing:
                raise ConfigError(
                    f"The model {relation} lacks column(s) {', '.join(missing)}: it was built by another release of "
                    "the models. Run `dbt build` again."
                )

    def _relation(self, relation: ModelRelation) -> str:
        # The catalog is left out on purpose: the exporter checks it against the opened warehouse
        # (ModelRelation.check_warehouse) rather than failing on a file opened under another name.
        return self._wh.relation(relation.schema, relation.identifier)

    def _sendable_sql(self, events: ModelRelation, row_ids: bool = False) -> str:
        """Each sendable event of the model, with why it cannot be sent now (send_problem): the
        model checked the window at dbt's as_of; the age is checked again here, at the moment of
        sending, since Meta rejects a whole request for one event too old. `row_ids`: with
        DuckDB's rowid of each (see _pending_by_pages)."""
        match_keys = ", ".join(f"case when has_{key} then '{key}' end" for key in MATCH_KEYS)
        return f"""
            select
                {"rowid as row_id," if row_ids else ""}
                event_id, order_id, event_time, send_order, payload, payload_hash, line_count,
                concat_ws(',', {match_keys}) as match_keys,
                dropped_user_data,
                case
                    when event_time > $now then 'timestamp_in_future'
                    when event_time <= $now
                        - case when action_source = 'physical_store' then {MAX_AGE_PHYSICAL_STORE} else {MAX_AGE} end
                        then 'timestamp_too_old'
                end as send_problem
            from {self._relation(events)} as events
            where reject_reason is null"""

    def _events_sql(self, events: ModelRelation, resend: bool, row_ids: bool = False) -> str:
        """_sendable_sql, and whether Meta already has each event (already_sent: the order's
        latest accepted payload is this one)."""
        sent = (
            "select null as order_id, null as sent_hash where false"
            if resend
            else f"select order_id, {self._wh.arg_max('payload_hash', 'sent_at')} as sent_hash from {SCHEMA}.send_log "
            "where dataset_id = $dataset_id and not is_test group by order_id"
        )
        return f"""
            select events.*, coalesce(sent.sent_hash = events.payload_hash, false) as already_sent
            from ({self._sendable_sql(events, row_ids)}) as events
            left join ({sent}) as sent on sent.order_id = events.order_id"""

    def event_counts(self, events: ModelRelation, rejected_lines: ModelRelation, now: int, resend: bool) -> ModelCounts:
        """What the models hold for this run, before anything is sent."""
        parameters = {"dataset_id": self.dataset_id, "now": now} if not resend else {"now": now}
        by_outcome = self._wh.execute(
            "select already_sent, send_problem, count(*), cast(coalesce(sum(line_count), 0) as bigint) "
            f"from ({self._events_sql(events, resend)}) as e group by already_sent, send_problem",
            parameters,
        ).fetchall()
        rejected = self._wh.execute(
            f"select reason, count(*) from {self._relation(rejected_lines)} as r group by reason"
        ).fetchall()
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

    def pending_events(self, events: ModelRelation, now: int, resend: bool, page_rows: int = 10_000) -> Iterator[Event]:
        """The events to send: sendable, not too old now, and not already accepted by Meta; in
        the model's send_order (oldest first, then by order_id: the same on every engine).

        Rows become Python objects FETCH_ROWS at a time: the driver holds the GIL meanwhile, and
        10,000 rows with their payloads held it long enough to delay the posting threads' next
        requests (at 300 ms a request, 1,000 a fetch sent 1M lines ~0.5-1 s sooner, measured)."""
        parameters = {"dataset_id": self.dataset_id, "now": now} if not resend else {"now": now}
        if self._wh.sorts_long_rows:
            pending = self._pending_sql(events, resend, Event._fields)
            rows = self._wh.stream(f"{pending} order by send_order", parameters, FETCH_ROWS)
        else:
            rows = self._pending_by_pages(events, resend, parameters, page_rows)
        yield from map(Event._make, rows)

    def _pending_sql(self, events: ModelRelation, resend: bool, columns: Sequence[str], row_ids: bool = False) -> str:
        return (
            f"select {', '.join(columns)} from ({self._events_sql(events, resend, row_ids)}) as e "
            "where not already_sent and send_problem is null"
        )

    def _pending_by_pages(
        self, events: ModelRelation, resend: bool, parameters: dict, page_rows: int
    ) -> Iterator[tuple]:
        """The pending events in send_order, for a warehouse that cannot sort them whole: their
        DuckDB rowids are sorted alone, by send_order, then the rows are read a page of rowids at
        a time. A rowid finds its row wherever the model wrote it: 10,000 of 3.3M
        events in 0.05-0.15 s, where the same page found by a send_order range took 0.4-0.5 s
        (the model's rows were written in hash order, measured)."""
        keys = self._wh.stream(
            f"{self._pending_sql(events, resend, ('row_id',), row_ids=True)} order by send_order",
            parameters,
            page_rows,
        )
        page_sql = (
            f"select {', '.join(Event._fields)} from ({self._sendable_sql(events, row_ids=True)}) as e "
            "where row_id in (select unnest($page)) order by send_order"
        )
        while page := [row_id for (row_id,) in islice(keys, page_rows)]:
            result = self._wh.execute(page_sql, {"now": parameters["now"], "page": page})
            while rows := result.fetchmany(FETCH_ROWS):
                yield from rows

    def record_model_rejections(
        self, events: ModelRelation, rejected_lines: ModelRelation, now: int, resend: bool, rejected_at: datetime
    ) -> None:
        """Copy the model's rejected lines, and the events too old to send now, into rejected_rows."""
        parameters = {"run_id": self.run_id, "at": rejected_at, "now": now}
        if not resend:
            parameters["dataset_id"] = self.dataset_id
        self._wh.execute(
            f"insert into {SCHEMA}.rejected_rows ({REJECTED_COLUMNS}) "
            f"select $run_id, order_id, product_id, 'validation', reason, null, $at from {self._relation(rejected_lines)} as r "
            "union all "
            f"select $run_id, order_id, null, 'validation', send_problem, null, $at "
            f"from ({self._events_sql(events, resend)}) as e "
            "where not already_sent and send_problem is not null",
            parameters,
        )

    def record_accepted(self, rows: list[Accepted]) -> None:
        """Log events Meta accepted, in one statement."""
        self._wh.insert_rows(
            f"{SCHEMA}.send_log",
            COLUMNS["send_log"],
            [(row.event_id, row.order_id, row.payload_hash, row.fbtrace_id, row.sent_at) for row in rows],
            constants={"dataset_id": self.dataset_id, "run_id": self.run_id, "is_test": self.is_test},
        )

    def for_another_thread(self) -> StateStore:
        """The same state on a session of its own (close() it): a session must not be shared between threads."""
        return StateStore(self._wh.session(), self.dataset_id, self.run_id, self.is_test)

    def record_rejections(self, rejections: list[Rejection], rejected_at: datetime) -> None:
        if not rejections:
            return
        self._wh.insert_rows(
            f"{SCHEMA}.rejected_rows",
            COLUMNS["rejected_rows"],
            [(r.order_id, r.product_id, r.stage, r.reason, r.message) for r in rejections],
            constants={"run_id": self.run_id, "rejected_at": rejected_at},
        )

    def checkpoint(self) -> None:
        self._wh.checkpoint()

    def close(self) -> None:
        """Close the session (for_another_thread's: the pipeline closes the first one)."""
        self._wh.close()


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


def recent_runs(wh: Warehouse, last: int, dataset_id: str | None = None) -> dict:
    """The latest `last` runs, newest first, with their match-key coverage (share of events sent)."""
    if last < 1:
        raise ConfigError("--last must be at least 1.")
    present = wh.columns(SCHEMA).get("runs", {})
    columns = ", ".join(name if name in present else f"null as {name}" for name in RUN_COLUMNS)
    rows = _read(
        wh,
        f"select {columns} from {SCHEMA}.runs where ? is null or dataset_id = ? "
        "order by started_at desc, run_id desc limit ?",
        [dataset_id, dataset_id, last],
    )
    for row in rows:
        for name in JSON_COLUMNS:
            row[name] = json.loads(row[name]) if row[name] else {}
        sent = row["events_sent"]
        row["match_key_coverage"] = {
            key: round(count / sent, 3) for key, count in row.pop("match_key_events").items() if sent
        }
        # In Python: each engine subtracts timestamps its own way.
        finished, started = row["finished_at"], row["started_at"]
        row["duration_seconds"] = (finished - started).total_seconds() if finished and started else None
    return {"runs": rows}


def rejections(wh: Warehouse, run_id: str | None) -> dict:
    """Why rows of a run (default: the latest that read rows) were rejected, with example order ids."""
    if run_id is None:
        latest = _read(
            wh, f"select run_id from {SCHEMA}.runs where rows_read > 0 order by started_at desc, run_id desc limit 1"
        )
        if not latest:
            return {"run_id": None, "reasons": []}
        run_id = latest[0]["run_id"]
    elif not _read(wh, f"select run_id from {SCHEMA}.runs where run_id = ?", [run_id]):
        raise ConfigError(f"No run {run_id!r} in {SCHEMA}.runs: `python -m exporter history` lists the runs.")
    reasons = _read(
        wh,
        "select stage, reason, count(*) as row_count "
        f"from {SCHEMA}.rejected_rows where run_id = ? group by stage, reason order by row_count desc, stage, reason",
        [run_id],
    )
    examples = _read(
        wh,
        "select stage, reason, order_id from ("
        "select stage, reason, order_id, row_number() over (partition by stage, reason order by order_id) as n "
        f"from (select distinct stage, reason, order_id from {SCHEMA}.rejected_rows "
        "where run_id = ? and order_id is not null) as d"
        ") as numbered where n <= ? order by order_id",
        [run_id, SAMPLE_ORDERS],
    )
    for reason in reasons:
        reason["rows"] = reason.pop("row_count")
        reason["example_order_ids"] = [
            row["order_id"] for row in examples if (row["stage"], row["reason"]) == (reason["stage"], reason["reason"])
        ]
    return {"run_id": run_id, "reasons": reasons}


def latest_model_build(wh: Warehouse, unique_id: str) -> dict | None:
    """dbt's latest recorded attempt to build the model (invocation_id, status, recorded_at), or None."""
    rows = _read(
        wh,
        f"select invocation_id, status, recorded_at from {MODEL_BUILDS} where unique_id = ? "
        "order by recorded_at desc limit 1",
        [unique_id],
    )
    return rows[0] if rows else None


def _read(wh: Warehouse, sql: str, parameters: list | None = None) -> list[dict]:
    """Rows as dicts; none while the table does not exist yet (nothing recorded so far)."""
    try:
        cursor = wh.execute(sql, parameters)
    except wh.errors as exc:
        if not wh.is_missing_table(exc):
            raise
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
