"""The exporter on Spark (a dbt target `type: spark, method: session`): given the event tables dbt
builds, it sends byte for byte what it sends from DuckDB and keeps its state in the Spark
warehouse, in a local SparkSession configured from the target's server_side_parameters.

The event tables are copied from a DuckDB build here, so this tests the exporter's side alone;
the models on Spark (the `spark` target and its spark__ macros) are tested with them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from datetime import UTC, datetime

import duckdb
import pytest
from conftest import DATASET, TOKEN
from dbt_helpers import prepare_project, run_dbt
from fake_meta import FakeMeta

from exporter.cli import main

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java for Spark"),
]
COPIED = {"main.meta_capi_events": "analytics", "main.meta_capi_rejected_lines": "analytics",
          "meta_capi.dbt_model_builds": "meta_capi"}  # fmt: skip
SPARK_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "INTEGER": "int",
}


def _profile(folder, warehouse_dir, metastore) -> None:
    folder.mkdir()
    (folder / "profiles.yml").write_text(
        "offline_conversions:\n  target: spark\n  outputs:\n    spark:\n"
        "      type: spark\n      method: session\n      schema: analytics\n      host: NA\n"
        "      server_side_parameters:\n"
        f'        spark.sql.warehouse.dir: "{warehouse_dir}"\n'
        f'        spark.hadoop.javax.jdo.option.ConnectionURL: "jdbc:derby:;databaseName={metastore};create=true"\n'
        '        spark.sql.session.timeZone: "UTC"\n'
        '        spark.sql.shuffle.partitions: "2"\n'
        '        spark.ui.enabled: "false"\n'
    )


def _copy_to_spark(db_path, target, warehouse_dir, metastore) -> None:
    """The event tables and dbt's build log of a DuckDB build, as dbt-spark would leave them."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.enableHiveSupport()
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={metastore};create=true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={metastore.parent}")  # its derby.log
        .getOrCreate()
    )
    spark.sql("create database analytics")
    spark.sql("create database meta_capi")
    with duckdb.connect(str(db_path), read_only=True) as con:
        for table, schema in COPIED.items():
            columns = con.execute(f"describe {table}").fetchall()
            spark_schema = ", ".join(f"{name} {SPARK_TYPES[kind]}" for name, kind, *_ in columns)
            rows = con.execute(f"select * from {table}").fetchall()
            frame = spark.createDataFrame(rows, schema=spark_schema)
            frame.write.saveAsTable(f"{schema}.{table.split('.')[1]}", format="parquet")
    # dbt-spark's manifest: schema `analytics`, no database.
    manifest = json.loads((target / "manifest.json").read_text())
    for node in manifest["nodes"].values():
        if node.get("schema") == "main":
            node["schema"], node["database"] = "analytics", None
    (target / "manifest.json").write_text(json.dumps(manifest))


def test_the_exporter_sends_from_spark_what_it_sends_from_duckdb(tmp_path, scheduled_env, request_bodies, capsys):
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    project = prepare_project(tmp_path / "project", as_of)
    db_path, target = tmp_path / "warehouse.duckdb", tmp_path / "target"
    run_dbt(["build"], project, db_path, target, vars={"as_of": as_of.isoformat(sep=" ")},
            env={"META_DATASET_ID": DATASET})  # fmt: skip
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET]) as meta:
        assert main(["--database", str(db_path), "--dbt-target-path", str(target), "--graph-url", meta.url, "-q"]) == 0
        duckdb_count = len(meta.accepted_events)
    duckdb_bodies = sorted(request_bodies)
    request_bodies.clear()

    warehouse_dir, metastore = tmp_path / "spark-warehouse", tmp_path / "metastore_db"
    _copy_to_spark(db_path, target, warehouse_dir, metastore)
    _profile(tmp_path / "profiles", warehouse_dir, metastore)
    location = ["--target", "spark", "--profiles-dir", str(tmp_path / "profiles"), "--project-dir", str(project)]
    try:
        with FakeMeta(token=TOKEN, dataset_ids=[DATASET]) as meta:
            args = [*location, "--dbt-target-path", str(target), "--graph-url", meta.url, "-q"]
            assert main(args) == 0, capsys.readouterr().err
            assert len(meta.accepted_events) == duckdb_count > 100
            assert sorted(request_bodies) == duckdb_bodies

            # The state is in the Spark warehouse: a rerun sends nothing.
            meta.reset()
            assert main(args) == 0
            assert meta.accepted_events == []
        assert (warehouse_dir / "meta_capi.db" / "send_log").is_dir()
        capsys.readouterr()
        assert main(["history", *location, "--json"]) == 0
        runs = json.loads(capsys.readouterr().out)["runs"]
        assert [(run["events_accepted"], run["completed"]) for run in runs] == [(0, True), (duckdb_count, True)]
    finally:
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate().stop()
