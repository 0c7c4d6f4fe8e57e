"""`python -m exporter history` and `python -m exporter rejected`: past runs and why rows were
rejected, from the exporter's state (schema meta_capi), without a SQL client.

Both only read: the warehouse is opened read-only (a DuckDB file read-only, a PostgreSQL session
in read-only transactions), so they never change it; a DuckDB file can be read only while nothing
else writes it. Neither prints raw PII: rejected rows hold order ids and reasons only.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from datetime import datetime

from exporter import warehouse
from exporter.config import ConfigError, check_numeric_id
from exporter.dbt_profile import add_location_arguments, location_from_args, warehouse_target
from exporter.events import MATCH_KEYS
from exporter.state import recent_runs, rejections
from exporter.status import ExitStatus
from exporter.terminal import Parser, setup_logging

log = logging.getLogger(__name__)


def build_parser(command: str) -> argparse.ArgumentParser:
    parser = Parser(prog=f"python -m exporter {command}")
    if command == "history":
        parser.description = "The latest exporter runs, newest first."
        parser.add_argument("-n", "--last", type=int, default=20, help="how many runs (default: %(default)s)")
        parser.add_argument(
            "--dataset-id",
            default=os.environ.get("META_DATASET_ID") or None,
            help="only runs for this dataset [META_DATASET_ID] (default: every dataset when unset)",
        )
        parser.add_argument(
            "--coverage", action="store_true", help="the share of events sent carrying each match key, per run"
        )
    else:
        parser.description = "Why rows were rejected in one run: reasons with counts and a few order ids."
        parser.add_argument("--run", dest="run_id", help="the run (default: the latest run that read rows)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    add_location_arguments(parser.add_argument_group("warehouse (found as for the export)"))
    parser.add_argument("-v", "--verbose", action="store_true", help="log details of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    return parser


def main(command: str, argv: list[str]) -> int:
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # a usage error (one line, exit 2) or --help (0)
        return int(exit_.code or 0)
    setup_logging(args.verbose, args.quiet)
    try:
        if command == "history" and args.dataset_id is not None:
            check_numeric_id(args.dataset_id, "The dataset id (--dataset-id / META_DATASET_ID)")
        wh = _connect(args)
        try:
            if command == "history":
                result = recent_runs(wh, args.last, args.dataset_id)
                text = format_coverage(result) if args.coverage else format_runs(result)
            else:
                result = rejections(wh, args.run_id)
                text = format_rejections(result)
        except wh.errors as exc:  # opened but cannot be read (a damaged file, no privilege)
            log.debug("Details", exc_info=exc)
            raise wh.database_error(exc) from None
        finally:
            warehouse.close_quietly(wh)
    except ConfigError as error:
        log.error("%s", error)
        return ExitStatus.CONFIG
    print(json.dumps(result, indent=2, default=_json_default) if args.json else text)
    return ExitStatus.OK


def _connect(args: argparse.Namespace) -> warehouse.Warehouse:
    target = warehouse_target(args.database, location_from_args(args))
    if isinstance(target, warehouse.DuckDBTarget) and not target.path.exists():
        raise ConfigError(f"No DuckDB file at {target.path}: nothing has been built or exported there yet.")
    return warehouse.connect(target, read_only=True)


def _json_default(value: object) -> str:
    return value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)


def format_runs(result: dict) -> str:
    runs = result["runs"]
    if not runs:
        return "No exporter runs recorded yet."
    header = ("started (UTC)", "kind", "dataset", "rows", "rejected", "built", "skipped", "sent", "accepted",
              "meta rej.", "undeliv.", "exit", "secs", "run")  # fmt: skip
    lines = [header]
    for run in runs:
        kind = _kind(run)
        counts = ("rows_read", "rows_rejected", "events_built", "events_skipped", "events_sent", "events_accepted",
                  "events_rejected_by_meta", "events_undelivered")  # fmt: skip
        duration = run["duration_seconds"]
        lines.append(
            (
                f"{run['started_at']:%Y-%m-%d %H:%M}",
                kind,
                run["dataset_id"],
                *(_count(run[name]) for name in counts),
                "-" if run["exit_code"] is None else str(run["exit_code"]),
                "-" if duration is None else f"{duration:.0f}",
                run["run_id"],
            )
        )
    return _table(lines, left=(0, 1, 2, 13)) + "\n✓ completed: a real send that left nothing undelivered"


def format_coverage(result: dict) -> str:
    """Per run, the share of events sent carrying each match key: a key that stops arriving shows
    the day after the data change that dropped it."""
    runs = result["runs"]
    if not runs:
        return "No exporter runs recorded yet."
    keys = list(MATCH_KEYS)
    lines = [("started (UTC)", "kind", "sent", *keys)]
    for run in runs:
        coverage = run["match_key_coverage"]
        lines.append(
            (
                f"{run['started_at']:%Y-%m-%d %H:%M}",
                _kind(run),
                _count(run["events_sent"]),
                *(f"{coverage[key]:.0%}" if key in coverage else "-" for key in keys),
            )
        )
    return _table(lines, left=(0, 1)) + "\nshare of the events sent that carry each match key (- : not recorded)"


def _kind(run: dict) -> str:
    kind = "dry run" if run["dry_run"] else "test" if run["is_test"] else "real"
    return kind + " ✓" if run["completed"] else kind


def format_rejections(result: dict) -> str:
    if result["run_id"] is None:
        return "No exporter run has read rows yet."
    if not result["reasons"]:
        return f"Run {result['run_id']}: no rows rejected."
    lines = [("stage", "reason", "rows", "e.g. order_id")]
    for reason in result["reasons"]:
        lines.append((reason["stage"], reason["reason"], str(reason["rows"]), ", ".join(reason["example_order_ids"])))
    return f"Run {result['run_id']}:\n" + _table(lines, left=(0, 1, 3))


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _table(rows: list[tuple[str, ...]], left: tuple[int, ...]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )
