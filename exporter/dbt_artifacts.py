"""Find the model dbt built from its artifacts (`manifest.json`, `run_results.json`), and refuse
a table that dbt did not build, or built or tested unsuccessfully, in the warehouse opened.

Exporting a stale, broken or another target's table would send the wrong events with exit 0.
Two sources of evidence, each with its blind spot:

- `run_results.json` describes dbt's latest invocation that ran nodes: its `invocation_id`, its
  command and each node's status. Commands that only read rewrite it too (`compile`,
  `docs generate`, `show`, where "success" means compiled), `parse` and `ls` do not, nor does a
  command that fails before running any node (a syntax error, a locked file; dbt exits 2). It
  lives in the target folder, not in the warehouse: it cannot tell which file was built.
- `meta_capi.dbt_model_builds`, in the warehouse itself, logs every model build attempt of
  `dbt run` and `dbt build` with its invocation_id and status (the on-run-end hook
  macros/record_model_builds.sql). Later commands do not erase it, but it holds no test results.

The rule, by what dbt's latest invocation (`run_results.json`) did with the model:

1. Built it (`run`, `build`, `retry`): the build succeeded, the model's tests that ran passed
   (or only warned), and the model's latest recorded build in the opened warehouse is this
   invocation's. If not, the file is another target's (two targets whose files share a name
   pass the catalog check), or the build was never recorded: the table may be an older one.
2. Only tested it (`test`, or `build` with the model not selected): the tests passed, and the
   model's latest recorded build in the warehouse succeeded (a `dbt run` that failed and a
   `dbt test` that passed on the older table leave a failed latest build).
3. Neither built nor tested it (`compile`, `docs generate`, `show`, `seed`, `run-operation`,
   a selection without the model): it says nothing about the table, so it does not replace the
   evidence: the model's latest recorded build in the warehouse succeeded. Results of tests run
   before it are no longer known (run `dbt build` or `dbt test` last to have them checked).

A dbt command that fails before running any node (dbt exits 2) changes neither source, so the
exporter judges the table by the latest invocation that did run: schedule the exporter only
after dbt succeeded (`dbt build && python -m exporter`).

A warehouse with no recorded build of the model is refused: nothing says dbt built it there.
Seeds and snapshots exported with --model are not in the build log: for them only cases 1 and
2 apply, from `run_results.json` alone. --allow-unsuccessful-model skips all of this but the
catalog check. Artifacts that cannot be read (empty, truncated, not shaped as dbt writes them)
are a ConfigError saying to run dbt again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from exporter.config import ConfigError
from exporter.state import latest_model_build
from exporter.warehouse import Warehouse

EVENTS_MODEL = "meta_capi_events"  # the events as sent (models/events/)
REJECTED_LINES_MODEL = "meta_capi_rejected_lines"  # the lines that cannot be sent, with a reason
BUILT = ("success",)
CHECKED = ("pass", "warn")  # a warn-severity data test is about row quality, not a broken model
BUILDING_COMMANDS = ("run", "build", "retry", "seed", "snapshot")  # where "success" means built
TESTING_COMMANDS = ("test", "build", "retry")  # where a test's status is its outcome
LOGGED_TYPES = ("model",)  # what the on-run-end hook records in meta_capi.dbt_model_builds


@dataclass(frozen=True)
class Invocation:
    """What dbt's latest invocation (run_results.json) did with the model, once it passed find_model."""

    invocation_id: str
    command: str  # e.g. "dbt build"
    built: bool  # it built the model (successfully: a failed build is refused in find_model)


@dataclass(frozen=True)
class ModelRelation:
    schema: str
    identifier: str
    database: str | None = None  # DuckDB's catalog (the file's name without `.duckdb`), PostgreSQL's database
    unique_id: str | None = None  # dbt's id of the model
    # None: nothing to check in the build log (--allow-unsuccessful-model, or a seed or snapshot)
    invocation: Invocation | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"

    def check_warehouse(self, wh: Warehouse, allow_unsuccessful: bool = False) -> None:
        """Refuse a warehouse other than the one dbt built the model in, or a model whose latest
        recorded build there is not the one dbt's artifacts describe or failed (see the module's rule)."""
        path = wh.describe()
        opened_catalog = wh.catalog()
        if self.database is not None and opened_catalog is not None and self.database != opened_catalog:
            raise ConfigError(
                f"dbt built {self} in the {wh.engine} database {self.database!r}, but the exporter opened {path} "
                f"({opened_catalog!r}). Run the exporter with the same profile and target as dbt "
                "(--profiles-dir, --target), or pass the file dbt built as --database."
            )
        if allow_unsuccessful or self.invocation is None or self.unique_id is None:
            return
        problem = self._build_log_problem(latest_model_build(wh, self.unique_id), path)
        if problem:
            raise ConfigError(f"{problem}, or pass --allow-unsuccessful-model to export the table anyway.")

    def _build_log_problem(self, latest: dict | None, path: str) -> str | None:
        """Why the build log in `path` does not vouch for the table (cases 1 to 3), or None."""
        assert self.invocation is not None
        invocation = self.invocation
        if latest is None:
            return (
                f"{path} holds no record of a dbt build of {self} (meta_capi.dbt_model_builds, written by the "
                "project's on-run-end hook): run `dbt build` with the same profile and target as the exporter"
            )
        when = f"{latest['recorded_at']:%Y-%m-%d %H:%M} UTC"
        if invocation.built and latest["invocation_id"] != invocation.invocation_id:
            return (
                f"dbt's latest invocation ({invocation.command}) built {self}, but not in {path}, whose latest recorded "
                f"build of it is an earlier one ({when}): it is another target's file, or that build was not recorded. "
                "Export with the profile and target dbt used (--target, --profiles-dir, --database), or run "
                "`dbt build` again"
            )
        if latest["status"] not in BUILT:
            return (
                f"The latest `dbt run`/`dbt build` of {self} in {path} ({when}) ended with status "
                f"{latest['status']!r}, so the table is an older one. Fix the model and run `dbt build` again"
            )
        return None


def find_model(target_path: Path, model: str, allow_unsuccessful: bool = False) -> ModelRelation:
    """The relation of `model`, refusing one dbt's latest invocation did not build or test successfully.

    What the invocation did is kept on the relation: check_warehouse compares it with the build log."""
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
    relation = _relation(manifest_path, unique_id, node)
    if allow_unsuccessful:
        return relation
    # Data tests of the model and of the models it is built from (a failed error test of
    # meta_offline_events condemns the events built from it); models built on top of it are no
    # checks of it.
    checked = {unique_id, *_upstream_ids(_read_artifact(manifest_path), unique_id)}
    tests = {
        test_id
        for test_id, test in nodes.items()
        if test.get("resource_type") == "test" and checked.intersection(_depends_on(manifest_path, test_id, test))
    }
    invocation = _latest_invocation(target_path / "run_results.json", unique_id, tests, node["resource_type"])
    return ModelRelation(relation.schema, relation.identifier, relation.database, unique_id, invocation)


def _relation(manifest_path: Path, unique_id: str, node: dict[str, Any]) -> ModelRelation:
    schema, alias, database = node.get("schema"), node.get("alias") or node.get("name"), node.get("database")
    if not (isinstance(schema, str) and isinstance(alias, str) and isinstance(database, str | None)):
        raise ArtifactError(manifest_path, f"node {unique_id} has no schema and name")
    return ModelRelation(schema, alias, database, unique_id)


def _latest_invocation(
    run_results_path: Path, unique_id: str, tests: set[str], resource_type: str
) -> Invocation | None:
    """What dbt's latest invocation did with the model, refusing a failed build or failed tests.

    None when the build log has nothing to add (a seed or a snapshot, which it does not record)."""
    name = unique_id.rsplit(".", 1)[-1]
    if not run_results_path.exists():
        _refuse(f"dbt has no run results at {run_results_path}: nothing says the model was built")
    run_results = _read_artifact(run_results_path)
    metadata = _field(run_results_path, run_results, "metadata", dict)
    invocation_id = _field(run_results_path, metadata, "invocation_id", str, "metadata")
    which = _field(run_results_path, _field(run_results_path, run_results, "args", dict), "which", str, "args")
    command = f"dbt {which}"
    statuses = _statuses(run_results_path, run_results)
    built = which in BUILDING_COMMANDS and unique_id in statuses
    tested = which in TESTING_COMMANDS and bool(tests & statuses.keys())
    if built and statuses[unique_id] not in BUILT:
        _refuse(f"In dbt's latest invocation ({command}), {name} ended with status {statuses[unique_id]!r}")
    failed = sorted(test_id.rsplit(".", 2)[-2] for test_id in tests if statuses.get(test_id, "pass") not in CHECKED)
    if tested and failed:
        _refuse(f"dbt's latest invocation ({command}) failed tests of {name}: {', '.join(failed)}")
    if resource_type not in LOGGED_TYPES:
        if not (built or tested):
            _refuse(f"dbt's latest invocation ({command}) neither built nor tested {name}")
        return None
    return Invocation(invocation_id, command, built)


def _refuse(problem: str) -> NoReturn:
    raise ConfigError(
        f"{problem}, so the table may be stale, missing or broken. Run `dbt build` and export after it succeeds, "
        "or pass --allow-unsuccessful-model to export it anyway."
    )


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
    nodes = manifest.get("nodes") or {}
    upstream = {
        nodes[node_id].get("name") for node_id in _upstream_ids(manifest, models.events.unique_id) if node_id in nodes
    }
    if line_model not in upstream:
        raise ConfigError(
            f"dbt builds {EVENTS_MODEL} from another model than {line_model!r}. To send the events of {line_model}, "
            f"build them from it: dbt build --vars '{{meta_lines_model: {line_model}}}'."
        )
    return models


def _upstream_ids(manifest: dict, unique_id: str | None) -> set[str]:
    """The ids of every node `unique_id` is built from, directly or not (manifest's parent_map)."""
    parents = manifest.get("parent_map")
    parents = parents if isinstance(parents, dict) else {}
    seen: set[str] = set()
    pending = list(parents.get(unique_id) or ())
    while pending:
        node_id = pending.pop()
        if isinstance(node_id, str) and node_id not in seen:
            seen.add(node_id)
            pending.extend(parents.get(node_id) or ())
    return seen
