"""A PostgreSQL server for the tests marked `postgres`, as `postgres_env` (the libpq variables).

With PGHOST set (CI's .ci/run starts a server with scripts/postgres and exports them), that
server is used. Otherwise the session starts one of its own with scripts/postgres when the
PostgreSQL 15 binaries are installed, and stops it at the end. When neither works the tests
skip, saying why; under CI (`CI` set) they fail instead, so CI never passes on skipped tests.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "postgres"
LIBPQ_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"no PostgreSQL server: {reason} (install postgresql-15, or set PGHOST and the other libpq variables)")


@pytest.fixture(scope="session")
def postgres_env():
    """{libpq variable: value} of a running server whose database is UTF8."""
    if os.environ.get("PGHOST"):
        yield {name: os.environ.get(name, "") for name in LIBPQ_VARIABLES}
        return
    scratch = Path(tempfile.mkdtemp(prefix="meta-capi-postgres-"))
    scratch.chmod(0o755)  # the server's own user (postgres, when run as root) creates its folder inside
    data_dir = scratch / "server"
    started = subprocess.run([str(SCRIPT), "start", str(data_dir)], capture_output=True, text=True)
    if started.returncode != 0:
        _unavailable(f"scripts/postgres start exited {started.returncode}: {started.stderr.strip()[-500:]}")
    env = {}
    for word in shlex.split(started.stdout.replace("export ", "")):
        name, _, value = word.partition("=")
        env[name] = value
    try:
        yield env
    finally:
        subprocess.run([str(SCRIPT), "stop", str(data_dir)], capture_output=True, text=True)


@pytest.fixture
def postgres_database(postgres_env):
    """The libpq variables of a new, empty UTF8 database of the server, dropped afterwards."""
    with postgres_database_named(postgres_env, "test") as env:
        yield env


@contextmanager
def postgres_database_named(server_env: dict[str, str], label: str) -> Iterator[dict[str, str]]:
    """A new, empty UTF8 database of the server (named after label, made unique), dropped on exit."""
    name = f"meta_capi_{label}_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(**connect_args(server_env))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"create database {name} encoding 'UTF8' template template0")
    try:
        yield {**server_env, "PGDATABASE": name}
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
        admin.close()


def connect_args(env: dict[str, str]) -> dict[str, str]:
    return {
        "host": env["PGHOST"],
        "port": env["PGPORT"],
        "user": env["PGUSER"],
        "password": env["PGPASSWORD"],
        "dbname": env["PGDATABASE"],
    }


def postgres_rows(env: dict[str, str], sql: str) -> list[tuple]:
    with psycopg2.connect(**connect_args(env)) as con, con.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()
