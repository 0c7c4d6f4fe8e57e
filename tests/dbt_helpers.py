"""Run the repository's dbt project in tests without touching the user's files.

Every run gets its own DuckDB file, target and log paths and a profile copied from
``profiles.example.yml``; the sample seeds are generated into a copy of the project, so tests can
run in any order and in parallel:

    project = prepare_project(tmp_path / "project", as_of=AS_OF)   # copy + sample data
    run_dbt(["build"], project, tmp_path / "warehouse.duckdb", tmp_path / "target",
            vars={"as_of": "2026-11-23 12:00:00"})

``run_dbt`` returns the ``subprocess.CompletedProcess`` (output in ``stdout``) and, with
``check=True`` (the default), raises ``DbtError`` carrying dbt's output when dbt fails.

Sources other than the seeds, and what the model should hold for them:

    create_source_tables(db_path, "pos", project / "seeds", transactions="select * exclude (store_id) from lines")
    lines, customers = sample_rows(project / "seeds")
    assert model_rows(db_path) == expected_model_rows(lines, customers, as_of=AS_OF, lookback_days=62)
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# What dbt reads: the project file and the folders it names (seeds holds only the generator).
PROJECT_FILES = ("dbt_project.yml", "macros", "models", "seeds", "data-tests")
PROFILE_EXAMPLE = REPO_ROOT / "profiles.example.yml"
# The lookup tables the rules need (seeds/reference/): loaded whatever the sources are.
REFERENCE_SEEDS = frozenset(path.stem for path in (REPO_ROOT / "seeds" / "reference").glob("*.csv"))


class DbtError(AssertionError):
    """dbt exited non-zero; the message ends with the tail of its output."""


def copy_project(dest: Path | str) -> Path:
    """Copy the dbt project (not its generated CSVs, target or logs) into ``dest``; return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, dirs_exist_ok=True, ignore=_not_copied)
        elif source.exists():
            shutil.copy2(source, dest / name)
    return dest


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """What copy_project leaves out: caches, and the generated sample CSVs of seeds/ (the
    reference seeds in seeds/reference/ are committed and copied)."""
    generated = {"unified_itemized_transactions.csv", "customer_360.csv"} if Path(folder).name == "seeds" else set()
    return {name for name in names if name == "__pycache__" or name in generated}


def _generator():
    path = REPO_ROOT / "seeds" / "generate_sample_data.py"
    spec = importlib.util.spec_from_file_location("generate_sample_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate_sample_data(out_dir: Path | str, as_of: datetime, seed: int | None = None) -> dict[str, int]:
    """Write the two sample seed CSVs into ``out_dir`` relative to ``as_of`` (naive = UTC).

    Returns counts (customers, lines, orders). See seeds/generate_sample_data.py for the cases.
    """
    generator = _generator()
    return generator.generate(as_of, Path(out_dir), generator.DEFAULT_SEED if seed is None else seed)


def prepare_project(dest: Path | str, as_of: datetime, seed: int | None = None) -> Path:
    """A copy of the project in ``dest`` with sample data generated for ``as_of`` in its seeds/."""
    project_dir = copy_project(dest)
    generate_sample_data(project_dir / "seeds", as_of, seed)
    return project_dir


def write_profile(profiles_dir: Path | str, settings: Mapping[str, str] | None = None) -> Path:
    """``profiles.example.yml`` as ``profiles.yml`` in ``profiles_dir``, with optional DuckDB settings."""
    profiles_dir = Path(profiles_dir)
    profiles_dir.mkdir(parents=True, exist_ok=True)
    text = PROFILE_EXAMPLE.read_text()
    if settings:
        # Added to the example's own `settings:` mapping (JSON strings are YAML scalars).
        extra = "".join(f"        {key}: {json.dumps(value)}\n" for key, value in settings.items())
        text = text.replace("      settings:\n", "      settings:\n" + extra, 1)
    (profiles_dir / "profiles.yml").write_text(text)
    return profiles_dir


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def run_dbt(
    args: Sequence[str],
    project_dir: Path | str,
    db_path: Path | str,
    target_path: Path | str,
    vars: Mapping | None = None,
    env: Mapping[str, str] | None = None,
    profiles_dir: Path | str | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """Run ``dbt <args>`` on ``project_dir`` against the DuckDB file ``db_path``.

    Target and logs go to ``target_path`` (logs in ``target_path/logs``). ``vars`` become
    ``--vars``. The environment is the current one without ``DBT_*`` and ``META_*`` variables
    (so a developer's settings cannot leak in), plus ``env``: pass ``{"META_DATASET_ID": ...}``
    to pick the dataset whose first send decides the window. Without ``profiles_dir``, a copy of
    profiles.example.yml is written next to ``target_path``.
    """
    project_dir = Path(project_dir)
    target_path = Path(target_path)
    if profiles_dir is None:
        profiles_dir = write_profile(target_path.parent / f"{target_path.name}-profiles")
    command = [dbt_executable(), *args, *_dbt_options(project_dir, profiles_dir, vars)]
    run_env = _dbt_env(db_path, target_path, env)
    result = subprocess.run(command, cwd=project_dir, env=run_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise DbtError(f"{' '.join(command[:2])} exited {result.returncode}:\n{output}")
    return result


def run_dbt_in_one_process(
    commands: Sequence[tuple[Sequence[str], Path | str]],
    project_dir: Path | str,
    db_path: Path | str,
    vars: Mapping | None = None,
    env: Mapping[str, str] | None = None,
    profiles_dir: Path | str | None = None,
    compiled_code_to: Path | str | None = None,
) -> subprocess.CompletedProcess:
    """``run_dbt`` of several ``(args, target_path)`` in turn, in one Python process (see
    dbt_in_one_process.py: dbt-spark's session then starts Spark once); raises ``DbtError`` at the
    first that fails. With ``compiled_code_to``, the last command is an inline ``dbt compile``
    whose SQL is written there."""
    project_dir = Path(project_dir)
    first_target = Path(commands[0][1])
    if profiles_dir is None:
        profiles_dir = write_profile(first_target.parent / f"{first_target.name}-profiles")
    options = _dbt_options(project_dir, profiles_dir, vars)
    listed = [
        {"args": [*args, *options, "--target-path", str(Path(target).resolve()),
                  "--log-path", str((Path(target) / "logs").resolve())]}
        for args, target in commands
    ]  # fmt: skip
    if compiled_code_to is not None:
        listed[-1]["compiled_code_to"] = str(Path(compiled_code_to).resolve())
    commands_file = first_target.parent / f"{first_target.name}-commands.json"
    commands_file.write_text(json.dumps(listed))
    program = Path(__file__).with_name("dbt_in_one_process.py")
    command = [sys.executable, str(program), str(commands_file)]
    result = subprocess.run(
        command, cwd=project_dir, env=_dbt_env(db_path, first_target, env), capture_output=True, text=True
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise DbtError(f"dbt in one process exited {result.returncode}:\n{output}")
    return result


def _dbt_options(project_dir: Path | str, profiles_dir: Path | str, vars: Mapping | None) -> list[str]:
    options = ["--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir)]
    return options + ["--vars", json.dumps(dict(vars), default=str)] if vars else options


def _dbt_env(db_path: Path | str, target_path: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment without the developer's ``DBT_*`` and ``META_*`` variables, plus ``env``."""
    run_env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "META_"))}
    run_env.update(
        DBT_DUCKDB_PATH=str(Path(db_path).resolve()),
        DBT_TARGET_PATH=str(target_path.resolve()),
        DBT_LOG_PATH=str((target_path / "logs").resolve()),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
    )
    run_env.update(env or {})
    return run_env


def run_results(target_path: Path | str) -> dict[str, str]:
    """``{unique_id: status}`` of dbt's last invocation with this target path.

    Exposures are left out: there is nothing to run for them (their status is always no-op).
    """
    data = json.loads((Path(target_path) / "run_results.json").read_text())
    return {
        result["unique_id"]: result["status"]
        for result in data["results"]
        if not result["unique_id"].startswith("exposure.")
    }


def project_vars(project_dir: Path | str = REPO_ROOT) -> dict:
    """The ``vars:`` of a project's dbt_project.yml."""
    return yaml.safe_load((Path(project_dir) / "dbt_project.yml").read_text())["vars"]


def set_project_vars(project_dir: Path | str, **values) -> None:
    """Set vars in a (copied) project's dbt_project.yml, as a user configures the project."""
    path = Path(project_dir) / "dbt_project.yml"
    project = yaml.safe_load(path.read_text())
    project["vars"].update(values)
    path.write_text(yaml.safe_dump(project, sort_keys=False, allow_unicode=True))


# -- sources other than the seeds ----------------------------------------------------------------
SEED_FILES = {"lines": "unified_itemized_transactions", "customers": "customer_360"}


def _seed_column_types() -> dict[str, dict[str, str]]:
    """{seed: {column: type}} as dbt_project.yml loads the sample seeds (the contract's types)."""
    seeds = yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["seeds"]["offline_conversions"]
    return {name: seeds[name]["+column_types"] for name in SEED_FILES.values()}


def _sample_views(con: duckdb.DuckDBPyConnection, csv_dir: Path | str) -> None:
    """Views ``lines`` and ``customers`` over the sample CSVs, typed as the seeds are."""
    types = _seed_column_types()
    for view, seed in SEED_FILES.items():
        columns = ", ".join(f"'{name}': '{kind}'" for name, kind in types[seed].items())
        path = str(Path(csv_dir) / f"{seed}.csv").replace("'", "''")
        con.execute(
            f"create or replace temp view {view} as select * from read_csv('{path}', header = true, columns = {{{columns}}})"
        )


def create_source_tables(
    db_path: Path | str,
    schema: str,
    csv_dir: Path | str,
    transactions: str = "select * from lines",
    customers: str = "select * from customers",
) -> None:
    """Tables ``unified_itemized_transactions`` and ``customer_360`` in ``schema`` of the DuckDB file,
    each the result of a query over the sample CSVs in ``csv_dir`` (views ``lines`` and ``customers``,
    typed as the seeds): a user's own source, with the columns and types the queries give.
    """
    with duckdb.connect(str(db_path)) as con:
        _sample_views(con, csv_dir)
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create or replace table {schema}.unified_itemized_transactions as {transactions}")
        con.execute(f"create or replace table {schema}.customer_360 as {customers}")


def sample_rows(csv_dir: Path | str) -> tuple[list[dict], list[dict]]:
    """(item lines, customers) of the sample CSVs as dicts, typed as the seeds load them."""
    with duckdb.connect() as con:
        _sample_views(con, csv_dir)
        return _dicts(con, "select * from lines"), _dicts(con, "select * from customers")


def source_rows(db_path: Path | str, schema: str = "amperity_sample") -> tuple[list[dict], list[dict]]:
    """(item lines, customers) of the source tables in ``schema`` of a DuckDB file."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return (
            _dicts(con, f"select * from {schema}.unified_itemized_transactions"),
            _dicts(con, f"select * from {schema}.customer_360"),
        )


def _dicts(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# -- the model's rules, stated again in Python to check the SQL against ---------------------------
def _clean(value):
    if value is None:
        return None
    value = str(value).strip(" \t\r\n")
    return value or None


def _in_filter(value, wanted: Collection[str]) -> bool:
    return not wanted or (_clean(value) or "").lower() in {item.strip().lower() for item in wanted}


def expected_model_rows(
    lines: list[dict],
    customers: list[dict],
    *,
    as_of: datetime,
    lookback_days: int,
    channels: Collection[str] = (),
    brands: Collection[str] = (),
    source_timezone: str = "UTC",
    default_currency: str = "USD",
) -> Counter:
    """The rows ``meta_offline_events`` should hold for these source rows, as ``model_rows`` gives them.

    ``lines`` hold naive ``order_datetime`` values in ``source_timezone``; ``as_of`` is naive UTC.
    """
    best = {}
    for customer in customers:
        customer = {key: _clean(value) if key != "birthdate" else value for key, value in customer.items()}
        if customer["amperity_id"] is None:
            continue
        key = (
            customer["email"] is None and customer["phone"] is None,
            customer["email"] is None,
            customer["phone"] is None,
            customer["email"] or "\uffff",
            customer["phone"] or "\uffff",
        )
        current = best.get(customer["amperity_id"])
        if current is None or key < current[0]:
            best[customer["amperity_id"]] = (key, customer)
    start, end = as_of - timedelta(days=lookback_days), as_of
    zone = ZoneInfo(source_timezone)
    rows = Counter()
    for line in lines:
        customer = best.get(_clean(line["amperity_id"]), (None, None))[1]
        ordered_at = line["order_datetime"].replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
        if not (start < ordered_at <= end):
            continue
        if line["is_cancellation"] is True or line["is_return"] is True:
            continue
        if line["item_quantity"] is None or line["item_quantity"] <= 0:
            continue
        if not (_in_filter(line["purchase_channel"], channels) and _in_filter(line["purchase_brand"], brands)):
            continue
        if customer is None or (customer["email"] is None and customer["phone"] is None):
            continue
        currency = (_clean(line["currency"]) or default_currency).upper()
        price = float(line["item_revenue"]) / line["item_quantity"]
        rows[
            (
                customer["amperity_id"],
                _clean(line["order_id"]),
                _clean(line["product_id"]),
                line["item_quantity"],
                ordered_at,
                round(price, 6),
                currency,
                customer["email"],
                customer["phone"],
            )
        ] += 1
    return rows


def model_rows(db_path: Path | str) -> Counter:
    """The rows of ``main.meta_offline_events``, in the shape ``expected_model_rows`` gives."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute(
            "select external_id, order_id, product_id, quantity, timestamp, price, currency, email, phone "
            "from main.meta_offline_events"
        ).fetchall()
    return Counter((*row[:5], round(row[5], 6), *row[6:]) for row in rows)
