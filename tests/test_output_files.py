"""Files the exporter writes: in place by rename, never through a symlink, private when they hold secrets."""

from __future__ import annotations

import json
import os
import stat

import pytest
from conftest import order_lines

from exporter.cli import main


def mode(path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def victim(tmp_path):
    """A file a symlink at an output path points to: it must stay as it is."""
    path = tmp_path / "elsewhere" / "precious.txt"
    path.parent.mkdir()
    path.write_text("keep me\n")
    os.chmod(path, 0o644)
    return path


def test_report_json_replaces_a_symlink_instead_of_writing_through_it(model, meta, export_env, tmp_path, victim):
    model.write(order_lines(2))
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    report.symlink_to(victim)

    assert export_env(model, "-q", "--report-json", str(report)) == 0

    assert victim.read_text() == "keep me\n"
    assert not report.is_symlink()
    assert json.loads(report.read_text())["events_accepted"] == 2
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json"]  # no temporary file left


def test_dry_run_bodies_are_private_and_replace_a_symlink(model, export_env, tmp_path, victim):
    model.write(order_lines(2))
    bodies = tmp_path / "out" / "bodies.jsonl"
    bodies.parent.mkdir()
    bodies.symlink_to(victim)

    assert export_env(model, "-q", "--dry-run", "--dry-run-output", str(bodies)) == 0

    assert victim.read_text() == "keep me\n"
    assert not bodies.is_symlink()
    assert mode(bodies) == 0o600  # hashed customer data
    assert len(json.loads(bodies.read_text())["data"]) == 2
    assert sorted(p.name for p in bodies.parent.iterdir()) == ["bodies.jsonl"]


def test_a_refreshed_token_replaces_a_symlink_and_is_private(meta, token_env, monkeypatch, tmp_path, victim):
    token_env("app-secret-1")
    output = tmp_path / "secure" / "meta_token"
    output.parent.mkdir()
    output.symlink_to(victim)

    assert main(["token", "refresh", "--output", str(output)]) == 0

    assert victim.read_text() == "keep me\n"
    assert not output.is_symlink()
    assert output.read_text().strip() in meta.issued_tokens
    assert mode(output) == 0o600


def test_an_existing_token_file_is_replaced_whole_and_stays_private(meta, token_env, monkeypatch, tmp_path):
    token_env("app-secret-1")
    output = tmp_path / "meta_token"
    output.write_text("an old token that was much longer than the new one will be" * 10)
    os.chmod(output, 0o644)

    assert main(["token", "refresh", "--output", str(output)]) == 0

    assert output.read_text().strip() in meta.issued_tokens
    assert mode(output) == 0o600


@pytest.mark.parametrize("flag", ["--report-json", "--dry-run-output"])
def test_an_output_path_that_is_a_folder_is_refused_before_the_run(model, meta, export_env, tmp_path, capsys, flag):
    model.write(order_lines(2))
    folder = tmp_path / "a_folder"
    folder.mkdir()

    assert export_env(model, "-q", flag, str(folder)) == 2

    err = capsys.readouterr().err
    assert flag in err and str(folder) in err
    assert "Traceback" not in err
    assert meta.requests == []


def test_dry_run_bodies_go_to_dbts_target_folder_of_the_project(model, export_env, tmp_path, monkeypatch, capsys):
    """Run from elsewhere with --project-dir: the bodies land in the project's target folder, as
    dbt's own artifacts do, not in a `target` folder of the working directory."""
    model.write(order_lines(2))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert export_env(model, "--dry-run", "--project-dir", str(tmp_path), "--dbt-target-path", "target") == 0

    [bodies] = (model.target / "meta_capi").glob("dry_run_*.jsonl")
    assert str(bodies) in capsys.readouterr().err
    assert list(elsewhere.iterdir()) == []
