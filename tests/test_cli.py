"""Configuration mistakes fail fast with exit 2 and say what to do; --help is actionable."""

from __future__ import annotations

import json

import pytest
from conftest import TOKEN, order_lines

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
    model.query("drop table main.meta_offline_events")
    assert export_env(model) == 2
    assert "is not in the DuckDB file: run `dbt run` first" in capsys.readouterr().err


def test_database_file_missing(model, export_env, capsys):
    assert export_env(model) == 2
    assert "No DuckDB file at" in capsys.readouterr().err
    assert not model.database.exists()  # the exporter must not create an empty one


def test_missing_required_column_is_named(model, export_env, capsys):
    model.write(order_lines(1))
    model.query("alter table main.meta_offline_events drop column currency")
    assert export_env(model) == 2
    assert "lacks required column(s): currency" in capsys.readouterr().err


def test_unknown_model_name(model, export_env, capsys):
    model.write(order_lines(1))
    assert export_env(model, "--model", "nope") == 2
    assert "no model named 'nope'" in capsys.readouterr().err


def test_model_whose_last_dbt_run_failed_is_refused_unless_allowed(model, meta, export_env, capsys):
    model.write(order_lines(1))
    results = {"results": [{"unique_id": "model.offline_conversions.meta_offline_events", "status": "error"}]}
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
