"""`python -m exporter history` and `rejected`: past runs and rejections, read from meta_capi."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import DATASET, TOKEN, order_lines

from exporter.cli import main


def run_command(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_history_and_rejected_show_the_runs_and_their_reasons(model, export_env, capsys):
    lines = order_lines(6)
    for line in lines:
        if line["order_id"] in ("ord-000001", "ord-000004") and line["product_id"] == "sku-0":
            line["currency"] = "US$"
    model.write(lines)
    assert export_env(model, "--dry-run", "-q") == 0
    assert export_env(model, "-q") == 0
    capsys.readouterr()

    code, text = run_command(capsys, "history", "--database", str(model.database))
    assert code == 0
    rows = text.splitlines()
    assert rows[0].split()[:3] == ["started", "(UTC)", "kind"]
    real, dry = rows[1], rows[2]  # newest first
    assert real.split()[2:4] == ["real", "✓"] and dry.split()[2:4] == ["dry", "run"]
    # rows read, rejected, built, skipped, sent, accepted, rejected by Meta, undelivered, exit code
    assert real.split()[5:14] == ["12", "4", "4", "0", "4", "4", "0", "0", "0"]
    assert len(real) == len(dry)  # aligned: the run ids end every row

    code, text = run_command(capsys, "history", "--json", "-n", "1", "--database", str(model.database))
    runs = json.loads(text)["runs"]
    assert len(runs) == 1 and runs[0]["events_accepted"] == 4 and runs[0]["completed"] is True

    code, text = run_command(capsys, "rejected", "--database", str(model.database))
    assert code == 0
    assert text.splitlines()[0] == f"Run {runs[0]['run_id']}:"
    by_reason = {row.split()[1]: row.split()[2:] for row in text.splitlines()[2:]}
    assert by_reason["invalid_currency"] == ["2", "ord-000001,", "ord-000004"]
    assert by_reason["order_has_rejected_line"] == ["2", "ord-000001,", "ord-000004"]

    code, text = run_command(capsys, "rejected", "--json", "--database", str(model.database))
    reasons = {reason["reason"]: reason for reason in json.loads(text)["reasons"]}
    assert reasons["invalid_currency"]["example_order_ids"] == ["ord-000001", "ord-000004"]

    everything = str(model.query("from meta_capi.runs")) + text
    assert TOKEN not in everything and "example.com" not in everything.lower()


def test_rejected_of_an_unknown_run_says_where_to_look(model, export_env, capsys):
    model.write(order_lines(1))
    assert export_env(model, "-q") == 0
    assert main(["rejected", "--run", "nope", "--database", str(model.database)]) == 2
    assert "`python -m exporter history` lists the runs" in capsys.readouterr().err


def test_a_warehouse_without_runs_yet(model, capsys):
    model.write(order_lines(1))
    assert run_command(capsys, "history", "--database", str(model.database)) == (0, "No exporter runs recorded yet.\n")
    assert run_command(capsys, "rejected", "--database", str(model.database)) == (
        0,
        "No exporter run has read rows yet.\n",
    )
    assert main(["history", "--database", str(model.database.with_name("nothing.duckdb"))]) == 2


def test_match_key_coverage_is_reported_stored_and_shown_per_run(model, export_env, tmp_path, capsys):
    lines = order_lines(10)
    for line in lines:
        if line["order_id"] >= "ord-000005":  # half the orders' customers lost their phone and city
            line["phone"] = "not a phone"
            line["city"] = None
    model.write(lines)
    report_path = tmp_path / "report.json"
    assert export_env(model, "--report-json", str(report_path)) == 0
    summary = capsys.readouterr().err
    assert "match keys per event    em 100%  ph 50%  fn 100%  ln 100%  db 0%  ge 100%" in summary
    assert "(share of events sent)  ct 50%  st 100%  zp 100%  country 100%  external_id 100%" in summary
    report = json.loads(report_path.read_text())
    assert report["match_key_coverage"]["ph"] == 0.5 and report["match_key_coverage"]["em"] == 1.0
    assert report["dropped_user_data"] == {"ph": {"not_a_valid_number": 5}}  # distinct customers
    stored = model.query("select match_key_events, dropped_user_data from meta_capi.runs")
    assert json.loads(stored[0][0])["ph"] == 5 and json.loads(stored[0][1]) == report["dropped_user_data"]

    code, text = run_command(capsys, "history", "--coverage", "--database", str(model.database))
    assert code == 0
    header, row = text.splitlines()[:2]
    assert header.split() == ["started", "(UTC)", "kind", "sent", "em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id"]  # fmt: skip
    assert row.split()[2:] == ["real", "✓", "10", "100%", "50%", "100%", "100%", "0%", "100%", "50%", "100%", "100%", "100%", "100%"]  # fmt: skip


def test_dataset_id_is_checked_and_defaults_to_meta_dataset_id(model, export_env, monkeypatch, capsys):
    model.write(order_lines(1))
    assert export_env(model, "-q") == 0
    database = ["--database", str(model.database)]
    capsys.readouterr()

    monkeypatch.setenv("META_DATASET_ID", DATASET)
    code, text = run_command(capsys, "history", "--json", *database)
    assert code == 0 and [run["dataset_id"] for run in json.loads(text)["runs"]] == [DATASET]
    monkeypatch.setenv("META_DATASET_ID", "987654321")  # another dataset: none of its runs
    assert run_command(capsys, "history", *database) == (0, "No exporter runs recorded yet.\n")
    assert run_command(capsys, "history", "--dataset-id", DATASET, *database)[0] == 0  # the flag wins

    for bad in (["--dataset-id", "pixel-1"], ["--dataset-id", "１２３"]):
        assert main(["history", *bad, *database]) == 2
        err = capsys.readouterr().err
        assert "must be ASCII digits" in err and len(err.strip().splitlines()) == 1, err
    monkeypatch.setenv("META_DATASET_ID", "²")
    assert main(["history", *database]) == 2
    assert "META_DATASET_ID" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["history", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["history", "-n", "many"], "argument -n/--last: invalid int value: 'many'"),
        (["rejected", "--run"], "argument --run: expected one argument"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"python -m exporter {argv[0]}: {message} (see --help)\n"


def test_a_file_in_use_by_a_writer_is_one_line(model, capsys):
    model.write(order_lines(1))
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(model.database)!r}); "
         "print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        for command in ("history", "rejected"):
            assert main([command, "--database", str(model.database)]) == 2
            err = capsys.readouterr().err
            assert "is in use by another process (a dbt run or another exporter)" in err
            assert len(err.strip().splitlines()) == 1 and "Conflicting lock" not in err, err
    finally:
        holder.communicate("")


@pytest.mark.parametrize("flag", ["-v", "-q", "--verbose"])
def test_logging_flags_may_come_before_the_subcommand(model, capsys, flag):
    model.write(order_lines(1))
    assert run_command(capsys, flag, "history", "--database", str(model.database)) == (
        0,
        "No exporter runs recorded yet.\n",
    )
    assert run_command(capsys, flag, "rejected", "--database", str(model.database))[0] == 0
