"""Reliable delivery: every fault Meta can throw, and what was finally accepted."""

from __future__ import annotations

import json

import pytest
from conftest import order_lines

ALL_ORDERS = [f"ord-{n:06d}" for n in range(30)]


def accepted(meta) -> list[str]:
    return sorted(event["custom_data"]["order_id"] for event in meta.accepted_events)


def run_with_report(export_env, model, tmp_path, *extra):
    path = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    code = export_env(model, "-q", "--report-json", str(path), *extra)
    return code, json.loads(path.read_text())


@pytest.mark.parametrize(
    "kind, options",
    [
        ("throttle", {"code": 4}),
        ("throttle", {"code": 17}),
        ("throttle", {"code": 80004, "retry_after": 0}),
        ("throttle", {"code": 613, "regain_minutes": 0}),
        ("server_error", {}),
        ("server_error", {"status": 503, "body": False}),
        ("error", {"code": 1, "status": 400, "transient": False}),
        ("error", {"code": 999, "status": 400, "transient": True}),
        ("drop", {}),
    ],
)
def test_temporary_errors_are_retried_until_everything_is_accepted(model, meta, export_env, tmp_path, kind, options):
    model.write(order_lines(30))
    meta.fail_next(kind, count=3, **options)

    code, report = run_with_report(export_env, model, tmp_path, "--batch-size", "10")

    assert code == 0
    assert accepted(meta) == ALL_ORDERS
    assert (report["retries"], report["requests"], report["events_accepted"]) == (3, 6, 30)
    assert report["completed"] is True


def test_retries_stop_after_max_tries_and_the_next_run_finishes(model, meta, export_env, tmp_path):
    model.write(order_lines(60))
    meta.fail_next("server_error", count=100)

    code, report = run_with_report(
        export_env, model, tmp_path, "--batch-size", "10", "--concurrency", "1", "--max-tries", "3"
    )

    assert code == 1
    assert meta.accepted_events == []
    # The failed batch and the ones built while it was retried (one waiting for the connection, one
    # more being submitted) are undelivered, never posted; the rest is not read.
    assert (report["requests"], report["retries"], report["events_undelivered"], report["completed"]) == (
        3,
        2,
        30,
        False,
    )
    assert report["rows_read"] < report["rows_in_model"]
    assert "Run again later" in report["error"]

    meta.clear_faults()
    code, report = run_with_report(export_env, model, tmp_path)
    assert code == 0 and accepted(meta) == [f"ord-{n:06d}" for n in range(60)]


def test_retry_budget_bounds_the_time_spent_waiting(model, meta, export_env, tmp_path):
    model.write(order_lines(5))
    meta.fail_next("throttle", count=5, code=17, retry_after=30)  # asks for more than the budget

    code, report = run_with_report(export_env, model, tmp_path, "--retry-budget", "5")

    assert code == 1
    assert (report["requests"], report["retries"], report["events_undelivered"]) == (1, 0, 5)


@pytest.mark.parametrize("index_in_errors", [True, False])
def test_an_invalid_event_is_isolated_and_the_rest_delivered(model, meta, export_env, tmp_path, index_in_errors):
    meta.index_in_errors = index_in_errors
    model.write(order_lines(30))
    meta.reject_events(order_ids=["ord-000007", "ord-000021"])

    code, report = run_with_report(export_env, model, tmp_path, "--batch-size", "10")

    assert code == 1  # Meta rejected some events
    assert accepted(meta) == [o for o in ALL_ORDERS if o not in ("ord-000007", "ord-000021")]
    assert (report["events_accepted"], report["events_rejected_by_meta"], report["events_undelivered"]) == (28, 2, 0)
    assert report["completed"] is True  # nothing left undelivered: rejected events are final
    rows = model.query("select order_id, stage, reason, message from meta_capi.rejected_rows order by order_id")
    assert [row[:3] for row in rows] == [
        ("ord-000007", "meta", "rejected_by_meta"),
        ("ord-000021", "meta", "rejected_by_meta"),
    ]
    assert all("Invalid parameter" in row[3] for row in rows)
    # Rejected events are not in the send log, so they are tried again once fixed.
    assert model.query("select count(*) from meta_capi.send_log") == [(28,)]


def test_expired_token_stops_the_run_and_the_next_run_finishes(model, meta, export_env, tmp_path, capsys, monkeypatch):
    model.write(order_lines(30))
    meta.expire_token(after=1)

    code = export_env(model, "--batch-size", "10", "--concurrency", "1")

    assert code == 2
    assert accepted(meta) == ALL_ORDERS[:10]
    assert "Re-authorize" in capsys.readouterr().err
    assert model.query("select count(*) from meta_capi.send_log") == [(10,)]
    assert model.query("select completed, exit_code from meta_capi.runs") == [(False, 2)]

    meta.add_token("EAAnew-token")
    monkeypatch.setenv("META_ACCESS_TOKEN", "EAAnew-token")
    assert export_env(model, "-q", "--batch-size", "10") == 0
    assert accepted(meta) == ALL_ORDERS  # each order exactly once


def test_terms_not_accepted_explains_who_must_accept_them(model, meta, export_env, capsys):
    model.write(order_lines(3))
    meta.fail_next("tos", act="555")

    assert export_env(model) == 2
    err = capsys.readouterr().err
    assert "business user with a role on the ad account" in err
    assert "https://business.facebook.com/ads/manage/customaudiences/tos/?act=555" in err


def test_unknown_dataset_fails_with_what_to_check(model, meta, export_env, capsys):
    model.write(order_lines(3))
    assert export_env(model, "--dataset-id", "999") == 2
    assert "Check META_DATASET_ID" in capsys.readouterr().err


def test_policy_block_stops_and_reports(model, meta, export_env, capsys):
    model.write(order_lines(3))
    meta.fail_next("policy")
    assert export_env(model) == 1
    assert "policy" in capsys.readouterr().err


def test_a_miscounted_answer_is_not_taken_as_accepted(model, meta, export_env, tmp_path):
    model.write(order_lines(3))
    meta.fail_next("miscount")
    code, report = run_with_report(export_env, model, tmp_path)
    assert code == 1
    assert (report["events_accepted"], report["events_undelivered"]) == (0, 3)
    assert model.query("select count(*) from meta_capi.send_log") == [(0,)]


def test_concurrent_batches_deliver_everything_once(model, meta, export_env, tmp_path):
    meta.delay = 0.05
    model.write(order_lines(200))
    meta.fail_next("throttle", count=2, code=4)
    code, report = run_with_report(export_env, model, tmp_path, "--batch-size", "10", "--concurrency", "6")
    assert code == 0
    assert accepted(meta) == [f"ord-{n:06d}" for n in range(200)]
    assert (report["batches"], report["retries"]) == (20, 2)
