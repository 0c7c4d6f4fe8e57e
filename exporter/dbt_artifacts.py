"""Find the model dbt built from its artifacts (`manifest.json`, `run_results.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from exporter.config import ConfigError


@dataclass(frozen=True)
class ModelRelation:
    schema: str
    identifier: str

    def sql(self) -> str:
        # The catalog is left out on purpose: DuckDB names it after the file, which may have been
        # opened under another path than dbt's.
        return f'"{self.schema}"."{self.identifier}"'

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


def find_model(target_path: Path, model: str, allow_unsuccessful: bool = False) -> ModelRelation:
    """The relation of `model`, refusing one whose last dbt run did not succeed."""
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
    status = _last_status(target_path / "run_results.json", unique_id)
    if status not in (None, "success") and not allow_unsuccessful:
        raise ConfigError(
            f"dbt's last run of {model} ended with status {status!r}, so the table may be stale or missing. "
            "Fix the model and run `dbt run` again, or pass --allow-unsuccessful-model to export it anyway."
        )
    return ModelRelation(schema=node["schema"], identifier=node.get("alias") or node["name"])


def _last_status(run_results_path: Path, unique_id: str) -> str | None:
    """The model's status in dbt's last invocation, or None when that invocation did not run it."""
    if not run_results_path.exists():
        return None
    for result in json.loads(run_results_path.read_text()).get("results", []):
        if result.get("unique_id") == unique_id:
            return result.get("status")
    return None
