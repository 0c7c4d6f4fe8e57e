"""The meta_capi state has a version: older files are migrated, files the exporter cannot use stop it.

Every check happens before the first request, so Meta never accepts events the exporter then
cannot log (which would make every rerun send everything again).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest
from conftest import DATASET, order_lines

from exporter import migrations

# The meta_capi tables exactly as the release before schema versions created them.
PREVIOUS_RELEASE_DDL = """
create schema if not exists meta_capi;
create table if not exists meta_capi.send_log (
    dataset_id varchar not null,
    event_id varchar not null,
    order_id varchar not null,
    payload_hash varchar not null,
    run_id varchar not null,
    fbtrace_id varchar,
    sent_at timestamp not null,
    is_test boolean not null default false
);
create table if not exists meta_capi.runs (
    run_id varchar primary key,
    dataset_id varchar not null,
    model varchar,
    started_at timestamp not null,
    finished_at timestamp,
    dry_run boolean not null,
    is_test boolean not null,
    rows_read bigint,
    rows_rejected bigint,
    events_built bigint,
    events_skipped bigint,
    events_sent bigint,
    events_accepted bigint,
    events_rejected_by_meta bigint,
    events_undelivered bigint,
    batches bigint,
    retries bigint,
    exit_code integer,
    completed boolean not null default false,
    error varchar
);
create table if not exists meta_capi.rejected_rows (
    run_id varchar not null,
    order_id varchar,
    product_id varchar,
    stage varchar not null,
    reason varchar not null,
    message varchar,
    rejected_at timestamp not null
);
"""


def payload_hashes(export_env, model, tmp_path) -> dict[str, str]:
    """The payload hash of each order's event, from the bodies a dry run writes."""
    bodies = tmp_path / "bodies.jsonl"
    assert export_env(model, "-q", "--dry-run", "--dry-run-output", str(bodies)) == 0
    hashes = {}
    for line in bodies.read_text().splitlines():
        for event in json.loads(line)["data"]:
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            hashes[event["custom_data"]["order_id"]] = hashlib.sha256(text.encode()).hexdigest()
    return hashes


def previous_release_file(model, sent: dict[str, str]) -> None:
    """The state the previous release left: a completed run that sent `sent` (order_id -> payload hash)."""
    model.query(PREVIOUS_RELEASE_DDL)
    when = datetime(2026, 11, 20, 4, 0)
    model.query(
        "insert into meta_capi.runs (run_id, dataset_id, model, started_at, finished_at, dry_run, is_test, "
        f"exit_code, completed) values ('old-run', '{DATASET}', 'meta_offline_events', '{when}', '{when}', "
        "false, false, 0, true)"
    )
    for order_id, payload_hash in sent.items():
        model.query(
            "insert into meta_capi.send_log values "
            f"('{DATASET}', '{order_id}', '{order_id}', '{payload_hash}', 'old-run', 'Atrace', '{when}', false)"
        )


def test_a_file_from_the_previous_release_is_migrated_and_its_log_honoured(model, meta, export_env, tmp_path):
    model.write(order_lines(10))
    hashes = payload_hashes(export_env, model, tmp_path)
    model.query("drop schema meta_capi cascade")
    model.record_build()
    previous_release_file(model, {order: hashes[order] for order in sorted(hashes)[:6]})

    assert export_env(model, "-q") == 0

    # Only the orders the previous release had not sent.
    assert sorted(e["custom_data"]["order_id"] for e in meta.accepted_events) == sorted(hashes)[6:]
    assert model.query("select max(version) from meta_capi.schema_version") == [(migrations.SCHEMA_VERSION,)]
    assert model.query("select count(*) from meta_capi.send_log where run_id = 'old-run'") == [(6,)]
    runs = model.query("select run_id, completed, exit_code from meta_capi.runs order by started_at")
    assert runs[0] == ("old-run", True, 0) and runs[1][1:] == (True, 0)


def test_a_new_file_is_created_at_the_current_version(model, meta, export_env):
    model.write(order_lines(2))
    assert export_env(model, "-q") == 0
    assert model.query("select max(version) from meta_capi.schema_version") == [(migrations.SCHEMA_VERSION,)]
    assert export_env(model, "-q") == 0  # and opened again without change
    assert model.query("select count(*) from meta_capi.schema_version") == [(migrations.SCHEMA_VERSION,)]


def test_an_extra_column_that_may_stay_empty_is_kept(model, meta, export_env):
    lines = order_lines(5)
    model.write([line for line in lines if line["order_id"] < "ord-000003"])
    assert export_env(model, "-q") == 0
    model.query("alter table meta_capi.send_log add column note varchar")
    model.write(lines)

    assert export_env(model, "-q") == 0

    assert model.query("select count(*), count(note) from meta_capi.send_log") == [(5, 0)]


@pytest.mark.parametrize(
    "change, message",
    [
        ("alter table meta_capi.send_log drop column fbtrace_id", "meta_capi.send_log lacks column(s) fbtrace_id"),
        ("alter table meta_capi.runs drop column completed", "meta_capi.runs lacks column(s) completed"),
        (
            "alter table meta_capi.send_log add column note varchar default 'x'; "
            "alter table meta_capi.send_log alter column note drop default; "
            "alter table meta_capi.send_log alter column note set not null",
            "cannot write to meta_capi",
        ),
        ("alter table meta_capi.rejected_rows alter column reason type integer", "meta_capi.rejected_rows"),
        ("drop table meta_capi.rejected_rows", "meta_capi.rejected_rows is missing"),
        ("insert into meta_capi.schema_version values (99, now())", "version 99"),
    ],
)
def test_a_schema_the_exporter_cannot_use_stops_before_the_first_request(
    model, meta, export_env, tmp_path, capsys, change, message
):
    model.write(order_lines(3))
    assert export_env(model, "-q") == 0
    model.query(change)
    model.write(order_lines(5))
    meta.reset()
    capsys.readouterr()

    assert export_env(model, "-q", "--report-json", str(tmp_path / "r.json")) == 2

    assert meta.requests == []
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert model.query("select count(*) from meta_capi.send_log") == [(3,)]


def test_a_file_from_the_previous_release_missing_a_table_stops_before_the_first_request(
    model, meta, export_env, capsys
):
    model.write(order_lines(3))
    previous_release_file(model, {})
    model.query("drop table meta_capi.runs")

    assert export_env(model, "-q") == 2

    assert "meta_capi.runs is missing" in capsys.readouterr().err
    assert meta.requests == []
    assert model.query("select count(*) from information_schema.tables where table_name = 'schema_version'") == [(0,)]
