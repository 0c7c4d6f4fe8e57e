"""Build the dbt event models (models/events/) on a hand-written line table, fast.

Exporter tests write a `meta_offline_events` table of their own (conftest's `model` fixture)
rather than running the whole project. The events the exporter sends are dbt models built from
that table; running dbt for each test would cost seconds. So the models are compiled by dbt once
per shape of the line table (its columns and types: the SQL depends on them), and the compiled
SQL is then run directly on each test's DuckDB file:

    build_event_models(database)   # after writing main.meta_offline_events into it

The compiled SQL is dbt's own, so these tests exercise the real rules and payloads. The window's
`as_of` is compiled as a placeholder and replaced by the current time on each build, as a
`dbt run` right before the export would have it.
"""

from __future__ import annotations

import csv
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml
from dbt_helpers import REPO_ROOT, prepare_project, run_dbt

# Built in this order, each from the ones before.
EVENT_MODELS = (
    "int_meta_capi_customers_hashed",
    "int_meta_capi_lines_checked",
    "int_meta_capi_orders",
    "meta_capi_events",
    "meta_capi_rejected_lines",
)
REFERENCE_SEEDS = REPO_ROOT / "seeds" / "reference"
REFERENCE_SCHEMA = "meta_capi_reference"
AS_OF_PLACEHOLDER = "2000-01-01 00:00:00"
_COMPILED_AS_OF = "cast('2000-01-01 00:00:00.000000' as timestamp)"
_compiled: dict[tuple, dict[str, str]] = {}


def build_event_models(database: Path | str, as_of: datetime | None = None, table: str = "meta_offline_events") -> None:
    """Create the event models' tables in `database` from its `main.<table>` (the line model)."""
    con = duckdb.connect(str(database))
    try:
        shape = tuple(con.execute(f"select column_name, column_type from (describe main.{table})").fetchall())
        sql = _compiled.get(shape)
        if sql is None:
            sql = _compiled[shape] = _compile(shape, Path(database).stem, table)
        moment = (as_of or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        literal = f"cast('{moment:%Y-%m-%d %H:%M:%S.%f}' as timestamp)"
        _load_reference_seeds(con)
        for name in EVENT_MODELS:
            con.execute(f"create or replace table main.{name} as ({sql[name].replace(_COMPILED_AS_OF, literal)})")
    finally:
        con.close()


def _compile(shape: tuple, catalog: str, table: str) -> dict[str, str]:
    """dbt's compiled SQL of each event model, for a line table of this shape in a file named `catalog`."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        project = prepare_project(scratch / "project", datetime(2000, 1, 1))  # the project parses with its seeds
        database = scratch / f"{catalog}.duckdb"  # the same catalog name as the test's file
        con = duckdb.connect(str(database))
        con.execute(f"create table main.{table} ({', '.join(f'{name} {kind}' for name, kind in shape)})")
        con.close()
        target = scratch / "target"
        vars = {"as_of": AS_OF_PLACEHOLDER}
        if table != "meta_offline_events":
            vars["meta_lines_model"] = table
        # The models check, when compiled, that the reference seeds are loaded as committed.
        run_dbt(["seed", "--select", "path:seeds/reference"], project, database, target, vars=vars)
        run_dbt(["compile", "--select", *EVENT_MODELS], project, database, target, vars=vars)
        compiled = target / "compiled" / "offline_conversions" / "models" / "events"
        return {name: (compiled / f"{name}.sql").read_text() for name in EVENT_MODELS}


def _load_reference_seeds(con: duckdb.DuckDBPyConnection) -> None:
    """The reference seeds as `dbt seed` loads them: every column text, but those seeds/_seeds.yml types."""
    con.execute(f"create schema if not exists {REFERENCE_SCHEMA}")
    loaded = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [REFERENCE_SCHEMA]
    ).fetchall()}  # fmt: skip
    for path in sorted(REFERENCE_SEEDS.glob("*.csv")):
        if path.stem in loaded:  # rebuilt from a new line table in the same file
            continue
        types = SEED_TYPES.get(path.stem, {})
        with path.open(newline="") as file:
            header = next(csv.reader(file))
        columns = ", ".join(f'cast("{name}" as {types.get(name, "varchar")}) as "{name}"' for name in header)
        con.execute(
            f"create or replace table {REFERENCE_SCHEMA}.{path.stem} as "
            f"select {columns} from read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )


SEED_TYPES = {
    seed["name"]: seed.get("config", {}).get("column_types", {})
    for seed in yaml.safe_load((REPO_ROOT / "seeds" / "_seeds.yml").read_text())["seeds"]
}
