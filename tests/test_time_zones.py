"""The same purchase gives the same event_time on every machine.

A source whose `order_datetime` is a TIMESTAMP WITH TIME ZONE holds instants. Built by dbt and
exported on a machine in Los Angeles (TZ in both environments, so DuckDB's session TimeZone is
America/Los_Angeles), every event must carry the instant the source holds: nothing 8 hours early.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import duckdb
from conftest import DATASET
from dbt_helpers import (
    REPO_ROOT,
    create_source_tables,
    expected_model_rows,
    model_rows,
    prepare_project,
    run_dbt,
    sample_rows,
)

MACHINE_ZONE = {"TZ": "America/Los_Angeles"}


def machine_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "META_"))}
    return {**env, **MACHINE_ZONE}


def test_timestamp_with_time_zone_source_gives_the_same_event_times_in_los_angeles(tmp_path):
    # The exporter checks event ages against the real clock: the data is relative to now.
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    project = prepare_project(tmp_path / "project", as_of)
    db_path, target, bodies = tmp_path / "warehouse.duckdb", tmp_path / "target", tmp_path / "bodies.jsonl"
    create_source_tables(
        db_path,
        "pos",
        project / "seeds",
        # The sample's naive UTC times as the instants they are.
        transactions="select * replace (timezone('UTC', order_datetime) as order_datetime) from lines",
    )
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute(
            "select data_type from information_schema.columns "
            "where table_schema = 'pos' and table_name = 'unified_itemized_transactions' "
            "and column_name = 'order_datetime'"
        ).fetchall() == [("TIMESTAMP WITH TIME ZONE",)]
    # What the test relies on: DuckDB takes its session TimeZone from the machine's.
    zone = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb; print(duckdb.connect().execute(\"select current_setting('TimeZone')\").fetchone()[0])",
        ],
        env=machine_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert zone.stdout.strip() == "America/Los_Angeles"

    run_dbt(
        ["build", "--exclude", "resource_type:unit_test"],
        project,
        db_path,
        target,
        vars={"as_of": as_of.isoformat(sep=" "), "source_schema": "pos"},
        env={**MACHINE_ZONE, "META_DATASET_ID": DATASET},
    )
    lines, customers = sample_rows(project / "seeds")
    assert model_rows(db_path) == expected_model_rows(lines, customers, as_of=as_of, lookback_days=62)

    exporter = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "--dry-run",
            "--dry-run-output",
            str(bodies),
            "--database",
            str(db_path),
            "--dbt-target-path",
            str(target),
            "--dataset-id",
            DATASET,
            "-q",
        ],
        cwd=REPO_ROOT,
        env=machine_env(),
        capture_output=True,
        text=True,
    )
    assert exporter.returncode == 0, exporter.stderr[-3000:]

    event_times = {
        event["custom_data"]["order_id"]: event["event_time"]
        for body in bodies.read_text().splitlines()
        for event in json.loads(body)["data"]
    }
    # Each order's earliest sale line, as the source holds it.
    first_sale = {}
    for line in lines:
        if line["item_quantity"] and line["item_quantity"] > 0 and not (line["is_cancellation"] or line["is_return"]):
            at = int(line["order_datetime"].replace(tzinfo=UTC).timestamp())
            first_sale[line["order_id"]] = min(at, first_sale.get(line["order_id"], at))
    assert len(event_times) > 100
    assert event_times == {order_id: first_sale[order_id] for order_id in event_times}
    assert event_times["ORD-AT-AS-OF"] == int(as_of.replace(tzinfo=UTC).timestamp())
