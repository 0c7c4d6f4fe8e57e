"""Which warehouse dbt built into: the one of the dbt profile and target dbt used.

The profile is read by dbt's own code (the same `profiles.yml` lookup, `env_var()` rendering and
target selection as `dbt run`), so the exporter cannot end up reading another warehouse than the
one dbt wrote: a `path:` in the profile, `DBT_DUCKDB_PATH`, the libpq variables of the postgres
target, `--target`/`DBT_TARGET` all count the same for both. dbt is imported only here, and only
when no `--database` (a DuckDB file) was given. The target becomes a WarehouseTarget
(warehouse.py): a DuckDB file, a PostgreSQL database or a Spark session.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from exporter.config import ConfigError, DbtLocation
from exporter.warehouse import DuckDBTarget, PostgresTarget, SparkTarget, WarehouseTarget

# The adapters the exporter reads from (dbt's `type:`), and what to install for each.
SUPPORTED = ("duckdb", "postgres", "spark")


@dataclass(frozen=True)
class DbtTarget:
    profile: str
    target: str
    adapter_type: str
    warehouse: WarehouseTarget


def add_location_arguments(group: argparse._ActionsContainer) -> None:
    """--database, and dbt's own flags and variables that locate the profile and target."""
    env = os.environ.get
    group.add_argument(
        "--database", type=Path, help="DuckDB file dbt built (default: the warehouse of the dbt profile and target)"
    )
    group.add_argument(
        "--profiles-dir",
        type=Path,
        default=env("DBT_PROFILES_DIR"),
        help="folder of dbt's profiles.yml [DBT_PROFILES_DIR] (default: as dbt, the working directory, then ~/.dbt)",
    )
    group.add_argument(
        "--profile", default=env("DBT_PROFILE"), help="dbt profile [DBT_PROFILE] (default: dbt_project.yml's)"
    )
    group.add_argument("--target", default=env("DBT_TARGET"), help="dbt target [DBT_TARGET] (default: the profile's)")
    group.add_argument(
        "--project-dir",
        type=Path,
        default=Path(env("DBT_PROJECT_DIR", ".")),
        help="dbt project folder, for its profile name [DBT_PROJECT_DIR] (default: %(default)s)",
    )


def location_from_args(args: argparse.Namespace) -> DbtLocation:
    return DbtLocation(
        project_dir=args.project_dir,
        profiles_dir=Path(args.profiles_dir) if args.profiles_dir else None,
        profile=args.profile or None,
        target=args.target or None,
    )


def warehouse_target(
    database: Path | None, location: DbtLocation, duckdb_memory_limit: str | None = None
) -> WarehouseTarget:
    """--database (a DuckDB file) when given, else the warehouse of the dbt profile and target."""
    if database is not None:
        return DuckDBTarget(Path(database), duckdb_memory_limit)
    warehouse = resolve_target(location).warehouse
    if isinstance(warehouse, DuckDBTarget):
        return DuckDBTarget(warehouse.path, duckdb_memory_limit)
    return warehouse


def resolve_target(location: DbtLocation) -> DbtTarget:
    """The profile and target `dbt run` would use from this location, rendered by dbt."""
    if location.profiles_dir is not None:
        profiles_dir = location.profiles_dir
    else:
        from dbt.cli.resolvers import default_profiles_dir

        profiles_dir = default_profiles_dir()
    profiles_file = profiles_dir / "profiles.yml"
    if not profiles_file.is_file():
        raise ConfigError(
            f"No dbt profile at {profiles_file}: the exporter reads the warehouse dbt built from the same profiles.yml "
            "as dbt (the working directory, then ~/.dbt; or DBT_PROFILES_DIR / --profiles-dir). "
            "Copy profiles.example.yml to profiles.yml, or pass --database."
        )
    profile_name = location.profile or _project_profile(location.project_dir)
    target_name, rendered = _render_profile(profiles_dir, profile_name, location.target)
    kind = rendered.get("type")
    if kind == "spark":
        # Read from the rendered profile: the exporter needs pyspark, not dbt-spark, to connect.
        return DbtTarget(profile_name, target_name, kind, _spark_target(target_name, rendered))
    credentials = _load_profile(profiles_dir, profile_name, location.target).credentials
    if kind == "postgres":
        warehouse: WarehouseTarget = PostgresTarget(
            host=credentials.host,
            port=int(credentials.port),
            user=credentials.user,
            dbname=credentials.database,
            password=credentials.password or None,
            sslmode=credentials.sslmode,
            connect_timeout=credentials.connect_timeout,
            role=credentials.role or None,
            origin=f"dbt target {target_name!r} of profile {profile_name!r}",
        )
        return DbtTarget(profile_name, target_name, kind, warehouse)
    path = str(credentials.path)
    if path == ":memory:" or path.startswith("md:"):
        raise ConfigError(
            f"dbt target {target_name!r} uses DuckDB at {path!r}, which the exporter cannot open after dbt "
            "has exited: give the target a file `path:`."
        )
    return DbtTarget(profile_name, target_name, kind, DuckDBTarget(Path(path)))


def _spark_target(target_name: str, rendered: dict) -> SparkTarget:
    method = rendered.get("method")
    if method != "session":
        raise ConfigError(
            f"dbt target {target_name!r} reaches Spark through method {method!r}; the exporter connects with dbt-spark's "
            "`session` method only (a SparkSession in its own process). Export from a target with `method: session` "
            "and the same server_side_parameters (warehouse folder, metastore)."
        )
    parameters = rendered.get("server_side_parameters") or {}
    if not isinstance(parameters, dict):
        raise ConfigError(f"dbt target {target_name!r}: server_side_parameters must be a mapping of Spark settings.")
    return SparkTarget(tuple((str(name), str(value)) for name, value in parameters.items()))


def _project_profile(project_dir: Path) -> str:
    project_file = project_dir / "dbt_project.yml"
    try:
        profile = yaml.safe_load(project_file.read_text()).get("profile")
    except (OSError, yaml.YAMLError, AttributeError) as error:
        raise ConfigError(
            f"Cannot read the dbt project at {project_file} ({error}): run the exporter from the dbt project's root, "
            "or pass --project-dir (DBT_PROJECT_DIR)."
        ) from None
    if not isinstance(profile, str) or not profile:
        raise ConfigError(f"{project_file} names no `profile:`: add it, or pass --profile (DBT_PROFILE).")
    return profile


def _dbt_context():
    # dbt's profile code expects an invocation context (for env_var) and global flags, which its
    # CLI sets up; these are the same calls with dbt's defaults.
    from argparse import Namespace

    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context(os.environ)
    set_from_args(Namespace(), None)


def _render_profile(profiles_dir: Path, profile_name: str, target: str | None) -> tuple[str, dict]:
    """The target's name and rendered settings, refusing an adapter the exporter cannot read.

    Rendered first, before dbt loads the adapter, so a target of an adapter that is not
    installed is named, not crashed on."""
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer

    _dbt_context()
    with _dbt_errors(profiles_dir, profile_name):
        raw_profiles = read_profile(str(profiles_dir))
        if profile_name not in raw_profiles:
            # dbt's own message names the profiles there are.
            Profile.from_raw_profiles(raw_profiles, profile_name, ProfileRenderer({}), target_override=target)
        target_name, rendered = Profile.render_profile(
            raw_profiles[profile_name], profile_name, target, ProfileRenderer({})
        )
    kind = rendered.get("type")
    if kind not in SUPPORTED:
        raise ConfigError(
            f"dbt target {target_name!r} of profile {profile_name!r} is a {kind} warehouse; the exporter reads "
            "DuckDB, PostgreSQL and Spark (session method) only. Pass --target for one of those, or --database."
        )
    if kind == "postgres" and importlib.util.find_spec("psycopg2") is None:
        raise ConfigError(
            f"dbt target {target_name!r} is PostgreSQL, but its adapter is not installed: pip install dbt-postgres."
        )
    if kind == "spark" and importlib.util.find_spec("pyspark") is None:
        raise ConfigError(
            f"dbt target {target_name!r} is Spark, but pyspark is not installed: pip install 'dbt-spark[session]' "
            "(it brings pyspark; Spark needs Java 17)."
        )
    return target_name, rendered


def _load_profile(profiles_dir: Path, profile_name: str, target: str | None):
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer

    with _dbt_errors(profiles_dir, profile_name):
        raw_profiles = read_profile(str(profiles_dir))
        return Profile.from_raw_profiles(raw_profiles, profile_name, ProfileRenderer({}), target_override=target)


@contextmanager
def _dbt_errors(profiles_dir: Path, profile_name: str) -> Iterator[None]:
    from dbt.exceptions import DbtProfileError, DbtProjectError
    from dbt_common.exceptions import DbtBaseException

    try:
        yield
    except (DbtProfileError, DbtProjectError, DbtBaseException) as error:
        message = " ".join(str(error).split())
        raise ConfigError(
            f"dbt cannot load profile {profile_name!r} from {profiles_dir / 'profiles.yml'}: {message}"
        ) from None
