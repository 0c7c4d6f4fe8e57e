"""The sample project at AS_OF built on DuckDB (seeds and models), the reference the PostgreSQL and
Spark builds (postgres_sample.py, spark_warehouse.py) and the golden events are held to.

It is built once per test run, by the first worker that asks (the others wait on a lock in the
run's folder, run_folder.py), and each caller gets a copy of the DuckDB file and dbt's target
folder: the exporter keeps its state in the file.

    database, target = duckdb_reference.copy_to(tmp_path)   # tmp_path/warehouse.duckdb, tmp_path/target
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import run_folder
from dbt_helpers import prepare_project, run_dbt

AS_OF = datetime(2026, 11, 23, 12, 0, 0)
VARS = {"as_of": AS_OF.isoformat(sep=" ")}
DATASET = "1234567890"  # conftest.DATASET: the dataset whose first send decides the window
BUILD = ["build", "--select", "resource_type:seed", "resource_type:model"]


def copy_to(folder: Path) -> tuple[Path, Path]:
    """(folder/warehouse.duckdb, folder/target): a copy of the run's reference build."""
    built = _built()
    folder.mkdir(parents=True, exist_ok=True)
    database, target = folder / "warehouse.duckdb", folder / "target"  # the file's name is the catalog's
    shutil.copyfile(built / "warehouse.duckdb", database)
    shutil.copytree(built / "target", target)
    return database, target


def _built() -> Path:
    with run_folder.locked("duckdb-reference") as folder:
        built = folder / "duckdb-reference"
        if not (built / "done").exists():
            shutil.rmtree(built, ignore_errors=True)
            project = prepare_project(built / "project", AS_OF)
            run_dbt(BUILD, project, built / "warehouse.duckdb", built / "target", vars=VARS,
                    env={"META_DATASET_ID": DATASET})  # fmt: skip
            (built / "done").touch()
    return built
