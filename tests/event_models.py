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

Customers are hashed once per process, as the incremental customers model hashes them once per
warehouse: a customer's row depends only on its raw values and the rules (its customer_digest
says so), and the model's ~860 KB of SQL (phone metadata, character classes) takes DuckDB ~2 s
to bind, whatever the data. So when every customer of a build was hashed by an earlier build of
the same shape, their rows are copied from that build instead of hashed again, as a daily
`dbt run` keeps them; any new customer runs the model's SQL on the whole table.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import run_folder
import yaml
from dbt_helpers import REPO_ROOT, prepare_project, run_dbt, run_dbt_in_one_process

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
CUSTOMERS_MODEL = EVENT_MODELS[0]
# This process's compiled projects, and the customer rows it built (a DuckDB file per line table shape).
_SCRATCH = Path(tempfile.mkdtemp(prefix="event-models-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


def build_event_models(database: Path | str, as_of: datetime | None = None, table: str = "meta_offline_events") -> None:
    """Create the event models' tables in `database` from its `main.<table>` (the line model)."""
    con = duckdb.connect(str(database))
    try:
        shape = tuple(con.execute(f"select column_name, column_type from (describe main.{table})").fetchall())
        key = (Path(database).stem, table, shape)  # the compiled SQL names the catalog and the table
        sql = _compiled.get(key)
        if sql is None:
            sql = _compiled[key] = _compiled_on_disk(*key)
        moment = (as_of or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        literal = f"cast('{moment:%Y-%m-%d %H:%M:%S.%f}' as timestamp)"
        load_reference_seeds(con)
        _build_customers(
            con, sql[CUSTOMERS_MODEL], _SCRATCH / f"customers-{hashlib.sha256(repr(key).encode()).hexdigest()}.duckdb"
        )
        for name in EVENT_MODELS[1:]:
            con.execute(f"create or replace table main.{name} as ({sql[name].replace(_COMPILED_AS_OF, literal)})")
    finally:
        con.close()


def _build_customers(con: duckdb.DuckDBPyConnection, sql: str, cache: Path) -> None:
    """The customers model's table: copied from `cache` when it holds every customer of the line
    table, else built by the model's SQL and added to `cache`."""
    assert _COMPILED_AS_OF not in sql, "customer rows that depend on the time cannot be reused"
    # The model's SQL up to its `customers` CTE (raw values and digest: cheap), then the digests.
    head = sql[: sql.index("new_customers as (")].rstrip().removesuffix(",")
    digests = f"{head}\nselect customer_digest from customers"
    built = f"main.{CUSTOMERS_MODEL}"
    con.execute(f"attach '{cache}' as customer_cache")
    try:
        if not con.execute("select 1 from duckdb_tables() where database_name = 'customer_cache'").fetchall():
            con.execute(f"create or replace table {built} as ({sql})")  # the first build of this shape
            con.execute(f"create table customer_cache.customers as from {built}")
            return
        new = f"select customer_digest from ({digests}) except select customer_digest from customer_cache.customers"
        if con.execute(f"{new} limit 1").fetchall():
            con.execute(f"create or replace table {built} as ({sql})")
            con.execute(f"insert into customer_cache.customers from {built} where customer_digest in ({new})")
        else:
            con.execute(
                f"create or replace table {built} as from customer_cache.customers where customer_digest in ({digests})"
            )
    finally:
        con.execute("detach customer_cache")


def _compiled_on_disk(catalog: str, table: str, shape: tuple) -> dict[str, str]:
    """_compile's result, kept in the test run's folder (run_folder.py): a shape is compiled once
    per run, by the first worker that needs it, while the others wait for it."""
    key = hashlib.sha256(json.dumps([catalog, table, shape]).encode()).hexdigest()
    with run_folder.locked(f"compiled-{key}") as folder:
        path = folder / f"compiled-{key}.json"
        if not path.exists():  # written whole, then named: a worker killed meanwhile leaves no half file
            path.with_suffix(".tmp").write_text(json.dumps(_compile(catalog, table, shape)))
            path.with_suffix(".tmp").replace(path)
        return json.loads(path.read_text())


def _compile(catalog: str, table: str, shape: tuple) -> dict[str, str]:
    """dbt's compiled SQL of each event model, for a line table of this shape in a file named `catalog`.

    One project and DuckDB file per catalog and table in this process: the first compile loads
    the reference seeds (the models check, when compiled, that they are loaded as committed) in
    the same dbt process; later ones replace the line table and compile with dbt's partial parse.
    """
    scratch = _SCRATCH / f"{catalog}.{table}"
    project, database, target = scratch / "project", scratch / f"{catalog}.duckdb", scratch / "target"
    first = not project.exists()
    if first:
        prepare_project(project, datetime(2000, 1, 1))  # the project parses with its seeds
    with duckdb.connect(str(database)) as con:
        con.execute(f"create or replace table main.{table} ({', '.join(f'{name} {kind}' for name, kind in shape)})")
    vars = {"as_of": AS_OF_PLACEHOLDER}
    if table != "meta_offline_events":
        vars["meta_lines_model"] = table
    compile = ["compile", "--select", *EVENT_MODELS]
    if first:
        seed = ["seed", "--select", "path:seeds/reference"]
        run_dbt_in_one_process([(seed, target), (compile, target)], project, database, vars=vars)
    else:
        run_dbt(compile, project, database, target, vars=vars)
    compiled = target / "compiled" / "offline_conversions" / "models" / "events"
    return {name: (compiled / f"{name}.sql").read_text() for name in EVENT_MODELS}


def load_reference_seeds(con: duckdb.DuckDBPyConnection) -> None:
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
