"""The exporter on Spark (a dbt target `type: spark, method: session`), end to end: the sample data
built by `dbt build --target spark` (spark_warehouse.py, once per session), sent to the fake
Meta, gives byte for byte the request bodies the DuckDB build of the same data gives; the
exporter keeps its state in the Spark warehouse, in a local SparkSession configured from the
target's server_side_parameters.

The build's as_of is fixed (2026-11-23 12:00), so the exporter's and the fake Meta's clocks
are set to 5 minutes later.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
import spark_warehouse
from conftest import DATASET, TOKEN
from fake_meta import FakeMeta

from exporter import cli, pipeline
from exporter.cli import main

pytestmark = pytest.mark.spark

NOW = spark_warehouse.AS_OF.replace(tzinfo=UTC) + timedelta(minutes=5)


@pytest.fixture(scope="session")
def spark_project(tmp_path_factory):
    return spark_warehouse.built(tmp_path_factory)


@pytest.fixture
def frozen_exporter_clock(monkeypatch):
    """The exporter's clock at NOW (events are judged too old against it)."""
    monkeypatch.setattr(cli, "run_export", lambda config: pipeline.run_export(config, now=lambda: NOW))


def test_the_exporter_sends_from_spark_what_it_sends_from_duckdb(
    spark_project, scheduled_env, frozen_exporter_clock, request_bodies, capsys, monkeypatch
):
    for name, value in spark_project.env.items():
        monkeypatch.setenv(name, value)  # the profile's env_var('SPARK_WAREHOUSE_DIR')
    clock = NOW.timestamp()
    duckdb_args = ["--database", str(spark_project.duckdb), "--dbt-target-path", str(spark_project.duckdb_target)]
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
        assert main([*duckdb_args, "--graph-url", meta.url, "-q"]) == 0, capsys.readouterr().err
        duckdb_count = len(meta.accepted_events)
    duckdb_bodies = sorted(request_bodies)
    request_bodies.clear()

    location = ["--target", "spark", "--profiles-dir", str(spark_project.profiles),
                "--project-dir", str(spark_project.project)]  # fmt: skip
    try:
        with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
            args = [*location, "--dbt-target-path", str(spark_project.spark_target), "--graph-url", meta.url, "-q"]
            assert main(args) == 0, capsys.readouterr().err
            assert meta.errors == []
            assert len(meta.accepted_events) == duckdb_count > 100
            # Byte for byte the same requests (the batches may finish in another order).
            assert sorted(request_bodies) == duckdb_bodies

            # The state is in the Spark warehouse: a rerun sends nothing.
            meta.reset()
            assert main(args) == 0
            assert meta.accepted_events == []
        assert (spark_project.warehouse / "meta_capi.db" / "send_log").is_dir()
        capsys.readouterr()
        assert main(["history", *location, "--json"]) == 0
        runs = json.loads(capsys.readouterr().out)["runs"]
        # Both runs started at the frozen NOW: history lists them in either order.
        assert sorted((run["events_accepted"], run["completed"]) for run in runs) == [(0, True), (duckdb_count, True)]
    finally:
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate().stop()
