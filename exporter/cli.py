"""`python -m exporter`: flags and environment variables -> ExportConfig -> run_export -> exit code."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exporter import history, redact, tokens
from exporter.config import (
    DEFAULT_API_VERSION,
    DEFAULT_CONCURRENCY,
    DEFAULT_DBT_TARGET_PATH,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_GRAPH_URL,
    DEFAULT_MODEL,
    DEFAULT_PROGRESS_INTERVAL,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_BATCH_SIZE,
    ConfigError,
    ExportConfig,
    RejectionThreshold,
    RetryPolicy,
)
from exporter.dbt_profile import add_location_arguments, location_from_args
from exporter.pipeline import failure_status, run_export
from exporter.status import ExitStatus
from exporter.terminal import Parser, setup_logging

log = logging.getLogger("exporter")

DESCRIPTION = """\
Upload the dbt model meta_offline_events to Meta's Conversions API as offline events: one
event per order, customer data normalized and SHA-256 hashed, batches of at most 1,000.
Run it from the repository root after `dbt run`, with the same dbt profile and target: it reads
and writes where dbt built (a DuckDB file, PostgreSQL or Spark). Events Meta accepted are logged
there (schema meta_capi), so a rerun sends only new or changed orders.

  python -m exporter --dry-run            build and validate, write request bodies, send nothing
  python -m exporter                      send (needs META_ACCESS_TOKEN and META_DATASET_ID)
  python -m exporter history              the latest runs (--json for scripts)
  python -m exporter rejected             why rows of the latest run were rejected (--run ID)
  python -m exporter token check          when does the token expire?
  python -m exporter token refresh        exchange it for a long-lived token
"""

EPILOG = """\
environment:
  META_ACCESS_TOKEN     access token (secret; never a flag, never logged)
  META_DATASET_ID       dataset (pixel) id, or --dataset-id
  META_APP_SECRET       app secret: adds appsecret_proof to every request
  META_APP_ID           app id, for `token refresh` and `token check`
  META_GRAPH_URL, META_API_VERSION, META_TEST_EVENT_CODE
  DBT_PROFILES_DIR, DBT_PROFILE, DBT_TARGET, DBT_PROJECT_DIR, DBT_TARGET_PATH: as for dbt
  DBT_DUCKDB_PATH       read by the example profile's env_var(): the DuckDB file, for dbt and the exporter

exit codes:
  0  every sendable event was accepted (rows rejected by validation are reported, not fatal)
  1  Meta rejected some events, some could not be delivered, or --max-rejected was exceeded
  2  configuration, usage, authorization or environment error (an unusable DuckDB file, a full
     disk, an unreachable warehouse, a missing privilege): the message says how to fix it
"""


def rejection_threshold(text: str) -> RejectionThreshold:
    try:
        return RejectionThreshold.parse(text)
    except ConfigError as error:  # argparse shows only ArgumentTypeError messages
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = Parser(
        prog="python -m exporter",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    meta = parser.add_argument_group("Meta")
    meta.add_argument("--dataset-id", default=env("META_DATASET_ID"), help="dataset id [META_DATASET_ID]")
    meta.add_argument(
        "--graph-url",
        default=env("META_GRAPH_URL", DEFAULT_GRAPH_URL),
        help="Graph API base URL [META_GRAPH_URL] (default: %(default)s)",
    )
    meta.add_argument(
        "--api-version",
        default=env("META_API_VERSION", DEFAULT_API_VERSION),
        help="Graph API version [META_API_VERSION] (default: %(default)s)",
    )
    meta.add_argument(
        "--test-event-code",
        default=env("META_TEST_EVENT_CODE"),
        help="send as test events, shown in Events Manager > Test events [META_TEST_EVENT_CODE]",
    )

    source = parser.add_argument_group("model (where dbt built it: the same flags and variables as dbt)")
    add_location_arguments(source)
    source.add_argument("--model", default=DEFAULT_MODEL, help="dbt model to export (default: %(default)s)")
    source.add_argument(
        "--dbt-target-path",
        type=Path,
        default=Path(env("DBT_TARGET_PATH", DEFAULT_DBT_TARGET_PATH)),
        help="dbt's target folder with manifest.json [DBT_TARGET_PATH] (default: %(default)s)",
    )
    source.add_argument(
        "--allow-unsuccessful-model",
        action="store_true",
        help="export even if dbt's latest invocation did not build or test the model successfully",
    )

    run = parser.add_argument_group("run")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="build and validate events, write the request bodies to a file, send nothing",
    )
    run.add_argument(
        "--dry-run-output",
        type=Path,
        help="where --dry-run writes request bodies (default: meta_capi/dry_run_RUN_ID.jsonl in dbt's target folder, "
        "PROJECT_DIR/target)",
    )
    run.add_argument(
        "--max-rejected",
        type=rejection_threshold,
        help="exit 1 when more rows than this are rejected: a count (25) or a share (2%%)",
    )
    run.add_argument(
        "--resend", action="store_true", help="send every event in the window again, even those Meta already accepted"
    )
    run.add_argument("--report-json", type=Path, help="also write the run report as JSON to this file")

    tuning = parser.add_argument_group("delivery")
    tuning.add_argument(
        "--batch-size", type=int, default=MAX_BATCH_SIZE, help="events per request, at most 1000 (default: %(default)s)"
    )
    tuning.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="requests in flight at once (default: %(default)s)"
    )
    tuning.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds one request may take, from connecting to the last byte of Meta's answer; a request "
        "past it is retried like any temporary error (default: %(default)s)",
    )
    tuning.add_argument(
        "--max-tries",
        type=int,
        default=RetryPolicy.max_tries,
        help="tries per request for temporary errors and throttling (default: %(default)s)",
    )
    tuning.add_argument(
        "--retry-budget",
        type=float,
        default=RetryPolicy.budget_seconds,
        help="seconds into the run after which a temporary error is no longer retried but ends the run "
        "(default: %(default)s)",
    )
    tuning.add_argument(
        "--first-retry-wait",
        type=float,
        default=RetryPolicy.first_wait,
        help="first wait before a retry, doubled each time (default: %(default)s)",
    )
    tuning.add_argument(
        "--duckdb-memory-limit",
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        help="DuckDB memory limit; beyond it DuckDB spills to disk next to the database (default: %(default)s)",
    )

    parser.add_argument(
        "--progress-every",
        type=float,
        default=DEFAULT_PROGRESS_INTERVAL,
        help="seconds between progress lines when stderr is not a terminal (default: %(default)s)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every batch: size, attempt, HTTP status, fbtrace_id, time"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log errors only; no summary")
    return parser


def config_from_args(args: argparse.Namespace) -> ExportConfig:
    return ExportConfig(
        dataset_id=args.dataset_id or "",
        access_token=os.environ.get("META_ACCESS_TOKEN") or None,
        app_secret=os.environ.get("META_APP_SECRET") or None,
        graph_url=args.graph_url,
        api_version=args.api_version,
        test_event_code=args.test_event_code or None,
        database=args.database,
        dbt=location_from_args(args),
        model=args.model,
        dbt_target_path=args.project_dir / args.dbt_target_path,  # dbt's is relative to the project
        allow_unsuccessful_model=args.allow_unsuccessful_model,
        dry_run=args.dry_run,
        dry_run_output=args.dry_run_output,
        resend=args.resend,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        timeout_seconds=args.timeout,
        retry=RetryPolicy(max_tries=args.max_tries, first_wait=args.first_retry_wait, budget_seconds=args.retry_budget),
        max_rejected=args.max_rejected,
        report_json=args.report_json,
        duckdb_memory_limit=args.duckdb_memory_limit,
        progress=not args.quiet,
        progress_interval=args.progress_every,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Secrets are known before anything could print them.
    redact.register(*(os.environ.get(name) for name in ("META_ACCESS_TOKEN", "META_APP_SECRET")))
    command, command_argv = subcommand(argv)
    if command == "token":
        return tokens.main(command_argv)
    if command in ("history", "rejected"):
        return history.main(command, command_argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on usage errors, 0 on --help
        return int(exit_.code or 0)
    setup_logging(args.verbose, args.quiet)
    try:
        config = config_from_args(args)
    except ConfigError as error:
        log.error("%s", error)
        return ExitStatus.CONFIG
    with sigterm_as_interrupt():
        try:
            report = run_export(config)
        except (Exception, KeyboardInterrupt) as error:  # before the run started: nothing was sent
            status, message = failure_status(error, config)
            log.error("%s", message)
            log.debug("Details", exc_info=error)
            return status
    if not args.quiet:
        print(report.summary(), file=sys.stderr)
    if report.error:
        log.error("%s", report.error)
    if config.report_json:
        try:
            report.write_json(config.report_json)
        except OSError as error:
            log.error("Cannot write the report to %s: %s.", config.report_json, error.strerror or error)
            return max(report.exit_code, ExitStatus.CONFIG)
    return report.exit_code


SUBCOMMANDS = ("token", "history", "rejected")
LOGGING_FLAGS = ("-v", "--verbose", "-q", "--quiet")  # taken before a subcommand too, as by every command


def subcommand(argv: list[str]) -> tuple[str | None, list[str]]:
    """The subcommand and its arguments, logging flags given before it included
    (`python -m exporter -v history` is `python -m exporter history -v`); None for the export."""
    leading = 0
    while leading < len(argv) and argv[leading] in LOGGING_FLAGS:
        leading += 1
    if leading < len(argv) and argv[leading] in SUBCOMMANDS:
        return argv[leading], argv[:leading] + argv[leading + 1 :]
    return None, argv


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler's timeout) ends the run like Ctrl-C: with its summary, report and state."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
