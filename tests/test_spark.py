"""The dbt project on Spark (target `spark`: dbt-spark's `session` method, pyspark in local
mode). Up to the line model, `dbt build` passes (seeds, staging, intermediate and mart models,
their unit and data tests) and meta_offline_events holds DuckDB's lines. The events (whose
payloads must be DuckDB's byte for byte, and the golden file's) are a known failure, not run:
see EVENTS_BLOCKER. The warehouse (parquet tables and the Derby metastore) lives in a temporary
folder, read back afterwards by a SparkSession of the same settings, as the exporter will.

Built once per module: a Spark build of the sample project takes minutes, not seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from dbt_helpers import prepare_project, run_dbt, write_profile

pytestmark = pytest.mark.spark

AS_OF = datetime(2026, 11, 23, 12, 0, 0)
VARS = {"as_of": AS_OF.isoformat(sep=" ")}
GOLDEN = Path(__file__).parent / "golden" / "sample_events.jsonl"
EVENTS = "select event_id, payload, payload_hash, reject_reason from {schema}.meta_capi_events order by event_id"
REJECTED = (
    "select order_id, product_id, line_number, reason from {schema}.meta_capi_rejected_lines "
    "order by order_id, line_number"
)


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"Spark is required in CI: {reason}")
    pytest.skip(f"no Spark: {reason} (pip install -e '.[dev]' brings pyspark; it needs Java 17 or later)")


def _check_spark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as error:
        _unavailable(f"pyspark is not installed ({error})")
    java = (
        shutil.which("java", path=os.path.join(os.environ["JAVA_HOME"], "bin")) if os.environ.get("JAVA_HOME") else None
    )
    java = java or shutil.which("java")
    if java is None:
        _unavailable("no java on PATH and no JAVA_HOME")
    version = subprocess.run([java, "-version"], capture_output=True, text=True)
    text = version.stderr + version.stdout
    try:
        major = int(text.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        _unavailable(f"cannot read the Java version: {text.strip()[:200]}")
    if major < 17:
        _unavailable(f"Java {major} is too old: Spark 4 needs 17 or later")


def spark_session(warehouse: Path):
    """A SparkSession on the warehouse folder, with profiles.example.yml's settings."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .enableHiveSupport()
        .getOrCreate()
    )


LINES = (
    "select order_id, product_id, external_id, currency from {schema}.meta_offline_events order by order_id, product_id"
)

# The event models' customers (int_meta_capi_customers_hashed: ~1 MB of SQL, the phone rules
# dispatched per region) do not plan on Spark within 4 GB and minutes yet: Catalyst inlines the
# CTE chain. Until they do, the sample project is built on Spark up to meta_offline_events.
EVENTS_BLOCKER = (
    "int_meta_capi_customers_hashed does not plan on Spark local mode (driver OOM after ~10 min): "
    "the event models are not built on Spark yet"
)


def _build(root: Path, select: list[str]) -> dict[str, Path]:
    project = prepare_project(root / "project", AS_OF)
    profiles = write_profile(root / "profiles")
    warehouse = root / "warehouse"
    warehouse.mkdir()
    env = {"SPARK_WAREHOUSE_DIR": str(warehouse)}
    run_dbt(
        ["build", "--target", "spark", *select],
        project,
        root / "unused.duckdb",
        root / "spark-target",
        vars=VARS,
        env=env,
        profiles_dir=profiles,
    )
    db_path = root / "warehouse.duckdb"
    run_dbt(
        ["build", "--select", "resource_type:seed", "resource_type:model"], project, db_path, root / "target", vars=VARS
    )
    return {"warehouse": warehouse, "duckdb": db_path, "project": project, "profiles": profiles, "env": env}


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory):
    """The sample project built on Spark up to meta_offline_events (seeds, staging,
    intermediate and mart models with their unit and data tests), and wholly on DuckDB."""
    _check_spark()
    return _build(tmp_path_factory.mktemp("spark"), ["--exclude", "path:models/events"])


def test_sample_project_builds_on_spark_up_to_the_line_model(spark_build):
    with duckdb.connect(str(spark_build["duckdb"]), read_only=True) as con:
        duckdb_lines = con.execute(LINES.format(schema="main")).fetchall()
    spark = spark_session(spark_build["warehouse"])
    try:
        spark_lines = [tuple(row) for row in spark.sql(LINES.format(schema="analytics")).collect()]
    finally:
        spark.stop()
    assert spark_lines
    assert spark_lines == duckdb_lines


@pytest.mark.xfail(reason=EVENTS_BLOCKER, run=False)
def test_sample_project_builds_on_spark_with_the_events_duckdb_builds(tmp_path):
    _check_spark()
    built = _build(tmp_path, [])
    # The incremental customers model appended to.
    run_dbt(
        ["run", "--target", "spark", "--select", "path:models/events"],
        built["project"],
        tmp_path / "unused.duckdb",
        tmp_path / "spark-target",
        vars=VARS,
        env=built["env"],
        profiles_dir=built["profiles"],
    )
    with duckdb.connect(str(built["duckdb"]), read_only=True) as con:
        duckdb_events = con.execute(EVENTS.format(schema="main")).fetchall()
        duckdb_rejected = con.execute(REJECTED.format(schema="main")).fetchall()

    spark = spark_session(built["warehouse"])
    try:
        spark_events = [tuple(row) for row in spark.sql(EVENTS.format(schema="analytics")).collect()]
        spark_rejected = [tuple(row) for row in spark.sql(REJECTED.format(schema="analytics")).collect()]
    finally:
        spark.stop()

    assert len(spark_events) == 124
    assert spark_events == duckdb_events
    assert spark_rejected == duckdb_rejected

    # The golden file holds each request body as {"data":[<event>]}: the event's text is the payload.
    golden = sorted(line[len('{"data":[') : -len("]}")] for line in GOLDEN.read_text().splitlines())
    assert sorted(payload for _, payload, _, reason in spark_events if reason is None) == golden
