"""Run the repository's dbt project in tests without touching the user's files.

Every run gets its own DuckDB file, target and log paths and a profile copied from
``profiles.example.yml``; the sample seeds are generated into a copy of the project, so tests can
run in any order and in parallel:

    project = prepare_project(tmp_path / "project", as_of=AS_OF)   # copy + sample data
    run_dbt(["build"], project, tmp_path / "warehouse.duckdb", tmp_path / "target",
            vars={"as_of": "2026-11-23 12:00:00"})

``run_dbt`` returns the ``subprocess.CompletedProcess`` (output in ``stdout``) and, with
``check=True`` (the default), raises ``DbtError`` carrying dbt's output when dbt fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# What dbt reads: the project file and the folders it names (seeds holds only the generator).
PROJECT_FILES = ("dbt_project.yml", "macros", "models", "seeds", "data-tests")
PROFILE_EXAMPLE = REPO_ROOT / "profiles.example.yml"


class DbtError(AssertionError):
    """dbt exited non-zero; the message ends with the tail of its output."""


def copy_project(dest: Path | str) -> Path:
    """Copy the dbt project (not its generated CSVs, target or logs) into ``dest``; return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, dest / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.csv", "__pycache__")
            )
        elif source.exists():
            shutil.copy2(source, dest / name)
    return dest


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
        # JSON is YAML: a flow mapping indented under the `dev` output.
        text = text.rstrip("\n") + "\n      settings: " + json.dumps(dict(settings)) + "\n"
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
    run_env = {key: value for key, value in os.environ.items() if not key.startswith(("DBT_", "META_"))}
    run_env.update(
        DBT_DUCKDB_PATH=str(Path(db_path).resolve()),
        DBT_TARGET_PATH=str(target_path.resolve()),
        DBT_LOG_PATH=str((target_path / "logs").resolve()),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
    )
    run_env.update(env or {})
    command = [dbt_executable(), *args, "--project-dir", str(project_dir), "--profiles-dir", str(profiles_dir)]
    if vars:
        command += ["--vars", json.dumps(dict(vars), default=str)]
    result = subprocess.run(command, cwd=project_dir, env=run_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr)[-6000:]
        raise DbtError(f"{' '.join(command[:2])} exited {result.returncode}:\n{output}")
    return result


def run_results(target_path: Path | str) -> dict[str, str]:
    """``{unique_id: status}`` of dbt's last invocation with this target path."""
    data = json.loads((Path(target_path) / "run_results.json").read_text())
    return {result["unique_id"]: result["status"] for result in data["results"]}
