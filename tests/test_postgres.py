"""The whole dbt project on PostgreSQL 15 (target `postgres`): `dbt build` passes (seeds, models,
the incremental one, unit tests, data tests), and the events are byte for byte those DuckDB
builds from the same sample data, and those of the golden file.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import psycopg2
import pytest
from dbt_helpers import prepare_project, run_dbt, write_profile
from postgres_server import postgres_env  # noqa: F401  (the session fixture)

pytestmark = pytest.mark.postgres

AS_OF = datetime(2026, 11, 23, 12, 0, 0)
GOLDEN = Path(__file__).parent / "golden" / "sample_events.jsonl"
EVENTS = "select event_id, payload, payload_hash, reject_reason from {schema}.meta_capi_events order by event_id"
REJECTED = (
    "select order_id, product_id, line_number, reason from {schema}.meta_capi_rejected_lines "
    "order by order_id, line_number"
)


@pytest.fixture
def postgres_database(postgres_env):  # noqa: F811
    """The libpq variables of a new, empty UTF8 database of the server, dropped afterwards."""
    name = f"meta_capi_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(**_connect_args(postgres_env))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"create database {name} encoding 'UTF8' template template0")
    try:
        yield {**postgres_env, "PGDATABASE": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
        admin.close()


def _connect_args(env: dict[str, str]) -> dict[str, str]:
    return {
        "host": env["PGHOST"],
        "port": env["PGPORT"],
        "user": env["PGUSER"],
        "password": env["PGPASSWORD"],
        "dbname": env["PGDATABASE"],
    }


def _postgres_rows(env: dict[str, str], sql: str) -> list[tuple]:
    with psycopg2.connect(**_connect_args(env)) as con, con.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


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
    postgres_events = _postgres_rows(postgres_database, EVENTS.format(schema="analytics"))
    postgres_rejected = _postgres_rows(postgres_database, REJECTED.format(schema="analytics"))

    assert len(postgres_events) == 124
    assert postgres_events == duckdb_events
    assert postgres_rejected == duckdb_rejected

    # The golden file holds each request body as {"data":[<event>]}: the event's text is the payload.
    golden = sorted(line[len('{"data":[') : -len("]}")] for line in GOLDEN.read_text().splitlines())
    assert sorted(payload for _, payload, _, reason in postgres_events if reason is None) == golden
