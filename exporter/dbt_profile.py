"""Which warehouse dbt built into: the DuckDB file of the dbt profile and target dbt used.

The profile is read by dbt's own code (the same `profiles.yml` lookup, `env_var()` rendering and
target selection as `dbt run`), so the exporter cannot end up reading another file than the one
dbt wrote: a `path:` in the profile, `DBT_DUCKDB_PATH`, `--target`/`DBT_TARGET` all count the
same for both. dbt is imported only here, and only when no `--database` was given.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from exporter.config import ConfigError, DbtLocation


@dataclass(frozen=True)
class DbtTarget:
    profile: str
    target: str
    adapter_type: str
    database_path: Path  # the DuckDB file
    catalog: str  # DuckDB's name for the file's database: what dbt's manifest records as `database`


def add_location_arguments(group: argparse._ActionsContainer) -> None:
    """--database, and dbt's own flags and variables that locate the profile and target."""
    env = os.environ.get
    group.add_argument(
        "--database", type=Path, help="DuckDB file dbt built (default: the `path` of the dbt profile and target)"
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


def database_path(database: Path | None, location: DbtLocation) -> Path:
    """--database when given, else the DuckDB file of the dbt profile and target."""
    return database or resolve_target(location).database_path


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
    profile = _render_profile(profiles_dir, profile_name, location.target)
    credentials = profile.credentials
    path = str(credentials.path)
    if path == ":memory:" or path.startswith("md:"):
        raise ConfigError(
            f"dbt target {profile.target_name!r} uses DuckDB at {path!r}, which the exporter cannot open after dbt "
            "has exited: give the target a file `path:`."
        )
    return DbtTarget(profile_name, profile.target_name, credentials.type, Path(path), str(credentials.database))


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


def _render_profile(profiles_dir: Path, profile_name: str, target: str | None):
    # dbt's profile code expects an invocation context (for env_var) and global flags, which its
    # CLI sets up; these are the same calls with dbt's defaults.
    from argparse import Namespace

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError, DbtProjectError
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context
    from dbt_common.exceptions import DbtBaseException

    set_invocation_context(os.environ)
    set_from_args(Namespace(), None)
    try:
        raw_profiles = read_profile(str(profiles_dir))
        if profile_name in raw_profiles:
            # Rendered first, so a target of an adapter that is not installed is named, not crashed on.
            target_name, rendered = Profile.render_profile(
                raw_profiles[profile_name], profile_name, target, ProfileRenderer({})
            )
            if rendered.get("type") != "duckdb":
                raise ConfigError(
                    f"dbt target {target_name!r} of profile {profile_name!r} is a {rendered.get('type')} warehouse; "
                    "the exporter reads DuckDB files only. Pass --target for a DuckDB target, or --database."
                )
        return Profile.from_raw_profiles(raw_profiles, profile_name, ProfileRenderer({}), target_override=target)
    except (DbtProfileError, DbtProjectError, DbtBaseException) as error:
        message = " ".join(str(error).split())
        raise ConfigError(
            f"dbt cannot load profile {profile_name!r} from {profiles_dir / 'profiles.yml'}: {message}"
        ) from None
