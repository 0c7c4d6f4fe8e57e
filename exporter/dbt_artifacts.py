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
from typing import NamedTuple

import duckdb

from exporter.config import ConfigError
from exporter.state import latest_model_build

EVENTS_MODEL = "meta_capi_events"  # the events as sent (models/events/)
REJECTED_LINES_MODEL = "meta_capi_rejected_lines"  # the lines that cannot be sent, with a reason
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
    nodes = json.loads(manifest_path.read_text())["nodes"]
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
        if test.get("resource_type") == "test" and unique_id in test.get("depends_on", {}).get("nodes", ())
    }
    problem = _latest_invocation_problem(target_path / "run_results.json", unique_id, tests)
    if problem and not allow_unsuccessful:
        raise ConfigError(
            f"{problem}, so the table may be stale, missing or broken. Run `dbt build` and export after it succeeds, "
            f"or pass --allow-unsuccessful-model to export {model} anyway."
        )
    return ModelRelation(node["schema"], node.get("alias") or node["name"], node.get("database"), unique_id)


def _latest_invocation_problem(run_results_path: Path, unique_id: str, tests: set[str]) -> str | None:
    """Why the model's table cannot be trusted after dbt's latest invocation, or None."""
    if not run_results_path.exists():
        return f"dbt has no run results at {run_results_path}: nothing says the model was built"
    run_results = json.loads(run_results_path.read_text())
    command = "dbt " + str(run_results.get("args", {}).get("which", "?"))
    statuses = {result.get("unique_id"): result.get("status") for result in run_results.get("results", [])}
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


class EventModels(NamedTuple):
    events: ModelRelation
    rejected_lines: ModelRelation


def find_event_models(target_path: Path, line_model: str, allow_unsuccessful: bool = False) -> EventModels:
    """The events and rejected-lines models dbt built from `line_model` (meta_offline_events by default)."""
    models = EventModels(
        find_model(target_path, EVENTS_MODEL, allow_unsuccessful),
        find_model(target_path, REJECTED_LINES_MODEL, allow_unsuccessful),
    )
    manifest = json.loads((target_path / "manifest.json").read_text())
    if not any(node.get("name") == line_model for node in (manifest.get("nodes") or {}).values()):
        raise ConfigError(
            f"dbt's manifest has no model named {line_model!r}: check --model (default meta_offline_events)."
        )
    if line_model not in _upstream_names(manifest, models.events.unique_id):
        raise ConfigError(
            f"dbt builds {EVENTS_MODEL} from another model than {line_model!r}. To send the events of {line_model}, "
            f"build them from it: dbt build --vars '{{meta_lines_model: {line_model}}}'."
        )
    return models


def _upstream_names(manifest: dict, unique_id: str | None) -> set[str]:
    """The names of every model `unique_id` is built from, directly or not."""
    parents = manifest.get("parent_map") or {}
    nodes = manifest.get("nodes") or {}
    seen: set[str] = set()
    pending = list(parents.get(unique_id, ()))
    while pending:
        node_id = pending.pop()
        if node_id not in seen:
            seen.add(node_id)
            pending.extend(parents.get(node_id, ()))
    return {nodes[node_id].get("name") for node_id in seen if node_id in nodes}
