"""Test events (`--test-event-code`) check a live dataset: every event of the window is sent,
whatever the real send log holds, and nothing is recorded as really sent."""

from __future__ import annotations

from conftest import order_lines


def sent_with_code(meta) -> list[str]:
    return [
        event["event_id"]
        for request in meta.event_requests
        if request.fields.get("test_event_code") == "TEST123"
        for event in request.events
    ]


def test_a_test_event_run_after_a_real_send_sends_every_event(model, export_env, meta):
    model.write(order_lines(5))
    assert export_env(model, "-q") == 0
    real_log = model.query("select event_id, payload_hash, run_id from meta_capi.send_log order by event_id")
    assert len(real_log) == 5

    assert export_env(model, "-q", "--test-event-code", "TEST123") == 0
    assert sorted(sent_with_code(meta)) == [event_id for event_id, _, _ in real_log]
    # The real send log is untouched, and the test run is no first send.
    assert (
        model.query("select event_id, payload_hash, run_id from meta_capi.send_log where not is_test order by event_id")
        == real_log
    )
    assert model.query(
        "select is_test, completed, events_skipped, events_sent from meta_capi.runs order by started_at"
    ) == [
        (False, True, 0, 5),
        (True, False, 0, 5),
    ]

    # A second test run sends them all again; the next real run still skips them all.
    assert export_env(model, "-q", "--test-event-code", "TEST123") == 0
    assert len(sent_with_code(meta)) == 10
    requests_before = len(meta.event_requests)
    assert export_env(model, "-q") == 0
    assert len(meta.event_requests) == requests_before
