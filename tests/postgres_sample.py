"""The sample project built on PostgreSQL 15 once per session, as `postgres_sample`, for
test_postgres.py, test_exporter_postgres.py and the PostgreSQL text normalizers' test (a build
costs a minute or more: they used to make two each, and a DuckDB reference each).

In a database of its own: `dbt build --target postgres` (seeds, models, unit and data tests), then
`dbt run` of the event models again (the incremental one appended to), into the same target; and
a copy of the DuckDB reference (duckdb_reference.py: the same sample and as_of). The rows
test_postgres.py compares are read right after the builds: test_exporter_postgres.py then sends from both
warehouses and builds again on PostgreSQL. The tests that use it run in one pytest-xdist worker
(conftest.py), or each worker would build it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import duckdb_reference
import pytest
from dbt_helpers import prepare_project, run_dbt, write_profile
from duckdb_reference import AS_OF, DATASET, VARS  # what the DuckDB reference is built with
from postgres_server import postgres_database_named, postgres_rows

EVENTS = "select event_id, payload, payload_hash, reject_reason from {schema}.meta_capi_events order by event_id"
REJECTED = (
    "select order_id, product_id, line_number, reason from {schema}.meta_capi_rejected_lines "
    "order by order_id, line_number"
)


@dataclass(frozen=True)
class PostgresSample:
    database: dict[str, str]  # the libpq variables of the database dbt built in
    project: Path
    profiles: Path
    postgres_target: Path  # dbt's target folder of the PostgreSQL builds
    duckdb: Path  # the same project and as_of built on DuckDB
    duckdb_target: Path
    rows: dict[str, list[tuple]]  # {"postgres_events", "duckdb_events", ...: rows} right after the builds

    def dbt_postgres(self, *args: str, target: Path | None = None) -> subprocess.CompletedProcess:
        """`dbt <args> --target postgres` in the sample's database, into the builds' target folder
        or another (a compile of one's own must not replace the run results the exporter reads)."""
        return run_dbt([*args, "--target", "postgres"], self.project, self.project.parent / "unused.duckdb",
                       target or self.postgres_target, vars=VARS, env={**self.database, "META_DATASET_ID": DATASET},
                       profiles_dir=self.profiles)  # fmt: skip


@pytest.fixture(scope="session")
def postgres_sample(postgres_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("postgres_sample")
    with postgres_database_named(postgres_env, "sample") as database:
        sample = PostgresSample(
            database=database, project=prepare_project(root / "project", AS_OF), profiles=write_profile(root / "profiles"),
            postgres_target=root / "pg-target", duckdb=root / "warehouse.duckdb", duckdb_target=root / "target", rows={},
        )  # fmt: skip
        # Everything: seeds, models (the incremental one twice: built, then appended to), unit and data tests.
        sample.dbt_postgres("build")
        sample.dbt_postgres("run", "--select", "path:models/events")
        duckdb_reference.copy_to(root)  # sample.duckdb and sample.duckdb_target
        with duckdb.connect(str(sample.duckdb), read_only=True) as con:
            sample.rows["duckdb_events"] = con.execute(EVENTS.format(schema="main")).fetchall()
            sample.rows["duckdb_rejected"] = con.execute(REJECTED.format(schema="main")).fetchall()
        sample.rows["postgres_events"] = postgres_rows(database, EVENTS.format(schema="analytics"))
        sample.rows["postgres_rejected"] = postgres_rows(database, REJECTED.format(schema="analytics"))
        yield sample
