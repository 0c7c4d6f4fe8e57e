"""Configuration mistakes fail fast with exit 2 and say what to do; --help is actionable."""

from __future__ import annotations

import json

import pytest
from conftest import TOKEN, order_lines
from dbt_helpers import DbtError

from exporter.cli import main


def test_help_lists_environment_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for text in ("META_ACCESS_TOKEN", "META_DATASET_ID", "--dry-run", "--max-rejected", "exit codes", "token refresh"):
        assert text in out


@pytest.mark.parametrize(
    "env_changes, args, message",
    [
        ({"META_ACCESS_TOKEN": None}, [], "No access token: export META_ACCESS_TOKEN"),
        ({"META_DATASET_ID": None}, [], "No dataset id: set META_DATASET_ID"),
        ({}, ["--dataset-id", "pixel-1"], "numeric id"),
        ({}, ["--batch-size", "1001"], "between 1 and 1000"),
        ({}, ["--max-rejected", "lots"], "--max-rejected takes"),
        ({}, ["--api-version", "26"], "looks like v26.0"),
    ],
)
def test_configuration_errors_exit_2_with_what_to_do(
    model, export_env, monkeypatch, capsys, env_changes, args, message
):
    model.write(order_lines(1))
    for name in env_changes:
        monkeypatch.delenv(name)
    assert export_env(model, *args) == 2
    assert message in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error(capsys):
    assert main(["--no-such-flag"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_model_not_built(model, export_env, capsys):
    (model.target / "manifest.json").unlink()
    assert export_env(model) == 2
    assert "run `dbt run`" in capsys.readouterr().err


def test_table_missing_from_the_database(model, export_env, capsys):
    model.write([])
    model.query("drop table main.meta_capi_events")
    assert export_env(model) == 2
    assert "main.meta_capi_events is not in the DuckDB file: run `dbt build` first" in capsys.readouterr().err


def test_an_events_table_of_another_release_is_refused_before_anything_is_sent(model, meta, export_env, capsys):
    model.write(order_lines(1))
    model.query("alter table main.meta_capi_events drop column has_em")
    assert export_env(model) == 2
    assert "lacks column(s) has_em" in capsys.readouterr().err
    assert meta.requests == []


def test_database_file_missing(model, export_env, capsys):
    assert export_env(model) == 2
    assert "No DuckDB file at" in capsys.readouterr().err
    assert not model.database.exists()  # the exporter must not create an empty one


def test_missing_required_column_is_named_by_dbt(model):
    model.write(order_lines(1), build=False)
    model.query("alter table main.meta_offline_events drop column currency")
    with pytest.raises(DbtError, match="has no column currency, which is required"):
        model.build_events()


def test_unknown_model_name(model, export_env, capsys):
    model.write(order_lines(1))
    assert export_env(model, "--model", "nope") == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def test_model_whose_last_dbt_run_failed_is_refused_unless_allowed(model, meta, export_env, capsys):
    model.write(order_lines(1))
    results = {
        "metadata": {"invocation_id": "00000000-0000-4000-8000-000000000002"},
        "args": {"which": "run"},
        "results": [{"unique_id": "model.offline_conversions.meta_capi_events", "status": "error"}],
    }
    (model.target / "run_results.json").write_text(json.dumps(results))
    assert export_env(model) == 2
    assert "ended with status 'error'" in capsys.readouterr().err
    assert export_env(model, "--allow-unsuccessful-model") == 0
    assert len(meta.accepted_events) == 1


def test_the_token_never_appears_in_any_output(model, meta, export_env, tmp_path, capsys):
    model.write(order_lines(3))
    meta.expire_token(after=0)
    report = tmp_path / "r.json"
    assert export_env(model, "-v", "--report-json", str(report)) == 2
    output = capsys.readouterr()
    everything = output.out + output.err + report.read_text() + str(model.query("from meta_capi.runs"))
    assert TOKEN not in everything
    assert not any(TOKEN in line for line in meta.request_lines)


# ---------------------------------------------------------------- every flag checked up front
@pytest.mark.parametrize(
    "env_changes, args, message",
    [
        ({}, ["--batch-size", "0"], "--batch-size must be between 1 and 1000"),
        ({}, ["--concurrency", "0"], "--concurrency must be"),
        ({}, ["--timeout", "-5"], "--timeout must be"),
        ({}, ["--timeout", "0"], "--timeout must be"),
        ({}, ["--timeout", "nan"], "--timeout must be"),
        ({}, ["--max-tries", "0"], "--max-tries must be"),
        ({}, ["--retry-budget", "-1"], "--retry-budget must be"),
        ({}, ["--retry-budget", "inf"], "--retry-budget must be"),
        ({}, ["--first-retry-wait", "-0.5"], "--first-retry-wait must be"),
        ({}, ["--progress-every", "0"], "--progress-every must be a number of more than 0"),
        ({}, ["--progress-every", "-1"], "--progress-every must be"),
        ({}, ["--duckdb-memory-limit", "lots"], "--duckdb-memory-limit takes"),
        ({}, ["--duckdb-memory-limit=-1GB"], "--duckdb-memory-limit takes"),
        ({}, ["--max-rejected", "150%"], "--max-rejected"),
        ({}, ["--timeout", "soon"], "--timeout"),
        ({"META_DATASET_ID": "²"}, [], "ASCII digits"),
        ({"META_DATASET_ID": "１２３"}, [], "ASCII digits"),
        ({}, ["--dataset-id", "١٢٣"], "ASCII digits"),
        ({}, ["--api-version", "v٢٦.٠"], "looks like v26.0"),
        ({}, ["--api-version", "v26.0\n"], "looks like v26.0"),
        ({"META_GRAPH_URL": "ftp://graph.facebook.com"}, [], "--graph-url"),
        ({"META_GRAPH_URL": "https://user:pw@graph.facebook.com"}, [], "--graph-url"),
    ],
)
def test_every_flag_is_checked_before_anything_happens(
    model, meta, export_env, monkeypatch, capsys, env_changes, args, message
):
    model.write(order_lines(1))
    for name, value in env_changes.items():
        monkeypatch.setenv(name, value)

    assert export_env(model, *args) == 2

    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert meta.requests == []
    exporter_tables = "select count(*) from information_schema.tables where table_schema = 'meta_capi' and table_name <> 'dbt_model_builds'"
    assert model.query(exporter_tables) == [(0,)]  # dbt's build log is there, nothing of the exporter's


@pytest.mark.parametrize(
    "args",
    [
        ["--duckdb-memory-limit", "1.5 GiB", "--max-rejected", "100%"],
        ["--duckdb-memory-limit", "512mb", "--retry-budget", "0", "--first-retry-wait", "0"],
    ],
)
def test_valid_flag_values_in_their_other_spellings_are_taken(model, meta, export_env, args):
    model.write(order_lines(2))
    assert export_env(model, "-q", *args) == 0
    assert len(meta.accepted_events) == 2


def test_the_memory_limit_is_never_pasted_into_sql(model, meta, export_env, capsys):
    model.write(order_lines(2))
    attack = "256MB'; drop table main.meta_offline_events; select '1"

    assert export_env(model, "--duckdb-memory-limit", attack) == 2

    assert "--duckdb-memory-limit takes" in capsys.readouterr().err
    assert model.query("select count(*) from main.meta_offline_events") == [(3,)]  # still there
    assert meta.requests == []


def test_the_memory_limit_reaches_duckdb(model, meta, export_env, monkeypatch):
    import duckdb

    seen = []
    real_connect = duckdb.connect

    def connect(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        seen.append(con.execute("select current_setting('memory_limit')").fetchone()[0])
        return con

    model.write(order_lines(1))
    monkeypatch.setattr(duckdb, "connect", connect)
    assert export_env(model, "-q", "--duckdb-memory-limit", "100MB") == 0
    assert seen == ["95.3 MiB"]
