"""Which warehouse the exporter opens, from the dbt profile and target: an adapter it cannot read,
or one that is not installed, is exit 2 in one line saying what to do (no server needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from dbt_helpers import write_profile

from exporter import dbt_profile
from exporter.cli import main
from exporter.config import DbtLocation
from exporter.warehouse import DuckDBTarget, PostgresTarget, SparkTarget, pyformat

REPO_ROOT = Path(__file__).resolve().parents[1]


def _profiles(tmp_path: Path, target: str) -> Path:
    """A profile named as the project's, whose default target is `target` (YAML of its outputs)."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "profiles.yml").write_text(f"offline_conversions:\n  target: other\n  outputs:\n    other:\n{target}")
    return folder


def _export(profiles: Path, tmp_path: Path) -> int:
    target = tmp_path / "target"
    target.mkdir(exist_ok=True)
    return main(["--profiles-dir", str(profiles), "--project-dir", str(REPO_ROOT), "--dbt-target-path", str(target),
                 "--dry-run", "--dataset-id", "1"])  # fmt: skip


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DBT_TARGET", "DBT_PROFILES_DIR", "DBT_PROFILE", "DBT_PROJECT_DIR", "DBT_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)


def _location(profiles: Path) -> DbtLocation:
    return DbtLocation(project_dir=REPO_ROOT, profiles_dir=profiles)


def test_a_profile_for_an_adapter_the_exporter_cannot_read_is_exit_2(tmp_path, monkeypatch, capsys):
    profiles = _profiles(tmp_path, "      type: snowflake\n      account: x\n      password: s3cr3t-pw-1234\n")
    # The manifest is read first: any will do, the profile is refused before it matters.
    monkeypatch.setattr("exporter.pipeline.find_event_models", lambda *args: ())
    assert _export(profiles, tmp_path) == 2
    line = _one_line(capsys.readouterr().err)
    assert "dbt target 'other' of profile 'offline_conversions' is a snowflake warehouse" in line
    assert "reads DuckDB, PostgreSQL and Spark (session method) only" in line and "s3cr3t" not in line


def test_a_spark_target_without_pyspark_says_what_to_install(tmp_path, monkeypatch):
    profiles = _profiles(
        tmp_path, "      type: spark\n      method: session\n      schema: analytics\n      host: NA\n"
    )
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        dbt_profile.importlib.util, "find_spec", lambda name: None if name == "pyspark" else find_spec(name)
    )
    with pytest.raises(dbt_profile.ConfigError, match=r"pyspark is not installed: pip install 'dbt-spark\[session\]'"):
        dbt_profile.resolve_target(_location(profiles))


def test_a_spark_session_target_carries_its_server_side_parameters(tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    profiles = _profiles(
        tmp_path,
        "      type: spark\n      method: session\n      schema: analytics\n      host: NA\n"
        "      server_side_parameters:\n        spark.sql.warehouse.dir: /data/wh\n        spark.driver.memory: 2g\n",
    )
    warehouse = dbt_profile.resolve_target(_location(profiles)).warehouse
    assert warehouse == SparkTarget((("spark.sql.warehouse.dir", "/data/wh"), ("spark.driver.memory", "2g")))
    assert warehouse.warehouse_dir() == Path("/data/wh")


def test_a_spark_target_over_thrift_is_refused(tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    profiles = _profiles(tmp_path, "      type: spark\n      method: thrift\n      schema: analytics\n      host: h\n")
    with pytest.raises(dbt_profile.ConfigError, match="method 'thrift'.*`session` method only"):
        dbt_profile.resolve_target(_location(profiles))


def test_the_postgres_target_of_the_example_profile_reads_the_libpq_variables(tmp_path, monkeypatch):
    for name, value in {"PGHOST": "db.internal", "PGPORT": "6543", "PGUSER": "loader", "PGPASSWORD": "pw-9f8e7d6c",
                        "PGDATABASE": "analytics_db"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    location = DbtLocation(project_dir=REPO_ROOT, profiles_dir=write_profile(tmp_path / "profiles"), target="postgres")
    target = dbt_profile.warehouse_target(None, location)
    assert target == PostgresTarget("db.internal", 6543, "loader", "analytics_db", password="pw-9f8e7d6c")
    assert "pw-9f8e7d6c" not in repr(target) and "pw-9f8e7d6c" not in target.describe()


def test_database_overrides_the_profile(tmp_path):
    assert dbt_profile.warehouse_target(tmp_path / "x.duckdb", DbtLocation(), "1GB") == DuckDBTarget(
        tmp_path / "x.duckdb", "1GB"
    )


def test_duckdb_placeholders_become_psycopg2_ones():
    assert pyformat("select ? where a = ? and b like '5%'", [1, 2]) == "select %s where a = %s and b like '5%%'"
    assert pyformat("select $now, $dataset_id, $now", {"now": 1}) == "select %(now)s, %(dataset_id)s, %(now)s"
    assert pyformat("select 1 % 2", None) == "select 1 % 2"


def test_a_second_exporter_on_the_same_spark_warehouse_folder_is_refused(tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed")
    from exporter.warehouse import DatabaseBusyError, SparkWarehouse

    target = SparkTarget((("spark.sql.warehouse.dir", f"file:{tmp_path / 'wh'}"),))
    first, second = SparkWarehouse(target, spark=None), SparkWarehouse(target, spark=None)  # no session needed
    first.lock()
    with pytest.raises(DatabaseBusyError, match="Another exporter is sending from Spark warehouse"):
        second.lock()
    first.close()  # releases it
    second.lock()
    second.close()
    assert (tmp_path / "wh" / ".meta_capi_exporter.lock").exists()
