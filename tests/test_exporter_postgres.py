"""The exporter on PostgreSQL (dbt target `postgres`): it reads the events where dbt built them
and keeps its state there, sending byte for byte what it sends from DuckDB; bad configuration
(an unreachable server, a wrong password, a role without privileges) is exit 2 in one line.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from conftest import DATASET, TOKEN
from dbt_helpers import write_profile
from fake_meta import FakeMeta
from postgres_sample import AS_OF
from postgres_server import connect_args, postgres_rows

from exporter import cli, pipeline
from exporter.cli import main
from exporter.events import MATCH_KEYS

pytestmark = pytest.mark.postgres

REJECTED_CASES = {  # as in test_end_to_end.py
    "ORD-BAD-CURRENCY": "invalid_currency",
    "ORD-MALFORMED-EMAIL": "no_usable_email_or_phone",
    "ORD-BAD-PHONE-ONLY": "no_usable_email_or_phone",
}
LIBPQ = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
NOW = AS_OF.replace(tzinfo=UTC) + timedelta(minutes=5)


def _use_database(env: dict[str, str], monkeypatch) -> None:
    """The database's libpq variables set in this process too: the exporter renders the profile's
    env_var() from them."""
    for variable in LIBPQ:
        monkeypatch.setenv(variable, env[variable])
    for variable in ("DBT_TARGET", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR", "DBT_TARGET_PATH", "DBT_DUCKDB_PATH"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def exporter_database(postgres_database, monkeypatch):
    """A new, empty database (postgres_server's postgres_database), used by the exporter."""
    _use_database(postgres_database, monkeypatch)
    return postgres_database


def _connect(env: dict[str, str]):
    import psycopg2

    return psycopg2.connect(**connect_args(env))


def _rows(env: dict[str, str], sql: str) -> list[tuple]:
    return postgres_rows(env, sql)


@pytest.fixture
def exporter_clock(monkeypatch):
    """The exporter's clock at NOW, a minute later for each run (so `history` lists them in order):
    the session's builds are of the fixed AS_OF (postgres_sample.py)."""
    runs = itertools.count()

    def run_export(config):
        moment = NOW + timedelta(minutes=next(runs))
        return pipeline.run_export(config, now=lambda: moment)

    monkeypatch.setattr(cli, "run_export", run_export)


def test_the_exporter_sends_from_postgres_what_it_sends_from_duckdb_and_keeps_its_state_there(
    postgres_sample, tmp_path, monkeypatch, scheduled_env, exporter_clock, request_bodies, capsys
):
    database = postgres_sample.database
    _use_database(database, monkeypatch)
    location = ["--target", "postgres", "--profiles-dir", str(postgres_sample.profiles),
                "--project-dir", str(postgres_sample.project)]  # fmt: skip
    clock = NOW.timestamp()  # the fake Meta's, as old events are judged

    def export_postgres(meta: FakeMeta, *extra: str) -> int:
        target = ["--dbt-target-path", str(postgres_sample.postgres_target)]
        return main([*location, *target, "--graph-url", meta.url, "-q", *extra])

    def window_days() -> set[int]:
        return {row[0] for row in _rows(database, "select distinct window_lookback_days from analytics.meta_offline_events")}  # fmt: skip

    # The reference: the same sample data and as_of, built and sent from DuckDB (a copy: the
    # exporter keeps its state in the file).
    db_path = tmp_path / "warehouse.duckdb"
    db_path.write_bytes(postgres_sample.duckdb.read_bytes())
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
        args = ["--database", str(db_path), "--dbt-target-path", str(postgres_sample.duckdb_target)]
        assert main([*args, "--graph-url", meta.url, "-q"]) == 0
        duckdb_events = meta.accepted_events
    duckdb_bodies = sorted(request_bodies)
    request_bodies.clear()

    # The session's build (a first send: nothing in meta_capi.runs yet).
    assert window_days() == {62}
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
        assert export_postgres(meta) == 0, capsys.readouterr().err
        postgres_events = meta.accepted_events
        assert meta.errors == []
    assert len(postgres_events) == len(duckdb_events) > 100
    # Byte for byte the same requests (the batches may finish in another order).
    assert sorted(request_bodies) == duckdb_bodies

    # The state is in PostgreSQL's meta_capi schema.
    sent = _rows(database, "select count(*), count(distinct order_id) from meta_capi.send_log where not is_test")
    assert sent == [(len(postgres_events), len(postgres_events))]
    runs = _rows(database, "select completed, exit_code, dry_run, events_accepted from meta_capi.runs")
    assert runs == [(True, 0, False, len(postgres_events))]
    assert _rows(database, "select max(version) from meta_capi.schema_version") == [(3,)]
    rejected = dict(_rows(database, "select order_id, min(reason) from meta_capi.rejected_rows group by 1"))
    assert {order: rejected.get(order) for order in REJECTED_CASES} == REJECTED_CASES

    # A rerun sends nothing: Meta has every event.
    request_bodies.clear()
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
        assert export_postgres(meta) == 0
        assert meta.accepted_events == [] and request_bodies == []

    # The next day's run reads the completed first send from meta_capi.runs: 7 days from now on.
    postgres_sample.dbt_postgres("run")
    assert window_days() == {7}
    with FakeMeta(token=TOKEN, dataset_ids=[DATASET], now=clock) as meta:
        assert export_postgres(meta) == 0
        assert meta.accepted_events == []

    # history reads the same state.
    capsys.readouterr()
    assert main(["history", *location, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)["runs"]
    assert [run["events_accepted"] for run in history] == [0, 0, len(postgres_events)]
    assert main(["rejected", *location, "--run", history[-1]["run_id"], "--json"]) == 0
    reasons = {reason["reason"] for reason in json.loads(capsys.readouterr().out)["reasons"]}
    assert set(REJECTED_CASES.values()) <= reasons


# --- bad configuration: exit 2, one line, what to do, never the password -------------------------


def _manifest_for(target: Path, env: dict[str, str]) -> None:
    """dbt's artifacts as `dbt build --target postgres` leaves them for the three models."""
    target.mkdir(parents=True, exist_ok=True)
    names = ("meta_offline_events", "int_meta_capi_lines_checked", "meta_capi_events", "meta_capi_rejected_lines")
    nodes = {
        f"model.offline_conversions.{name}": {"resource_type": "model", "name": name, "alias": name,
                                               "schema": "analytics", "database": env["PGDATABASE"]}
        for name in names
    }  # fmt: skip
    parents = {
        "model.offline_conversions.int_meta_capi_lines_checked": ["model.offline_conversions.meta_offline_events"],
        "model.offline_conversions.meta_capi_events": ["model.offline_conversions.int_meta_capi_lines_checked"],
        "model.offline_conversions.meta_capi_rejected_lines": ["model.offline_conversions.int_meta_capi_lines_checked"],
    }
    (target / "manifest.json").write_text(json.dumps({"nodes": nodes, "parent_map": parents}))
    results = [{"unique_id": node_id, "status": "success"} for node_id in nodes]
    run_results = {"metadata": {"invocation_id": "inv-1"}, "args": {"which": "run"}, "results": results}
    (target / "run_results.json").write_text(json.dumps(run_results))


def _create_event_models(env: dict[str, str]) -> None:
    """Empty event tables, as dbt would build them, and their build in dbt's log."""
    keys = ", ".join(f"has_{key} boolean" for key in MATCH_KEYS)
    with _connect(env) as con, con.cursor() as cursor:
        cursor.execute(
            "create schema analytics; create schema meta_capi;"
            "create table analytics.meta_capi_events (event_id varchar, order_id varchar, event_time bigint, send_order bigint, "
            "payload varchar, payload_hash varchar, reject_reason varchar, action_source varchar, "
            f"line_count bigint, dropped_user_data varchar, {keys});"
            "create table analytics.meta_capi_rejected_lines (order_id varchar, product_id varchar, reason varchar);"
            "create table meta_capi.dbt_model_builds (invocation_id varchar, unique_id varchar, status varchar, "
            "recorded_at timestamp);"
            "insert into meta_capi.dbt_model_builds select 'inv-1', 'model.offline_conversions.' || name, 'success', "
            "now() from unnest(array['meta_capi_events', 'meta_capi_rejected_lines']) as name"
        )


def _export(tmp_path: Path, *extra: str) -> int:
    profiles = write_profile(tmp_path / "profiles")
    location = ["--target", "postgres", "--profiles-dir", str(profiles), "--project-dir", str(Path.cwd())]
    return main([*location, "--dbt-target-path", str(tmp_path / "target"), "--dry-run",
                 "--dry-run-output", str(tmp_path / "bodies.jsonl"), *extra])  # fmt: skip


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def built_models(tmp_path, exporter_database, scheduled_env):
    _manifest_for(tmp_path / "target", exporter_database)
    _create_event_models(exporter_database)
    return exporter_database


def test_an_empty_model_exports_nothing_and_records_the_run(tmp_path, built_models, capsys):
    assert _export(tmp_path, "-q") == 0, capsys.readouterr().err
    assert _rows(built_models, "select dry_run, exit_code from meta_capi.runs") == [(True, 0)]


def test_an_unreachable_server_is_exit_2_in_one_line(tmp_path, built_models, monkeypatch, capsys):
    import socket

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("PGPORT", str(port))
    assert _export(tmp_path) == 2
    line = _one_line(capsys.readouterr().err)
    assert (
        "dbt target 'postgres' of profile 'offline_conversions' is a postgres warehouse, and the exporter cannot "
        in line
    )
    assert f"connect to the PostgreSQL database {built_models['PGDATABASE']} at 127.0.0.1:{port}" in line
    assert "Check that the server is running" in line and built_models["PGPASSWORD"] not in line


def test_a_wrong_password_is_exit_2_and_never_printed(tmp_path, built_models, monkeypatch, capsys):
    monkeypatch.setenv("PGPASSWORD", "Wr0ng-7f3a9c51e2")
    assert _export(tmp_path, "-v") == 2
    err = capsys.readouterr().err
    line = _one_line("\n".join(line for line in err.splitlines() if line.startswith("ERROR")))
    assert "password authentication failed" in line and "PGPASSWORD" in line
    assert "Wr0ng-7f3a9c51e2" not in err and built_models["PGPASSWORD"] not in err


def test_a_model_not_built_is_exit_2(tmp_path, exporter_database, scheduled_env, capsys):
    _manifest_for(tmp_path / "target", exporter_database)
    with _connect(exporter_database) as con, con.cursor() as cursor:
        cursor.execute("create schema meta_capi; create table meta_capi.dbt_model_builds (invocation_id varchar, "
                       "unique_id varchar, status varchar, recorded_at timestamp)")  # fmt: skip
    assert _export(tmp_path, "--allow-unsuccessful-model") == 2
    line = _one_line(capsys.readouterr().err)
    assert "analytics.meta_capi_events is not in the PostgreSQL database: run `dbt build` first" in line


# The role is the server's, shared by every database: its tests run in one pytest-xdist worker.
ONE_READER_ROLE = pytest.mark.xdist_group("postgres_reader_role")


@pytest.fixture
def reader_role(built_models, monkeypatch):
    """A function that makes the exporter log in as a role that may connect, with only the grants
    given. A role is the server's, not the database's: it is dropped after the test (by this
    fixture only: a teardown of any other test would drop it under the one using it)."""

    def log_in_as_reader(*grants: str) -> None:
        with _connect(built_models) as con, con.cursor() as cursor:
            cursor.execute(
                "drop role if exists meta_capi_reader; create role meta_capi_reader login password 'rd-4e7c19b2'"
            )
            for grant in grants:
                cursor.execute(grant)
        monkeypatch.setenv("PGUSER", "meta_capi_reader")
        monkeypatch.setenv("PGPASSWORD", "rd-4e7c19b2")

    yield log_in_as_reader
    if postgres_rows(built_models, "select 1 from pg_roles where rolname = 'meta_capi_reader'"):
        with _connect(built_models) as con, con.cursor() as cursor:
            cursor.execute("drop owned by meta_capi_reader cascade; drop role meta_capi_reader")


@ONE_READER_ROLE
def test_a_role_that_cannot_read_the_model_is_exit_2_with_the_grants_to_give(tmp_path, reader_role, capsys):
    reader_role()
    assert _export(tmp_path) == 2
    line = _one_line(capsys.readouterr().err)
    assert "The PostgreSQL role meta_capi_reader lacks a privilege" in line and "permission denied" in line
    assert "GRANT meta_capi_reader USAGE and SELECT" in line and "rd-4e7c19b2" not in line


@ONE_READER_ROLE
def test_a_role_that_cannot_create_schema_meta_capi_is_exit_2_before_anything_is_sent(
    tmp_path, built_models, reader_role, capsys
):
    with _connect(built_models) as con, con.cursor() as cursor:
        cursor.execute("drop schema meta_capi cascade")  # the exporter's state must be created
    reader_role(
        "grant usage on schema analytics to meta_capi_reader",
        "grant select on all tables in schema analytics to meta_capi_reader",
    )
    assert _export(tmp_path, "--allow-unsuccessful-model") == 2
    line = _one_line(capsys.readouterr().err)
    assert "The PostgreSQL role meta_capi_reader lacks a privilege" in line
    assert "permission denied for database" in line and "CREATE on the database" in line
    assert not (tmp_path / "bodies.jsonl").exists()


def test_a_second_exporter_on_the_same_database_is_refused(tmp_path, built_models, capsys):
    from exporter.warehouse import POSTGRES_LOCK_KEY

    holder = _connect(built_models)
    try:
        with holder.cursor() as cursor:
            cursor.execute("select pg_advisory_lock(%s)", [POSTGRES_LOCK_KEY])
        assert _export(tmp_path) == 2
        line = _one_line(capsys.readouterr().err)
        assert "Another exporter is sending from PostgreSQL database" in line
    finally:
        holder.close()
    assert _export(tmp_path, "-q") == 0
