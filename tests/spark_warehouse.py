"""The sample project built on Spark once per pytest session, for the tests marked `spark`
(test_spark.py, test_exporter_spark.py): a Spark build takes minutes, so they share one.

    @pytest.fixture(scope="session")
    def spark_project(tmp_path_factory):
        return spark_warehouse.built(tmp_path_factory)      # SparkProject, built on first use

`dbt build --target spark` (seeds, every model, unit and data tests) runs in a temporary
warehouse folder, then `dbt run` of the incremental customers model again (it appends nothing),
then `dbt compile` of the text normalizers, all three in one process (one JVM); meanwhile a
copy of the DuckDB reference (duckdb_reference.py: the same sample and as_of). Only then does any test open a
SparkSession in the pytest process: the Derby metastore takes one process at a time.

Without pyspark or Java 17 the tests skip saying why; under CI (env CI set) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb_reference
import pytest
from dbt_helpers import prepare_project, run_dbt_in_one_process, write_profile
from duckdb_reference import AS_OF, DATASET, VARS  # what the DuckDB reference is built with
from text_normalizers_sql_helpers import EXPRESSIONS, MARKER, split_compiled

# The normalizers test_spark.py holds to tests/reference_normalize.py code point by code point.
PARITY_EXPRESSIONS = ("trim", "name", "city", "email", "python_lower", "lookup_key", "exact_lookup_key")


@dataclass(frozen=True)
class SparkProject:
    root: Path
    project: Path
    profiles: Path
    warehouse: Path  # SPARK_WAREHOUSE_DIR: parquet tables and the Derby metastore
    spark_target: Path  # dbt's target folder of the Spark build (manifest, run results)
    duckdb: Path  # the same project and as_of built on DuckDB
    duckdb_target: Path
    env: dict[str, str]  # what dbt and the exporter need in the environment for the `spark` target
    seconds: dict[str, float]  # how long each step took

    def normalizers(self) -> dict[str, str]:
        """{name: Spark SQL over the column `value`} of PARITY_EXPRESSIONS."""
        return split_compiled((self.root / "normalizers.sql").read_text())


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"Spark is required in CI: {reason}")
    pytest.skip(f"no Spark: {reason} (pip install -e '.[dev]' brings pyspark; it needs Java 17 or later)")


def check_spark() -> None:
    """Skip (fail under CI) without pyspark or Java 17+."""
    try:
        import pyspark  # noqa: F401
    except ImportError as error:
        unavailable(f"pyspark is not installed ({error})")
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=os.path.join(java_home, "bin")) if java_home else None
    java = java or shutil.which("java")
    if java is None:
        unavailable("no java on PATH and no JAVA_HOME")
    version = subprocess.run([java, "-version"], capture_output=True, text=True)
    text = version.stderr + version.stdout
    try:
        major = int(text.split('"')[1].split(".")[0])
    except (IndexError, ValueError):
        unavailable(f"cannot read the Java version: {text.strip()[:200]}")
    if major < 17:
        unavailable(f"Java {major} is too old: Spark 4 needs 17 or later")


_built: SparkProject | BaseException | None = None


def built(tmp_path_factory: pytest.TempPathFactory) -> SparkProject:
    """The session's Spark build, made on the first call; a failed build fails every caller."""
    global _built
    check_spark()
    if _built is None:
        try:
            _built = _build(tmp_path_factory.mktemp("spark"))
        except BaseException as error:  # noqa: BLE001 - remembered, raised again for each test
            _built = error
    if isinstance(_built, BaseException):
        raise _built
    return _built


def _build(root: Path) -> SparkProject:
    project = prepare_project(root / "project", AS_OF)
    profiles = write_profile(root / "profiles")
    warehouse = root / "warehouse"
    warehouse.mkdir()
    built = SparkProject(
        root=root, project=project, profiles=profiles, warehouse=warehouse, spark_target=root / "spark-target",
        duckdb=root / "warehouse.duckdb", duckdb_target=root / "target",
        env={"SPARK_WAREHOUSE_DIR": str(warehouse), "META_DATASET_ID": DATASET}, seconds={},
    )  # fmt: skip
    # The text normalizers compiled for Spark, for test_spark.py's code point checks.
    inline = "\n".join(MARKER.format(name) + "\n" + EXPRESSIONS[name] for name in PARITY_EXPRESSIONS)
    spark_commands = [
        # Everything: seeds, models, unit and data tests.
        (["build", "--target", "spark"], built.spark_target),
        # The incremental customers model again: every customer is known, nothing is appended.
        (["run", "--target", "spark", "--select", "int_meta_capi_customers_hashed"], root / "spark-target-rerun"),
        (["compile", "--target", "spark", "--quiet", "--inline", inline], root / "spark-target-compile"),
    ]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The DuckDB reference meanwhile (root/warehouse.duckdb, root/target): Spark leaves a core idle.
        duckdb_seconds = pool.submit(_timed, duckdb_reference.copy_to, root)
        # In one process, so with one JVM and Spark session (each took 20-30 s to start).
        built.seconds["dbt build, run (customers again), compile (normalizers) --target spark"] = _timed(
            run_dbt_in_one_process, spark_commands, project, root / "unused.duckdb", vars=VARS, env=built.env,
            profiles_dir=profiles, compiled_code_to=root / "normalizers.sql",
        )  # fmt: skip
        built.seconds["DuckDB reference (built or copied, meanwhile)"] = duckdb_seconds.result()
    print(f"spark_warehouse: {built.seconds}")
    return built


def _timed(function, *args, **kwargs) -> float:
    """Seconds `function(*args, **kwargs)` took."""
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def spark_session(warehouse: Path):
    """A SparkSession on the warehouse folder, with profiles.example.yml's settings."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .enableHiveSupport()
        .getOrCreate()
    )
