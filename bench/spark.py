"""The Spark side of `python -m bench --engine spark`, each step in its own process (the Derby
metastore takes one process at a time: dbt and the exporter open it after this has exited).

    python -m bench.spark load PROFILES_DIR SCHEMA FOLDER   # each FOLDER/<table>/ (parquet) as SCHEMA.<table>
    python -m bench.spark counts PROFILES_DIR OUT.json      # what the bench reports of the models built

The session is the exporter's: the `spark` target of PROFILES_DIR/profiles.yml (its
server_side_parameters, SPARK_WAREHOUSE_DIR from the environment).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.run import ROOT, model_counts
from exporter.config import DbtLocation
from exporter.dbt_profile import resolve_target
from exporter.warehouse import SparkWarehouse

MODEL_SCHEMA = "analytics"  # the `spark` target's schema: where dbt builds the models


def main(argv: list[str]) -> int:
    command, profiles, *rest = argv
    target = resolve_target(DbtLocation(project_dir=ROOT, profiles_dir=Path(profiles), target="spark")).warehouse
    warehouse = SparkWarehouse.open(target)
    try:
        if command == "load":
            schema, folder = rest
            warehouse.execute(f"create schema if not exists {schema}")
            for table in sorted(Path(folder).iterdir()):
                warehouse.execute(f"drop table if exists {schema}.{table.name}")
                warehouse.execute(f"create table {schema}.{table.name} using parquet location '{table}'")
        elif command == "counts":
            (out,) = rest
            Path(out).write_text(json.dumps(model_counts(warehouse, MODEL_SCHEMA)))
        else:
            raise SystemExit(f"unknown command {command!r}")
    finally:
        warehouse.spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
