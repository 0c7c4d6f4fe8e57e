"""Find the model dbt built from its artifacts (`manifest.json`, `run_results.json`), and refuse
a table that is not the one dbt's latest invocation built or tested.

dbt rewrites `run_results.json` on every command, so it tells what the latest `dbt run`,
`dbt build` or `dbt test` did with the model. A model that invocation neither built nor tested
may be left over from an earlier day or another target; one it failed to build, or whose tests
failed, is stale or broken. Either way exporting it would send the wrong events with exit 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from exporter.config import ConfigError
from exporter.state import latest_model_build

BUILT = ("success",)
CHECKED = ("pass", "warn")  # a warn-severity data test is about row quality, not a broken model


@dataclass(frozen=True)
class ModelRelation:
    schema: str
    identifier: str
    database: str | None = None  # DuckDB's catalog: the file's name without `.duckdb`
    unique_id: str | None = None  # dbt's id of the model

    def sql(self) -> str:
        # The catalog is left out on purpose: the exporter checks it against the opened file
        # (check_database) rather than failing on a file opened under another name.
        return f'"{self.schema}"."{self.identifier}"'

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"

    def check_warehouse(self, con: duckdb.DuckDBPyConnection, path: Path, allow_unsuccessful: bool = False) -> None:
        """Refuse a DuckDB file other than the one dbt built the model in, or a model whose latest
        build attempt there failed (recorded by the on-run-end hook meta_record_model_builds)."""
        opened_catalog = con.execute("select current_database()").fetchone()[0]
        if self.database is not None and self.database != opened_catalog:
            raise ConfigError(
                f"dbt built {self} in the DuckDB database {self.database!r}, but the exporter opened {path} "
                f"({opened_catalog!r}). Run the exporter with the same profile and target as dbt "
                "(--profiles-dir, --target), or pass the file dbt built as --database."
            )
        if allow_unsuccessful or self.unique_id is None:
            return
        latest = latest_model_build(con, self.unique_id)
        if latest is not None and latest["status"] not in BUILT:
            raise ConfigError(
                f"The latest `dbt run`/`dbt build` of {self} ({latest['recorded_at']:%Y-%m-%d %H:%M} UTC) ended with "
                f"status {latest['status']!r}, so the table is an older one. Fix the model and run `dbt build` again, or pass "
                "--allow-unsuccessful-model to export the older table anyway."
            )


def find_model(target_path: Path, model: str, allow_unsuccessful: bool = False) -> ModelRelation:
    """The relation of `model`, refusing one dbt's latest invocation did not build or test successfully."""
    manifest_path = target_path / "manifest.json"
    if not manifest_path.exists():
        raise ConfigError(
            f"No dbt manifest at {manifest_path}: run `dbt run` (or `dbt build`) from the repository root first, "
            "or point --dbt-target-path at dbt's target folder."
        )
    nodes = _nodes(manifest_path)
    matches = [
        (unique_id, node)
        for unique_id, node in nodes.items()
        if node.get("resource_type") in ("model", "seed", "snapshot") and node.get("name") == model
    ]
    if not matches:
        raise ConfigError(f"dbt's manifest has no model named {model!r}: check --model (default meta_offline_events).")
    unique_id, node = matches[0]
    tests = {  # data tests of the model; models built on top of it are no checks of it
        test_id
        for test_id, test in nodes.items()
        if test.get("resource_type") == "test" and unique_id in _depends_on(manifest_path, test_id, test)
    }
    if not allow_unsuccessful:
        problem = _latest_invocation_problem(target_path / "run_results.json", unique_id, tests)
        if problem:
            raise ConfigError(
                f"{problem}, so the table may be stale, missing or broken. Run `dbt build` and export after it "
                f"succeeds, or pass --allow-unsuccessful-model to export {model} anyway."
            )
    return _relation(manifest_path, unique_id, node)


def _relation(manifest_path: Path, unique_id: str, node: dict[str, Any]) -> ModelRelation:
    schema, alias, database = node.get("schema"), node.get("alias") or node.get("name"), node.get("database")
    if not (isinstance(schema, str) and isinstance(alias, str) and isinstance(database, str | None)):
        raise ArtifactError(manifest_path, f"node {unique_id} has no schema and name")
    return ModelRelation(schema, alias, database, unique_id)


def _latest_invocation_problem(run_results_path: Path, unique_id: str, tests: set[str]) -> str | None:
    """Why the model's table cannot be trusted after dbt's latest invocation, or None."""
    if not run_results_path.exists():
        return f"dbt has no run results at {run_results_path}: nothing says the model was built"
    run_results = _read_artifact(run_results_path)
    args = _field(run_results_path, run_results, "args", dict)
    command = "dbt " + _field(run_results_path, args, "which", str, "args")
    statuses = _statuses(run_results_path, run_results)
    name = unique_id.rsplit(".", 1)[-1]
    if unique_id in statuses:
        if statuses[unique_id] not in BUILT:
            return f"In dbt's latest invocation ({command}), {name} ended with status {statuses[unique_id]!r}"
    elif not tests & statuses.keys():
        return f"dbt's latest invocation ({command}) neither built nor tested {name}"
    failed = sorted(test_id.rsplit(".", 2)[-2] for test_id in tests if statuses.get(test_id, "pass") not in CHECKED)
    if failed:
        return f"dbt's latest invocation ({command}) failed tests of {name}: {', '.join(failed)}"
    return None


# --- reading dbt's artifacts: a file cut short or not as dbt writes it is a reason to re-run dbt ---


class ArtifactError(ConfigError):
    """A dbt artifact that is empty, truncated or not shaped as dbt writes it."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"dbt's {path} cannot be used ({reason}): run dbt again (`dbt build`) to rewrite it, "
            "and export after it finishes."
        )


def _read_artifact(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (a dbt run cut short, or a full disk, can leave it empty or partial)."""
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ArtifactError(path, error.strerror or type(error).__name__) from None
    try:
        data = json.loads(text)
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError: empty, truncated, not text
        reason = f"not valid JSON: {str(error).splitlines()[0]}" if text.strip() else "empty"
        raise ArtifactError(path, reason) from None
    if not isinstance(data, dict):
        raise ArtifactError(path, f"a JSON {type(data).__name__}, not an object")
    return data


def _field(path: Path, data: object, key: str, kind: type, where: str = "") -> Any:
    """data[key], which must be of `kind`: anything else means the file is not as dbt writes it."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        place = f"{where}: " if where else ""
        raise ArtifactError(path, f"{place}{key!r} is missing or has the wrong type")
    return value


def _nodes(manifest_path: Path) -> dict[str, dict[str, Any]]:
    nodes = _field(manifest_path, _read_artifact(manifest_path), "nodes", dict)
    for unique_id, node in nodes.items():
        if not isinstance(node, dict):
            raise ArtifactError(manifest_path, f"node {unique_id} is not an object")
    return nodes


def _statuses(path: Path, run_results: dict[str, Any]) -> dict[str, str]:
    """{unique_id: status} of the nodes the invocation ran."""
    return {
        _field(path, result, "unique_id", str, "a result"): _field(path, result, "status", str, "a result")
        for result in _field(path, run_results, "results", list)
    }


def _depends_on(manifest_path: Path, test_id: str, test: dict[str, Any]) -> list[str]:
    depends_on = test.get("depends_on", {})
    nodes = depends_on.get("nodes", []) if isinstance(depends_on, dict) else None
    if not isinstance(nodes, list):
        raise ArtifactError(manifest_path, f"node {test_id}: 'depends_on' has the wrong type")
    return nodes
