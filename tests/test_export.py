"""The exporter end to end: a DuckDB model table -> python -m exporter -> a fake Meta on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from conftest import DATASET, TOKEN, order_lines
from fake_meta import appsecret_proof, sha256_hex

from exporter.dbt_artifacts import ModelRelation
from exporter.state import PROBE_RUN_ID, Accepted, StateStore
from exporter.warehouse import DuckDBTarget, DuckDBWarehouse


def accepted_order_ids(meta) -> list[str]:
    return [event["custom_data"]["order_id"] for event in meta.accepted_events]


def test_events_go_oldest_first_then_by_order_id_in_code_point_order(model, meta, export_env):
    """The model's send_order: the same requests on every engine, whatever its text collation
    (en_US would put "a-2" after "a1" and "b" before "C")."""
    lines = [line for line in order_lines(5) if line["quantity"] == 1]  # one line per order
    older = lines[0]["timestamp"] - timedelta(hours=1)
    for line, order_id in zip(lines, ["b", "C", "a1", "a-2", "é"], strict=True):
        line["order_id"] = order_id
    lines[4]["timestamp"] = older
    model.write(lines)

    assert export_env(model, "--batch-size", "2", "--concurrency", "1") == 0  # requests in send order

    assert accepted_order_ids(meta) == ["é", "C", "a-2", "a1", "b"]


@pytest.mark.parametrize("page_rows", [1, 3, 10_000])
def test_events_read_a_page_at_a_time_come_as_when_sorted_whole(model, monkeypatch, page_rows):
    """DuckDB reads the pending events a page at a time, by rowid (it cannot sort millions of
    payloads whole in its memory limit): the same events, in the same order, with the
    already-sent ones left out of the pages."""
    lines = order_lines(40)
    for line in lines:  # event times out of order_id order
        line["timestamp"] -= timedelta(minutes=int(line["order_id"][4:]) * 7 % 11)
    model.write(lines)
    events = ModelRelation("main", "meta_capi_events")
    started = datetime.now(UTC).replace(tzinfo=None)
    wh = DuckDBWarehouse.open(DuckDBTarget(model.database), read_only=False)
    try:
        state = StateStore(wh, DATASET, "run-1", False)
        state.prepare(started)
        sent = wh.execute(
            "select event_id, order_id, payload_hash from main.meta_capi_events where send_order % 4 = 0"
        ).fetchall()
        state.record_accepted([Accepted(*row, None, started) for row in sent])
        now = int(time.time())
        by_pages = list(state.pending_events(events, now, resend=False, page_rows=page_rows))
        monkeypatch.setattr(DuckDBWarehouse, "sorts_long_rows", True)
        sorted_whole = list(state.pending_events(events, now, resend=False))
        times = dict(wh.execute("select order_id, event_time from main.meta_capi_events").fetchall())
    finally:
        wh.close()

    assert by_pages == sorted_whole
    unsent = set(times) - {order_id for _, order_id, _ in sent}
    assert len(unsent) == 30
    assert [event.order_id for event in by_pages] == sorted(unsent, key=lambda order_id: (times[order_id], order_id))


def test_one_event_per_order_exactly_as_meta_expects(model, meta, export_env, tmp_path):
    lines = order_lines(3)
    model.write(lines)
    report_path = tmp_path / "report.json"

    assert export_env(model, "--report-json", str(report_path)) == 0

    first = lines[0]
    event_time = int(first["timestamp"].replace(tzinfo=UTC).timestamp())  # naive = UTC
    user_data = {
        "em": sha256_hex("customer.0@example.com"),
        "ph": sha256_hex("12065550000"),
        "fn": sha256_hex("zoë"),
        "ln": sha256_hex("obrien"),
        "ge": sha256_hex("f"),
        "ct": sha256_hex("seattle"),
        "st": sha256_hex("wa"),
        "zp": sha256_hex("98101"),
        "country": sha256_hex("us"),
        "external_id": sha256_hex("amp-0000"),
    }
    assert meta.accepted_events[0] == {
        "event_name": "Purchase",
        "event_time": event_time,
        "action_source": "physical_store",
        "event_id": "ord-000000",
        "user_data": user_data,
        "custom_data": {
            "currency": "USD",
            "value": 10.0,
            "contents": [{"id": "sku-0", "quantity": 1, "item_price": 10.0}],
            "order_id": "ord-000000",
            "num_items": 1,
            "content_type": "product",
        },
    }
    assert meta.accepted_events[2]["custom_data"] == {
        "currency": "USD",
        "value": 10.0 + 2 * 11.0 + 3 * 12.0,
        "contents": [
            {"id": "sku-0", "quantity": 1, "item_price": 10.0},
            {"id": "sku-1", "quantity": 2, "item_price": 11.0},
            {"id": "sku-2", "quantity": 3, "item_price": 12.0},
        ],
        "order_id": "ord-000002",
        "num_items": 6,
        "content_type": "product",
    }
    assert accepted_order_ids(meta) == ["ord-000000", "ord-000001", "ord-000002"]
    request = meta.event_requests[0]
    assert request.token == TOKEN and request.token_source == "body"
    assert request.path == f"/v26.0/{DATASET}/events"

    report = json.loads(report_path.read_text())
    assert {k: report[k] for k in ("rows_read", "rows_rejected", "events_built", "events_sent", "events_accepted", "batches", "exit_code", "completed")} == {
        "rows_read": 6, "rows_rejected": 0, "events_built": 3, "events_sent": 3, "events_accepted": 3,
        "batches": 1, "exit_code": 0, "completed": True,
    }  # fmt: skip
    assert model.query("select event_id, order_id, dataset_id from meta_capi.send_log order by event_id") == [
        ("ord-000000", "ord-000000", DATASET),
        ("ord-000001", "ord-000001", DATASET),
        ("ord-000002", "ord-000002", DATASET),
    ]
    assert model.query("select completed, exit_code, events_accepted from meta_capi.runs") == [(True, 0, 3)]


def test_batches_hold_at_most_1000_events(model, meta, export_env):
    model.write(order_lines(2500))
    assert export_env(model, "-q") == 0
    assert sorted(len(request.events) for request in meta.event_requests) == [500, 1000, 1000]  # sent concurrently
    assert sorted(accepted_order_ids(meta)) == [f"ord-{n:06d}" for n in range(2500)]


def test_rerun_sends_only_new_or_changed_orders(model, meta, export_env, tmp_path):
    lines = order_lines(5)
    model.write(lines)
    assert export_env(model, "-q") == 0
    assert len(meta.accepted_events) == 5

    report_path = tmp_path / "again.json"
    assert export_env(model, "-q", "--report-json", str(report_path)) == 0
    assert len(meta.accepted_events) == 5  # nothing sent again
    report = json.loads(report_path.read_text())
    assert (report["events_built"], report["events_skipped"], report["events_sent"]) == (5, 5, 0)

    for line in lines:
        if line["order_id"] == "ord-000003":
            line["quantity"] += 1
    model.write(lines + order_lines(1, first=5))
    meta.reset()
    assert export_env(model, "-q") == 0
    assert accepted_order_ids(meta) == ["ord-000003", "ord-000005"]
    assert meta.accepted_events[0]["event_id"] == "ord-000003"  # a changed order keeps its event_id

    meta.reset()
    assert export_env(model, "-q", "--resend") == 0
    assert len(meta.accepted_events) == 6


def test_rejected_rows_are_accounted_for_without_pii(model, meta, export_env, tmp_path, capsys):
    lines = order_lines(4)  # orders 0, 1, 2, 3 have 1, 2, 3, 1 lines
    lines[0]["email"], lines[0]["phone"] = "jane.doe@nowhere", "12"  # no usable contact
    lines[1]["currency"] = "US$"  # order 1, line 1 of 2
    lines[3]["quantity"] = 0  # order 2, line 1 of 3: the other two are held back with it
    model.write(lines)
    report_path = tmp_path / "report.json"

    assert export_env(model, "-v", "--report-json", str(report_path)) == 0

    assert accepted_order_ids(meta) == ["ord-000003"]
    report = json.loads(report_path.read_text())
    assert report["rejected_by_reason"] == {
        "invalid_currency": 1,
        "no_usable_email_or_phone": 1,
        "order_has_rejected_line": 3,
        "quantity_not_positive": 1,
    }
    assert report["rows_read"] == len(lines) == report["rows_rejected"] + 1
    rejected = model.query("select order_id, product_id, stage, reason from meta_capi.rejected_rows order by all")
    assert rejected == [
        ("ord-000000", "sku-0", "validation", "no_usable_email_or_phone"),
        ("ord-000001", "sku-0", "validation", "invalid_currency"),
        ("ord-000001", "sku-1", "validation", "order_has_rejected_line"),
        ("ord-000002", "sku-0", "validation", "quantity_not_positive"),
        ("ord-000002", "sku-1", "validation", "order_has_rejected_line"),
        ("ord-000002", "sku-2", "validation", "order_has_rejected_line"),
    ]
    output = capsys.readouterr()
    everything = output.out + output.err + report_path.read_text() + str(model.query("from meta_capi.rejected_rows"))
    everything += "".join(str(request.fields) + request.request_line for request in meta.requests)
    for secret in (
        TOKEN,
        "jane.doe",
        "Customer.3@Example.com",
        "customer.3@example.com",
        "555-0003",
        "12065550003",
        "Zoë",
        "O'Brien",
    ):
        assert secret not in everything


def test_dry_run_writes_request_bodies_and_sends_nothing(model, meta, export_env, tmp_path, capsys):
    lines = order_lines(3)
    lines[0]["currency"] = "US$"
    model.write(lines)
    payloads = tmp_path / "bodies.jsonl"

    assert export_env(model, "--dry-run", "--dry-run-output", str(payloads)) == 0

    assert meta.requests == []
    bodies = [json.loads(line) for line in payloads.read_text().splitlines()]
    assert [[event["custom_data"]["order_id"] for event in body["data"]] for body in bodies] == [
        ["ord-000001", "ord-000002"]
    ]
    assert TOKEN not in payloads.read_text()
    assert str(payloads) in capsys.readouterr().err
    assert model.query("select completed, dry_run from meta_capi.runs") == [(False, True)]
    assert model.query("select count(*) from meta_capi.send_log") == [(0,)]

    assert export_env(model, "--dry-run", "--dry-run-output", str(payloads), "--max-rejected", "0") == 1
    assert export_env(model, "--dry-run", "--dry-run-output", str(payloads), "--max-rejected", "20%") == 0
    assert export_env(model, "--dry-run", "--dry-run-output", str(payloads), "--max-rejected", "10%") == 1


def test_app_secret_adds_appsecret_proof_and_test_event_code_passes_through(model, export_env, meta, monkeypatch):
    meta.app_secret = "app-secret-1"
    monkeypatch.setenv("META_APP_SECRET", "app-secret-1")
    model.write(order_lines(2))

    assert export_env(model, "-q", "--test-event-code", "TEST123") == 0

    fields = meta.event_requests[0].fields
    assert fields["appsecret_proof"] == appsecret_proof("app-secret-1", TOKEN)
    assert fields["test_event_code"] == "TEST123"
    # Test events neither count as a first send nor are skipped by the next real run.
    assert model.query("select completed, is_test from meta_capi.runs") == [(False, True)]
    assert export_env(model, "-q") == 0
    assert len(meta.accepted_events) == 4


def test_appsecret_proof_matches_metas_sdk_vector():
    from exporter.meta_api import appsecret_proof as ours

    assert ours("access-token-234", "appsecret-123").startswith("cdfcbc87")
    assert ours("access-token-234", "appsecret-123").endswith("53d7f2")


def test_a_send_log_that_cannot_be_written_stops_the_run_cleanly(
    model, meta, export_env, monkeypatch, tmp_path, capsys
):
    model.write(order_lines(30))
    write = StateStore.record_accepted

    def disk_full(self, rows):
        if self.run_id == PROBE_RUN_ID:  # the check before the run: the disk filled up later
            return write(self, rows)
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr(StateStore, "record_accepted", disk_full)
    report_path = tmp_path / "report.json"

    assert export_env(model, "--batch-size", "5", "--concurrency", "2", "--report-json", str(report_path)) == 2

    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert "Meta offline events run" in err  # the summary
    report = json.loads(report_path.read_text())
    assert report["events_accepted"] >= 5 and "could not be written to the send log" in report["error"]
    # Nothing claims the send completed: the next run sends again what was not logged.
    assert model.query("select completed, exit_code from meta_capi.runs") == [(False, 2)]


@pytest.mark.parametrize("fails", [False, True], ids=["checkpoint", "checkpoint_fails"])
def test_the_send_log_is_checkpointed_before_the_last_batches_and_loses_none(
    model, meta, export_env, monkeypatch, fails
):
    """Once every batch is submitted, the send log's thread writes DuckDB's log into the file
    while the last requests are in flight (closing would do it after them). What is accepted
    later is still logged; a checkpoint that fails only leaves that work to closing."""
    model.write(order_lines(30))
    checkpoint = StateStore.checkpoint
    logged_at_checkpoint = []

    def watched(self):
        logged_at_checkpoint.append(self._wh.execute("select count(*) from meta_capi.send_log").fetchone()[0])
        if fails:
            raise duckdb.IOException("No space left on device")
        checkpoint(self)

    monkeypatch.setattr(StateStore, "checkpoint", watched)

    assert export_env(model, "--batch-size", "5", "--concurrency", "2") == 0

    events = len(meta.accepted_events)
    assert events == 30
    # The last batch's outcome is collected after the checkpoint was asked for.
    assert len(logged_at_checkpoint) == 1 and logged_at_checkpoint[0] <= events - 5
    assert model.query("select count(*) from meta_capi.send_log") == [(events,)]
