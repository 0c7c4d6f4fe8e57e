"""One export run: the events dbt built (meta_capi_events) -> batches -> Meta, with state and report.

Once the run has started (its `runs` row written), it always ends the same way, whatever happens
(a lost answer, a full disk, a bug, Ctrl-C or SIGTERM): the batches in flight finish within their
deadline, every batch Meta acknowledged goes to the send log, the `runs` row is finished with the
exit code, and the report is returned for the summary and the report JSON.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from datetime import UTC, datetime

from exporter import redact, warehouse
from exporter.config import ConfigError, ExportConfig
from exporter.dbt_artifacts import EventModels, find_event_models
from exporter.dbt_profile import warehouse_target
from exporter.delivery import BatchOutcome, Deliverer
from exporter.events import Event
from exporter.files import AtomicFile
from exporter.meta_api import ErrorKind, MetaApiError, MetaClient
from exporter.progress import Progress
from exporter.report import RunReport
from exporter.state import Accepted, ModelCounts, Rejection, StateStore
from exporter.status import ExitStatus
from exporter.warehouse import DuckDBTarget, Warehouse, first_line

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_export(config: ExportConfig, now: Callable[[], datetime] = utc_now) -> RunReport:
    """Export the events dbt built once.

    Raises ConfigError (a busy, unreachable, damaged or unusable warehouse or state included)
    before the run starts, when nothing has been sent. From then on it returns the report,
    whatever happens.
    """
    models = find_event_models(config.dbt_target_path, config.model, config.allow_unsuccessful_model)
    target = warehouse_target(config.database, config.dbt, config.duckdb_memory_limit)
    if isinstance(target, DuckDBTarget) and not target.path.exists():
        raise ConfigError(
            f"No DuckDB file at {target.path}: run `dbt build` first, with the same profile and target as the exporter."
        )
    wh = warehouse.connect(target)
    try:
        try:
            wh.lock()  # one exporter at a time (DuckDB's own file lock already did it on opening)
            for relation in models:
                relation.check_warehouse(wh, config.allow_unsuccessful_model)
            started = now()
            run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
            state = StateStore(wh, config.dataset_id, run_id, is_test=bool(config.test_event_code))
            state.check_event_models(*models)
            state.prepare(started.replace(tzinfo=None))  # migrations and checks: before anything is sent
            # Test events check a live dataset: all of the window goes, whatever was really sent.
            resend = config.resend or bool(config.test_event_code)
            # Reads every event once: a damaged file fails here, before the run starts.
            counts = state.event_counts(models.events, models.rejected_lines, int(started.timestamp()), resend)
            state.start_run(config.model, config.dry_run, started.replace(tzinfo=None))
        except wh.errors as exc:
            raise wh.database_error(exc) from None
        report = RunReport(run_id, config.dataset_id, str(models.events), config.dry_run, bool(config.test_event_code))
        report.started_at = started.isoformat(timespec="seconds")
        _Export(config, models, state, report, started, now, wh).run(counts, resend)
        return report
    finally:
        warehouse.close_quietly(wh)


def failure_status(error: BaseException, config: ExportConfig, wh: Warehouse | None = None) -> tuple[ExitStatus, str]:
    """The exit code and the one-line reason for an error that ended a run (never a traceback)."""
    import duckdb

    if isinstance(error, ConfigError):
        return ExitStatus.CONFIG, str(error)
    if isinstance(error, duckdb.OutOfMemoryException):
        return ExitStatus.CONFIG, (
            f"DuckDB ran out of memory ({first_line(error)}): raise --duckdb-memory-limit "
            f"(now {config.duckdb_memory_limit or 'DuckDB default'})."
        )
    if wh is not None and isinstance(error, wh.errors):
        return ExitStatus.CONFIG, str(wh.database_error(error))
    if isinstance(error, warehouse.database_errors()):
        return ExitStatus.CONFIG, f"The warehouse failed: {first_line(error)}."
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return ExitStatus.CONFIG, (
            f"Cannot write{where}: {error.strerror or first_line(error)}. Check the path, its permissions and "
            "the free disk space."
        )
    if isinstance(error, KeyboardInterrupt):
        return ExitStatus.NOT_ALL_DELIVERED, "Interrupted (Ctrl-C or SIGTERM): the run stopped early."
    return ExitStatus.NOT_ALL_DELIVERED, (
        f"Internal error ({type(error).__name__}: {redact.scrub_limited(first_line(error), 500)}): the run stopped "
        "early. Run with -v for the details, and report it."
    )


class _Export:
    def __init__(self, config, models, state, report, started, now, wh) -> None:
        self.config: ExportConfig = config
        self.models: EventModels = models
        self.state: StateStore = state
        self.report: RunReport = report
        self.started: datetime = started
        self.now = now
        self.wh: Warehouse = wh
        self.rejections: list[Rejection] = []  # Meta's, recorded at the end
        self.fatal: MetaApiError | None = None  # Meta's error that stopped the run
        self.failure: BaseException | None = None  # anything else that stopped it
        self.send_log = _SendLogWriter(state, config.concurrency)

    def run(self, counts: ModelCounts, resend: bool) -> None:
        clock_start = time.monotonic()
        sink: _MetaSink | _DryRunSink | None = None
        progress = None
        try:
            config = self.config
            sink = _DryRunSink(self, config) if config.dry_run else _MetaSink(self, config)
            progress = Progress(self.report, config.progress_interval) if config.progress else None
            self.export_events(self.pending_events(counts, resend), sink, progress)
        except BaseException as exc:  # KeyboardInterrupt too: the run still ends as a run
            self.fail(exc)
        finally:
            self.wind_down(sink, progress)
        self.report.duration_seconds = round(time.monotonic() - clock_start, 3)
        self.finish()

    def pending_events(self, counts: ModelCounts, resend: bool) -> Iterator[Event]:
        """Account for every line of the models, record the model's rejections, then stream what to send."""
        report, models = self.report, self.models
        now = int(self.started.timestamp())
        report.rows_in_model = counts.lines
        report.rows_rejected = sum(counts.rejected_lines.values())
        report.rejected_by_reason.update(counts.rejected_lines)
        report.events_built = counts.pending_events + counts.skipped_events
        report.events_skipped = counts.skipped_events
        # The lines of events still to send count as read when their event is sent.
        report.rows_read = counts.lines - counts.pending_lines
        self.state.record_model_rejections(
            models.events, models.rejected_lines, now, resend, self.now().replace(tzinfo=None)
        )
        return self.state.pending_events(models.events, now, resend)

    def export_events(self, events: Iterator[Event], sink: _MetaSink | _DryRunSink, progress) -> None:
        batch_size = self.config.batch_size
        batch: list[Event] = []
        for event in events:
            batch.append(event)
            if len(batch) == batch_size:
                self.submit(sink, batch)
                batch = []
                if self.send_log.error is not None:  # no more sending what cannot be logged
                    self.fail(self.send_log.error)
                if self.fatal or self.failure:
                    return
                if progress:
                    progress.show()
        if batch:
            self.submit(sink, batch)
        self.send_log.checkpoint()

    def fail(self, error: BaseException) -> None:
        """Remember what stopped the run (the first thing only); the traceback is for -v."""
        if self.failure is None:
            self.failure = error
        log.debug("The run stopped early", exc_info=error)

    def wind_down(self, sink, progress) -> None:
        """Every step, even after another failed: what Meta acknowledged must reach the send log."""
        steps = [
            sink.stop if self.failure and sink else None,  # no new tries; requests in flight end by their deadline
            sink.close if sink else None,
            self.send_log.close,
            self.flush_rejections,
            progress.done if progress else None,
        ]
        for step in steps:
            if step is None:
                continue
            try:
                step()
            except BaseException as exc:
                self.fail(exc)

    def submit(self, sink: _MetaSink | _DryRunSink, batch: list[Event]) -> None:
        report = self.report
        report.batches += 1
        report.events_sent += len(batch)
        report.rows_read += sum(event.line_count for event in batch)
        # A batch holds few combinations of match keys: each is counted once, with its events.
        for (match_keys, dropped), events in Counter((e.match_keys, e.dropped_user_data) for e in batch).items():
            report.count_event_keys(match_keys, dropped, events)
        try:
            sink.submit(batch)
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM) while waiting for a free connection: counted as sent but
            # never posted, so not delivered; sent = accepted + rejected + not delivered holds.
            report.events_undelivered += len(batch)
            raise

    def flush_rejections(self) -> None:
        self.state.record_rejections(self.rejections, self.now().replace(tzinfo=None))
        self.rejections = []

    def record(self, outcome: BatchOutcome) -> None:
        report = self.report
        for events, fbtrace_id in outcome.accepted:
            report.events_accepted += len(events)
            sent_at = self.now().replace(tzinfo=None)
            self.send_log.put([Accepted(e.event_id, e.order_id, e.payload_hash, fbtrace_id, sent_at) for e in events])
        if outcome.rejected:
            for rejection in outcome.rejected:
                log.error("Meta rejected the event of order %s: %s", rejection.event.order_id, rejection.message)
            self.rejections.extend(
                Rejection(rejection.event.order_id, None, "meta", rejection.reason, redact.scrub(rejection.message))
                for rejection in outcome.rejected
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
        errors, status = [], ExitStatus.OK
        if self.fatal:
            errors.append(explain(self.fatal, config.dataset_id))
            status = ExitStatus.CONFIG if self.fatal.kind in FATAL_CONFIG_ERRORS else ExitStatus.NOT_ALL_DELIVERED
        if self.failure is None and self.send_log.error is not None:
            self.failure = self.send_log.error
        if self.failure is not None:
            failure_exit, message = failure_status(self.failure, config, self.wh)
            errors.append(message)
            status = max(status, failure_exit)
        if self.send_log.unlogged:
            errors.append(
                f"{self.send_log.unlogged} events Meta accepted could not be written to the send log: the next run "
                "sends them again with the same event_id, which Meta deduplicates."
            )
        if config.max_rejected is not None and config.max_rejected.exceeded(report.rows_rejected, report.rows_read):
            errors.append(
                f"{report.rows_rejected} of {report.rows_read} rows were rejected, more than --max-rejected {config.max_rejected}"
            )
            status = max(status, ExitStatus.NOT_ALL_DELIVERED)
        if report.events_rejected_by_meta or report.events_undelivered:
            status = max(status, ExitStatus.NOT_ALL_DELIVERED)
        report.error = redact.scrub("; ".join(errors)) if errors else None
        report.exit_code = int(status)
        # Only a real send that left nothing undelivered narrows the dbt window to 7 days.
        report.completed = (
            not config.dry_run
            and not config.test_event_code
            and self.fatal is None
            and self.failure is None
            and report.events_undelivered == 0
            and report.rows_read == report.rows_in_model
        )
        try:
            self.state.finish_run(
                finished.replace(tzinfo=None), report.state_columns(), report.exit_code, report.completed, report.error
            )
        except self.wh.errors as exc:  # e.g. a full disk: the report still tells what happened
            log.debug("Could not finish the run's row", exc_info=exc)
            note = f"the run could not be recorded in meta_capi.runs: {first_line(exc)}"
            report.error = redact.scrub(f"{report.error}; {note}" if report.error else note)
            report.exit_code = int(max(status, ExitStatus.CONFIG))


FATAL_CONFIG_ERRORS = {
    ErrorKind.AUTH, ErrorKind.TERMS, ErrorKind.PERMISSION, ErrorKind.UNKNOWN_DATASET, ErrorKind.REDIRECT,
}  # fmt: skip


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
    if kind is ErrorKind.REDIRECT:
        return f"Meta was not reached: {error}."
    if kind is ErrorKind.TRANSIENT and error.outcome_unknown:
        return (
            f"The answer to a batch was lost after it was sent ({error}), even after retrying: Meta may have "
            "accepted it. Run again later: the next run sends those events again with the same event_id, which Meta "
            "deduplicates; accepted events are recorded and will not be resent."
        )
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
        self.in_flight: dict[Future, list[Event]] = {}

    def submit(self, events: list[Event]) -> None:
        self._collect(timeout=0)  # record what finished meanwhile, so a crash resends as little as possible
        # Up to `concurrency` batches are being posted and as many more wait, built, for a free
        # connection: reading and building go on during the network waits instead of stalling.
        while len(self.in_flight) >= 2 * self.concurrency:
            self._collect(return_when=FIRST_COMPLETED)
        self.in_flight[self.pool.submit(self.deliverer.deliver, events)] = events

    def _collect(self, timeout: float | None = None, return_when: str = FIRST_COMPLETED) -> None:
        if not self.in_flight:
            return
        done, _ = wait(self.in_flight, timeout=timeout, return_when=return_when)
        for future in done:
            events = self.in_flight.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # a bug while delivering: whether Meta got these events is not known
                outcome = BatchOutcome(undelivered=list(events))
                self.export.fail(exc)
            self.export.record(outcome)

    def stop(self) -> None:
        self.deliverer.stopped.set()

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

    CHECKPOINT = "checkpoint"  # queued by checkpoint(): between two writes
    _NOTHING_QUEUED = "nothing queued"

    def __init__(self, state: StateStore, backlog: int) -> None:
        self.state = state.for_another_thread()
        self.queue: queue.Queue[list | str | None] = queue.Queue(maxsize=backlog)
        self.error: BaseException | None = None
        self.unlogged = 0  # events Meta accepted that could not be logged (after an error)
        self.thread = threading.Thread(target=self._write, name="send-log", daemon=True)
        self.thread.start()

    def put(self, rows: list[tuple] | str | None) -> None:
        while True:
            if self.error:  # the run stops (see _Export); what it cannot log is counted
                self.unlogged += len(rows) if isinstance(rows, list) else 0
                return
            try:
                return self.queue.put(rows, timeout=0.1)
            except queue.Full:
                continue  # the writer is busy, or has failed: check again

    def checkpoint(self) -> None:
        """Closing DuckDB writes its write-ahead log (the send log since its last checkpoint)
        into the file: 0.8 s after the last request at 1M lines (measured). Asked for once the
        last batch is submitted, it happens while the last requests are in flight, and closing
        has only their rows left."""
        self.put(self.CHECKPOINT)

    def _write(self) -> None:
        item = self.queue.get()
        while item is not None:
            if item is self.CHECKPOINT:
                with suppress(*warehouse.database_errors()):  # closing the warehouse checkpoints anyway
                    self.state.checkpoint()
                item = self.queue.get()
                continue
            rows, item = item, self._queued()
            while isinstance(item, list):  # everything queued meanwhile, in the same statement
                rows, item = rows + item, self._queued()
            try:
                self.state.record_accepted(rows)
            except BaseException as exc:  # e.g. a full disk: the run must stop, not go on unlogged
                self.unlogged += len(rows)
                self.error = exc
                return
            if item is self._NOTHING_QUEUED:
                item = self.queue.get()

    def _queued(self) -> list | str | None:
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            return self._NOTHING_QUEUED

    def close(self) -> None:
        self.put(None)
        self.thread.join()
        with suppress(*warehouse.database_errors()):  # its own session (a connection, on PostgreSQL)
            self.state.close()
        while True:  # what was queued after the writer failed
            try:
                rows = self.queue.get_nowait()
            except queue.Empty:
                return
            self.unlogged += len(rows) if isinstance(rows, list) else 0


class _DryRunSink:
    """Writes the exact request bodies (without the token), one JSON document per line."""

    def __init__(self, export: _Export, config: ExportConfig) -> None:
        self.export = export
        # By default in dbt's target folder, which is relative to the project (--project-dir).
        default = config.dbt_target_path / "meta_capi" / f"dry_run_{export.report.run_id}.jsonl"
        self.path = config.dry_run_output or default
        self.file = AtomicFile(self.path, private=True)  # hashed customer data: mode 600
        self.suffix = (
            f',"test_event_code":{json.dumps(config.test_event_code)}}}\n' if config.test_event_code else "}\n"
        )

    def submit(self, events: list[Event]) -> None:
        self.file.write('{"data":[' + ",".join(event.payload for event in events) + "]" + self.suffix)

    def stop(self) -> None:
        self.file.discard()  # a run that failed leaves no half file

    def close(self) -> None:
        if self.export.failure is None:
            self.file.commit()
            self.export.report.payload_file = str(self.path)
