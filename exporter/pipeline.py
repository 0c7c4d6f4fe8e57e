"""One export run: model rows -> validated, hashed events -> batches -> Meta, with state and report."""

from __future__ import annotations

import json
import logging
import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path

from exporter.config import ConfigError, ExportConfig
from exporter.dbt_artifacts import find_model
from exporter.dbt_profile import database_path
from exporter.delivery import BatchOutcome, Deliverer
from exporter.events import BuiltEvent, EventBuilder, default_workers, hashed_customers
from exporter.meta_api import ErrorKind, MetaApiError, MetaClient
from exporter.model_reader import ModelReader
from exporter.report import RunReport
from exporter.state import Rejection, StateStore, connect

log = logging.getLogger(__name__)

EXIT_OK, EXIT_NOT_ALL_DELIVERED, EXIT_CONFIG = 0, 1, 2
REJECTIONS_PER_WRITE = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_export(config: ExportConfig, now: Callable[[], datetime] = utc_now) -> RunReport:
    """Export the model once. Raises ConfigError (and DatabaseBusyError) before anything is sent."""
    relation = find_model(config.dbt_target_path, config.model, config.allow_unsuccessful_model)
    database = database_path(config.database, config.dbt)
    if not Path(database).exists():
        raise ConfigError(
            f"No DuckDB file at {database}: run `dbt build` first, with the same profile and target as the exporter."
        )
    con = connect(database, config.duckdb_memory_limit)
    try:
        relation.check_warehouse(con, database, config.allow_unsuccessful_model)
        reader = ModelReader(con, relation)
        started = now()
        run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
        report = RunReport(run_id, config.dataset_id, str(relation), config.dry_run, bool(config.test_event_code))
        report.started_at = started.isoformat(timespec="seconds")
        state = StateStore(con, config.dataset_id, run_id, is_test=bool(config.test_event_code))
        state.start_run(config.model, config.dry_run, started.replace(tzinfo=None))
        _Export(config, reader, state, report, started, now).run()
        return report
    finally:
        con.close()


class _Export:
    def __init__(self, config, reader, state, report, started, now) -> None:
        self.config: ExportConfig = config
        self.reader: ModelReader = reader
        self.state: StateStore = state
        self.report: RunReport = report
        self.started: datetime = started
        self.now = now
        self.rejections: list[Rejection] = []
        self.fatal: MetaApiError | None = None
        self.send_log = _SendLogWriter(state, config.concurrency)

    def run(self) -> None:
        config, report = self.config, self.report
        clock_start = time.monotonic()
        report.rows_in_model = self.reader.rows_in_model
        sink = _DryRunSink(self, config) if config.dry_run else _MetaSink(self, config)
        progress = _Progress(report) if config.progress and sys.stderr.isatty() else None
        # Test events check a live dataset: all of the window goes, whatever was really sent.
        resend_all = config.resend or bool(config.test_event_code)
        sent_payloads = None if resend_all else self.state.sent_payloads_query()
        workers = config.workers if config.workers is not None else default_workers(report.rows_in_model)
        builder = EventBuilder(config.default_phone_region)
        customers = hashed_customers(
            self.reader.customer_rows(), config.default_phone_region, workers, report.count_dropped
        )
        orders = self.reader.orders(int(self.started.timestamp()), sent_payloads, customers, builder.user_data_for)
        batch: list[BuiltEvent] = []
        try:
            for order in orders:
                report.rows_read += len(order.lines)
                result = builder.build(order)
                if result.rejections:
                    self.reject(result.rejections)
                    continue
                event = result.event
                report.events_built += 1
                if event.payload_hash == order.sent_payload_hash:
                    report.events_skipped += 1
                    continue
                batch.append(event)
                if len(batch) == config.batch_size:
                    self.submit(sink, batch)
                    batch = []
                    if self.fatal:
                        break
                    if progress:
                        progress.show()
            else:
                if batch:
                    self.submit(sink, batch)
        finally:
            customers.close()  # stops worker processes when the run ends early
            sink.close()
            self.send_log.close()
            self.flush_rejections()
            if progress:
                progress.done()
        report.duration_seconds = round(time.monotonic() - clock_start, 3)
        self.finish()

    def submit(self, sink: _MetaSink | _DryRunSink, batch: list[BuiltEvent]) -> None:
        self.report.batches += 1
        self.report.events_sent += len(batch)
        sink.submit(batch)

    def reject(self, rejections: list[Rejection]) -> None:
        self.report.rows_rejected += len(rejections)
        self.report.rejected_by_reason.update(rejection.reason for rejection in rejections)
        self.rejections.extend(rejections)
        if len(self.rejections) >= REJECTIONS_PER_WRITE:
            self.flush_rejections()

    def flush_rejections(self) -> None:
        self.state.record_rejections(self.rejections, self.now().replace(tzinfo=None))
        self.rejections = []

    def record(self, outcome: BatchOutcome) -> None:
        report = self.report
        for events, fbtrace_id in outcome.accepted:
            sent_at = self.now().replace(tzinfo=None)
            self.send_log.put([(e.event_id, e.order_id, e.payload_hash, fbtrace_id, sent_at) for e in events])
            report.events_accepted += len(events)
        if outcome.rejected:
            for event, message in outcome.rejected:
                log.error("Meta rejected the event of order %s: %s", event.order_id, message)
            self.rejections.extend(
                Rejection(event.order_id, None, "meta", "rejected_by_meta", message)
                for event, message in outcome.rejected
            )
            report.events_rejected_by_meta += len(outcome.rejected)
        report.events_undelivered += len(outcome.undelivered)
        report.requests += outcome.requests
        report.retries += outcome.retries
        if outcome.fatal and not self.fatal:
            self.fatal = outcome.fatal

    def finish(self) -> None:
        config, report = self.config, self.report
        finished = self.now()
        report.finished_at = finished.isoformat(timespec="seconds")
        if self.fatal:
            report.error = explain(self.fatal, config.dataset_id)
        threshold_exceeded = config.max_rejected is not None and config.max_rejected.exceeded(
            report.rows_rejected, report.rows_read
        )
        if threshold_exceeded:
            message = f"{report.rows_rejected} of {report.rows_read} rows were rejected, more than --max-rejected {config.max_rejected}"
            report.error = f"{report.error}; {message}" if report.error else message
        if self.fatal and self.fatal.kind in FATAL_CONFIG_ERRORS:
            report.exit_code = EXIT_CONFIG
        elif self.fatal or threshold_exceeded or report.events_rejected_by_meta or report.events_undelivered:
            report.exit_code = EXIT_NOT_ALL_DELIVERED
        # Only a real send that left nothing undelivered narrows the dbt window to 7 days.
        report.completed = (
            not config.dry_run
            and not config.test_event_code
            and self.fatal is None
            and report.events_undelivered == 0
            and report.rows_read == report.rows_in_model
        )
        self.state.finish_run(
            finished.replace(tzinfo=None), report.counts(), report.exit_code, report.completed, report.error
        )


FATAL_CONFIG_ERRORS = {ErrorKind.AUTH, ErrorKind.TERMS, ErrorKind.PERMISSION, ErrorKind.UNKNOWN_DATASET}


def explain(error: MetaApiError, dataset_id: str) -> str:
    """What the user should do about an error that stopped the run (the token never appears here)."""
    kind = error.kind
    if kind is ErrorKind.AUTH:
        return (
            f"Meta refused the access token ({error}). Re-authorize: issue a new token (Events Manager > the dataset > "
            "Settings > Conversions API > Generate access token, or `python -m exporter token refresh`) and export it "
            "as META_ACCESS_TOKEN. Events accepted so far are recorded; the next run sends the rest."
        )
    if kind is ErrorKind.TERMS:
        return (
            "Meta will not take these events until its terms are accepted for the ad account. A business user with a "
            f"role on the ad account must open {error.terms_url() or 'Events Manager'} and accept them, then run the "
            f"exporter again. ({error})"
        )
    if kind is ErrorKind.PERMISSION:
        return (
            f"The token has no permission to send events to dataset {dataset_id} ({error}). Give the system user "
            "behind the token access to the dataset in Business Settings > Data sources, or use a token that has it."
        )
    if kind is ErrorKind.UNKNOWN_DATASET:
        return (
            f"Meta has no dataset {dataset_id} that this token can use ({error}). Check META_DATASET_ID / --dataset-id "
            "against Events Manager > Data sources, and that the token's system user has access to it."
        )
    if kind is ErrorKind.POLICY_BLOCK:
        return f"Meta has temporarily blocked these requests for policy reasons ({error}). Check Events Manager and Business Support."
    if kind is ErrorKind.TRANSIENT:
        return f"Meta did not accept a batch after retrying ({error}). Run again later: accepted events are recorded and will not be resent."
    return f"Meta answered with an error the exporter does not handle ({error})."


class _MetaSink:
    """Posts batches with up to `concurrency` in flight; records each outcome from this thread only."""

    def __init__(self, export: _Export, config: ExportConfig) -> None:
        self.export = export
        self.concurrency = config.concurrency
        self.client = MetaClient(
            config.graph_url,
            config.api_version,
            config.access_token,
            config.app_secret,
            config.timeout_seconds,
            pool_size=config.concurrency,
        )
        self.deliverer = Deliverer(self.client, config.dataset_id, config.test_event_code, config.retry)
        self.pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="meta-post")
        self.in_flight: set[Future] = set()

    def submit(self, events: list[BuiltEvent]) -> None:
        self._collect(timeout=0)  # record what finished meanwhile, so a crash resends as little as possible
        # Up to `concurrency` batches are being posted and as many more wait, built, for a free
        # connection: reading and building go on during the network waits instead of stalling.
        while len(self.in_flight) >= 2 * self.concurrency:
            self._collect(return_when=FIRST_COMPLETED)
        self.in_flight.add(self.pool.submit(self.deliverer.deliver, events))

    def _collect(self, timeout: float | None = None, return_when: str = FIRST_COMPLETED) -> None:
        if not self.in_flight:
            return
        done, self.in_flight = wait(self.in_flight, timeout=timeout, return_when=return_when)
        for future in done:
            self.export.record(future.result())

    def close(self) -> None:
        while self.in_flight:
            self._collect()
        self.pool.shutdown()
        self.client.close()


class _SendLogWriter:
    """Logs accepted events in the send log from a thread of its own.

    A DuckDB commit takes ~8 ms, several times that while the export's other threads compete for
    the GIL; here it overlaps reading and sending, and whatever accumulated meanwhile is written
    in one statement. Accepted batches not yet logged are at most `backlog` (the queue blocks
    beyond it), so a crash resends at most those and the ones in flight: same event_ids, which
    Meta deduplicates.
    """

    def __init__(self, state: StateStore, backlog: int) -> None:
        self.state = state.for_another_thread()
        self.queue: queue.Queue[list | None] = queue.Queue(maxsize=backlog)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, name="send-log", daemon=True)
        self.thread.start()

    def put(self, rows: list[tuple] | None) -> None:
        while True:
            if self.error:
                raise self.error
            try:
                return self.queue.put(rows, timeout=0.1)
            except queue.Full:
                continue  # the writer is busy, or has failed: check again

    def _write(self) -> None:
        while (rows := self.queue.get()) is not None:
            while True:  # everything queued meanwhile, in the same statement
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)  # the end: seen again after this write
                    break
                rows = rows + more
            try:
                self.state.record_accepted(rows)
            except BaseException as exc:  # e.g. a full disk: the run must fail, not go on unlogged
                self.error = exc
                return

    def close(self) -> None:
        self.put(None)  # raises the writer's error, if any
        self.thread.join()
        if self.error:
            raise self.error


class _DryRunSink:
    """Writes the exact request bodies (without the token), one JSON document per line."""

    def __init__(self, export: _Export, config: ExportConfig) -> None:
        path = config.dry_run_output or Path("target") / "meta_capi" / f"dry_run_{export.report.run_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("w", encoding="utf-8")
        self.suffix = (
            f',"test_event_code":{json.dumps(config.test_event_code)}}}\n' if config.test_event_code else "}\n"
        )
        export.report.payload_file = str(path)

    def submit(self, events: list[BuiltEvent]) -> None:
        self.file.write('{"data":[' + ",".join(event.json for event in events) + "]" + self.suffix)

    def close(self) -> None:
        self.file.close()


class _Progress:
    """A one-line progress display on a terminal, redrawn at most twice a second."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        self.last = 0.0

    def show(self) -> None:
        if time.monotonic() - self.last < 0.5:
            return
        self.last = time.monotonic()
        report = self.report
        share = report.rows_read / report.rows_in_model if report.rows_in_model else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(
            f"\r[{bar:<30}] {share:6.1%}  {report.rows_read} rows, {report.events_sent} events sent, "
            f"{report.events_accepted} accepted"
        )
        sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\r" + " " * 100 + "\r")
        sys.stderr.flush()
