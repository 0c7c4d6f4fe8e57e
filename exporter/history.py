"""`python -m exporter history` and `python -m exporter rejected`: past runs and why rows were
rejected, from the exporter's state (schema meta_capi), without a SQL client.

Both only read: the warehouse is opened read-only, so they can run while nothing else writes,
and never change it. Neither prints raw PII: rejected rows hold order ids and reasons only.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from exporter.config import ConfigError
from exporter.dbt_profile import add_location_arguments, database_path, location_from_args
from exporter.events import MATCH_KEYS
from exporter.state import recent_runs, rejections

EXIT_OK, EXIT_CONFIG = 0, 2


def build_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m exporter {command}")
    if command == "history":
        parser.description = "The latest exporter runs, newest first."
        parser.add_argument("-n", "--last", type=int, default=20, help="how many runs (default: %(default)s)")
        parser.add_argument("--dataset-id", help="only runs for this dataset")
        parser.add_argument(
            "--coverage", action="store_true", help="the share of events sent carrying each match key, per run"
        )
    else:
        parser.description = "Why rows were rejected in one run: reasons with counts and a few order ids."
        parser.add_argument("--run", dest="run_id", help="the run (default: the latest run that read rows)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    add_location_arguments(parser.add_argument_group("warehouse (found as for the export)"))
    return parser


def main(command: str, argv: list[str]) -> int:
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        con = _connect(args)
        try:
            if command == "history":
                result = recent_runs(con, args.last, args.dataset_id)
                text = format_coverage(result) if args.coverage else format_runs(result)
            else:
                result = rejections(con, args.run_id)
                text = format_rejections(result)
        finally:
            con.close()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    print(json.dumps(result, indent=2, default=_json_default) if args.json else text)
    return EXIT_OK


def _connect(args: argparse.Namespace) -> duckdb.DuckDBPyConnection:
    path = database_path(args.database, location_from_args(args))
    if not Path(path).exists():
        raise ConfigError(f"No DuckDB file at {path}: nothing has been built or exported there yet.")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise ConfigError(f"Cannot open {path} to read ({' '.join(str(error).split())}).") from None


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
