"""The exporter reads the warehouse dbt built, found as dbt finds it, and only a model dbt's
latest invocation built or tested successfully.

One real `dbt build` of the sample data, with a profile whose `path:` is not the default; the
exporter then runs from the project folder without --database, as a user would.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime

import duckdb
import pytest
from dbt_helpers import prepare_project, run_dbt

from exporter.cli import main

PROFILE = """\
offline_conversions:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "mine.duckdb"
      threads: 2
    other:
      type: duckdb
      path: "{{ env_var('OTHER_DUCKDB_PATH', 'other.duckdb') }}"
      threads: 1
    pg:
      type: postgres
      host: localhost
      user: nobody
      password: nothing
      port: 5432
      dbname: nowhere
      schema: main
      threads: 1
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample built by dbt into mine.duckdb (the profile's path), next to a stale warehouse.duckdb."""
    root = tmp_path_factory.mktemp("location")
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    project = prepare_project(root / "project", as_of)
    profiles = root / "profiles"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(PROFILE)
    target = root / "target"
    # run_dbt exports DBT_DUCKDB_PATH for the example profile; this profile ignores it.
    run_dbt(["build"], project, root / "unused.duckdb", target, vars={"as_of": str(as_of)}, profiles_dir=profiles)
    assert (project / "mine.duckdb").exists() and not (root / "unused.duckdb").exists()
    return project, profiles, target


@pytest.fixture
def workdir(built, tmp_path, monkeypatch, scheduled_env):
    """A copy of the built project as the working directory, and dbt's target folder."""
    project, profiles, built_target = built
    work = tmp_path / "project"
    shutil.copytree(project, work)
    target = tmp_path / "target"
    shutil.copytree(built_target, target)
    with duckdb.connect(str(work / "warehouse.duckdb")) as con:  # yesterday's file, under the default name
        con.execute("create schema if not exists main")
        con.execute("create table main.meta_offline_events as select 'stale' as order_id")
    monkeypatch.chdir(work)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(profiles))
    for name in ("DBT_TARGET", "DBT_PROFILE", "DBT_PROJECT_DIR", "OTHER_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    return work, target


def dry_run(target, tmp_path, *extra: str) -> tuple[int, dict]:
    report = tmp_path / "report.json"
    code = main(["--dry-run", "-q", "--dbt-target-path", str(target), "--report-json", str(report), *extra])
    return code, json.loads(report.read_text()) if report.exists() else {}


def model_rows(database) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("select count(*) from main.meta_offline_events").fetchone()[0]


def test_without_database_the_exporter_reads_the_file_of_dbts_profile(workdir, tmp_path):
    work, target = workdir
    code, report = dry_run(target, tmp_path)
    assert code == 0
    assert report["rows_in_model"] == model_rows(work / "mine.duckdb") > 1  # not the stale file's one row


def test_the_target_is_dbts_and_env_var_in_the_profile_is_rendered(workdir, tmp_path, monkeypatch, capsys):
    work, target = workdir
    other = tmp_path / "elsewhere.duckdb"
    shutil.copy(work / "mine.duckdb", other)
    monkeypatch.setenv("DBT_TARGET", "other")
    monkeypatch.setenv("OTHER_DUCKDB_PATH", str(other))
    # The target's file is found (through env_var), and refused: dbt built the model in mine.duckdb.
    code, _ = dry_run(target, tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    assert "dbt built main.meta_capi_events in the DuckDB database 'mine'" in err
    assert str(other) in err


def test_database_flag_naming_another_file_than_dbt_built_is_refused(workdir, tmp_path, capsys):
    work, target = workdir
    code, _ = dry_run(target, tmp_path, "--database", str(work / "warehouse.duckdb"))
    assert code == 2
    assert "in the DuckDB database 'mine', but the exporter opened" in capsys.readouterr().err


def test_database_flag_naming_the_file_dbt_built_is_used(workdir, tmp_path):
    work, target = workdir
    code, report = dry_run(target, tmp_path, "--database", str(work / "mine.duckdb"), "--profiles-dir", "/nonexistent")
    assert code == 0 and report["rows_in_model"] == model_rows(work / "mine.duckdb")


@pytest.mark.parametrize(
    ("profile_text", "message"),
    [
        ("offline_conversions: [not, a, mapping", "dbt cannot load profile 'offline_conversions'"),
        ("other_profile:\n  target: dev\n  outputs: {}\n", "Could not find profile named 'offline_conversions'"),
    ],
)
def test_a_broken_profile_fails_fast_with_dbts_reason(workdir, tmp_path, monkeypatch, capsys, profile_text, message):
    _, target = workdir
    broken = tmp_path / "broken-profiles"
    broken.mkdir()
    (broken / "profiles.yml").write_text(profile_text)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(broken))
    assert dry_run(target, tmp_path)[0] == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_profile_at_all_says_what_to_do(workdir, tmp_path, monkeypatch, capsys):
    _, target = workdir
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "empty"))
    assert dry_run(target, tmp_path)[0] == 2
    assert "Copy profiles.example.yml to profiles.yml, or pass --database" in capsys.readouterr().err


def test_an_unknown_target_is_named(workdir, tmp_path, capsys):
    _, target = workdir
    assert dry_run(target, tmp_path, "--target", "prod")[0] == 2
    assert "does not have a target named 'prod'" in capsys.readouterr().err


def test_a_postgres_target_is_read_from_postgres_not_from_a_duckdb_file(workdir, tmp_path, capsys):
    """--target pg selects the PostgreSQL warehouse of the profile (here one nobody listens for):
    the exporter connects there, and says so, rather than reading some DuckDB file."""
    _, target = workdir
    assert dry_run(target, tmp_path, "--target", "pg")[0] == 2
    err = capsys.readouterr().err
    assert "target 'pg' of profile 'offline_conversions' is a postgres warehouse" in err
    assert "cannot connect" in err and "nothing" not in err and "Traceback" not in err  # `nothing`: the password


# --- what dbt's latest invocation did with the model -------------------------------------------

MODEL_ID = "model.offline_conversions.meta_capi_events"  # the model the exporter reads


def write_run_results(target, which: str, statuses: dict[str, str], invocation_id: str | None = None) -> None:
    """run_results.json as dbt writes it after `dbt <which>`, by default for a new invocation."""
    results = [{"unique_id": unique_id, "status": status} for unique_id, status in statuses.items()]
    metadata = {"invocation_id": invocation_id or str(uuid.uuid4())}
    (target / "run_results.json").write_text(
        json.dumps({"metadata": metadata, "args": {"which": which}, "results": results})
    )


def recorded_builds(database) -> list[tuple[str, str]]:
    """(invocation_id, status) of the model's builds in the warehouse's build log, oldest first."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            "select invocation_id, status from meta_capi.dbt_model_builds where unique_id = ? order by recorded_at",
            [MODEL_ID],
        ).fetchall()


def model_tests(target) -> list[str]:
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    return [unique_id for unique_id, node in nodes.items() if MODEL_ID in node.get("depends_on", {}).get("nodes", ())]


def test_a_later_dbt_test_that_passed_on_the_model_is_trusted(workdir, tmp_path):
    _, target = workdir
    write_run_results(target, "test", {test_id: "pass" for test_id in model_tests(target)})
    assert dry_run(target, tmp_path)[0] == 0


def test_a_failed_error_test_of_the_model_is_refused(workdir, tmp_path, capsys):
    _, target = workdir
    tests = model_tests(target)
    failing = next(test_id for test_id in tests if "not_null" in test_id)
    write_run_results(target, "test", {test_id: "fail" if test_id == failing else "pass" for test_id in tests})
    assert dry_run(target, tmp_path)[0] == 2
    assert "failed tests of meta_capi_events: not_null_" in capsys.readouterr().err


@pytest.mark.parametrize("which", ["seed", "test", "compile", "show", "run-operation"])
def test_an_invocation_that_neither_built_nor_tested_the_model_leaves_the_build_log_to_decide(
    workdir, tmp_path, capsys, which
):
    work, target = workdir
    write_run_results(target, which, {"seed.offline_conversions.customer_360": "success"})
    assert dry_run(target, tmp_path)[0] == 0  # the latest recorded build succeeded

    with duckdb.connect(str(work / "mine.duckdb")) as con:  # a later `dbt run` failed
        con.execute(
            "insert into meta_capi.dbt_model_builds values (?, ?, 'error', now()::timestamp)",
            [str(uuid.uuid4()), MODEL_ID],
        )
    assert dry_run(target, tmp_path)[0] == 2
    assert "ended with status 'error', so the table is an older one" in capsys.readouterr().err
    assert dry_run(target, tmp_path, "--allow-unsuccessful-model")[0] == 0


@pytest.mark.parametrize("command", [["compile"], ["docs", "generate"], ["show", "--select", "meta_offline_events"]])
def test_compiling_after_a_build_is_no_reason_to_refuse(built, workdir, tmp_path, command):
    """dbt compile, docs generate and show rewrite run_results.json with "success" for every node
    they compiled, tests included: neither a build nor a test outcome."""
    work, target = workdir
    _, profiles, _ = built
    run_dbt(command, work, tmp_path / "unused.duckdb", target, profiles_dir=profiles)
    assert json.loads((target / "run_results.json").read_text())["args"]["which"] == {"docs": "generate"}.get(
        command[0], command[0]
    )
    assert dry_run(target, tmp_path)[0] == 0


def test_no_run_results_is_refused(workdir, tmp_path, capsys):
    _, target = workdir
    (target / "run_results.json").unlink()
    assert dry_run(target, tmp_path)[0] == 2
    assert "nothing says the model was built" in capsys.readouterr().err


def test_a_failed_build_hidden_by_a_later_passing_dbt_test_is_refused(built, workdir, tmp_path, capsys):
    work, target = workdir
    _, profiles, _ = built
    model_sql = work / "models" / "marts" / "meta_offline_events.sql"
    model_sql.write_text(model_sql.read_text().replace("select * from final", "select no_such_column from final"))
    failed = run_dbt(["run"], work, tmp_path / "unused.duckdb", target, profiles_dir=profiles, check=False)
    assert failed.returncode == 1
    run_dbt(
        ["test", "--select", "meta_offline_events", "--exclude-resource-type", "unit_test"],
        work,
        tmp_path / "unused.duckdb",
        target,
        profiles_dir=profiles,
    )
    assert json.loads((target / "run_results.json").read_text())["args"]["which"] == "test"

    assert dry_run(target, tmp_path)[0] == 2
    assert "so the table is an older one" in capsys.readouterr().err  # skipped: built on a failed model
    with duckdb.connect(str(work / "mine.duckdb"), read_only=True) as con:
        statuses = con.execute(
            "select status, count(*) from meta_capi.dbt_model_builds group by status order by status"
        ).fetchall()
    assert statuses[0][0] == "error" and statuses[-1][0] == "success"  # the first build, then this one


def test_another_targets_file_of_the_same_name_is_refused(workdir, tmp_path, monkeypatch, capsys):
    """dbt built the model in mine.duckdb; the exporter is pointed (DBT_TARGET) at another target whose
    file is also called mine.duckdb, built by an earlier invocation: the catalog names agree, the
    invocations do not."""
    work, target = workdir
    other = tmp_path / "other" / "mine.duckdb"
    other.parent.mkdir()
    shutil.copy(work / "mine.duckdb", other)
    with duckdb.connect(str(other)) as con:  # as that target's own, earlier build recorded it
        con.execute("update meta_capi.dbt_model_builds set invocation_id = ?", [str(uuid.uuid4())])
    monkeypatch.setenv("DBT_TARGET", "other")
    monkeypatch.setenv("OTHER_DUCKDB_PATH", str(other))

    assert dry_run(target, tmp_path)[0] == 2
    err = capsys.readouterr().err
    assert f"dbt's latest invocation (dbt build) built main.meta_capi_events, but not in {other}" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.delenv("DBT_TARGET")
    assert dry_run(target, tmp_path)[0] == 0  # the file dbt built


def test_a_build_the_warehouse_has_no_record_of_is_refused(workdir, tmp_path, capsys):
    """run_results.json says an invocation built the model, but the build log in the warehouse has
    no record of it: dbt's on-run-end hook did not run (the command stopped before it), so the
    table may be an older one."""
    work, target = workdir
    run_results = json.loads((target / "run_results.json").read_text())
    [(built_by, _)] = recorded_builds(work / "mine.duckdb")
    assert run_results["metadata"]["invocation_id"] == built_by  # as `dbt build` left them
    run_results["metadata"]["invocation_id"] = str(uuid.uuid4())
    (target / "run_results.json").write_text(json.dumps(run_results))

    assert dry_run(target, tmp_path)[0] == 2
    err = capsys.readouterr().err
    assert "built main.meta_capi_events, but not in" in err and "that build was not recorded" in err
    assert dry_run(target, tmp_path, "--allow-unsuccessful-model")[0] == 0


def test_a_warehouse_without_a_recorded_build_is_refused(workdir, tmp_path, capsys):
    work, target = workdir
    with duckdb.connect(str(work / "mine.duckdb")) as con:
        con.execute("drop table meta_capi.dbt_model_builds")
    assert dry_run(target, tmp_path)[0] == 2
    assert "holds no record of a dbt build of main.meta_capi_events" in capsys.readouterr().err
