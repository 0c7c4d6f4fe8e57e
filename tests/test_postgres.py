"""The whole dbt project on PostgreSQL 15 (target `postgres`): `dbt build` passes (seeds, models,
the incremental one, unit tests, data tests), and the events are byte for byte those DuckDB
builds from the same sample data, and those of the golden file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import prepare_project, run_dbt, write_profile
from postgres_server import postgres_rows

pytestmark = pytest.mark.postgres

AS_OF = datetime(2026, 11, 23, 12, 0, 0)
GOLDEN = Path(__file__).parent / "golden" / "sample_events.jsonl"
EVENTS = "select event_id, payload, payload_hash, reject_reason from {schema}.meta_capi_events order by event_id"
REJECTED = (
    "select order_id, product_id, line_number, reason from {schema}.meta_capi_rejected_lines "
    "order by order_id, line_number"
)


def test_sample_project_builds_on_postgres_with_the_events_duckdb_builds(tmp_path, postgres_database):
    project = prepare_project(tmp_path / "project", AS_OF)
    profiles = write_profile(tmp_path / "profiles")
    vars = {"as_of": AS_OF.isoformat(sep=" ")}

    # Everything: seeds, models (the incremental one twice: built, then appended to), unit and data tests.
    run_dbt(
        ["build", "--target", "postgres"],
        project,
        tmp_path / "unused.duckdb",
        tmp_path / "pg-target",
        vars=vars,
        env=postgres_database,
        profiles_dir=profiles,
    )
    run_dbt(
        ["run", "--target", "postgres", "--select", "path:models/events"],
        project,
        tmp_path / "unused.duckdb",
        tmp_path / "pg-target",
        vars=vars,
        env=postgres_database,
        profiles_dir=profiles,
    )
    db_path = tmp_path / "warehouse.duckdb"
    run_dbt(
        ["build", "--select", "resource_type:seed", "resource_type:model"],
        project,
        db_path,
        tmp_path / "target",
        vars=vars,
    )

    with duckdb.connect(str(db_path), read_only=True) as con:
        duckdb_events = con.execute(EVENTS.format(schema="main")).fetchall()
        duckdb_rejected = con.execute(REJECTED.format(schema="main")).fetchall()
    postgres_events = postgres_rows(postgres_database, EVENTS.format(schema="analytics"))
    postgres_rejected = postgres_rows(postgres_database, REJECTED.format(schema="analytics"))

    assert len(postgres_events) == 124
    assert postgres_events == duckdb_events
    assert postgres_rejected == duckdb_rejected

    # The golden file holds each request body as {"data":[<event>]}: the event's text is the payload.
    golden = sorted(line[len('{"data":[') : -len("]}")] for line in GOLDEN.read_text().splitlines())
    assert sorted(payload for _, payload, _, reason in postgres_events if reason is None) == golden
