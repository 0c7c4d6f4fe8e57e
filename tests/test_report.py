"""The run report (exporter/report.py): what the summary and the JSON say."""

from __future__ import annotations

from exporter.report import RunReport


def report(**counts) -> RunReport:
    result = RunReport("20261123T120000Z-abc123", "1234567890", "main.meta_offline_events", False, False)
    for name, value in counts.items():
        setattr(result, name, value)
    return result


def test_match_keys_dropped_are_counted_per_key_and_reason_in_the_json_and_the_summary():
    run = report(rows_in_model=10, rows_read=10)
    run.count_event_keys("em,external_id", "country:not_recognized,ph:not_a_valid_number")
    run.count_event_keys("em", "country:not_recognized")

    assert run.to_dict()["dropped_user_data"] == {
        "country": {"not_recognized": 2},
        "ph": {"not_a_valid_number": 1},
    }
    summary = run.summary()
    assert "  match keys dropped      (events sent whose customer's value was unusable, so left out)\n" in summary
    assert "                                2  country: not recognized\n" in summary
    assert "                                1  ph: not a valid number\n" in summary


def test_nothing_dropped_says_nothing():
    run = report(rows_in_model=10, rows_read=10)
    assert run.to_dict()["dropped_user_data"] == {}
    assert "match keys dropped" not in run.summary()


def test_an_empty_model_is_a_warning_in_the_summary_and_the_json():
    run = report(rows_in_model=0, rows_read=0)
    assert run.to_dict()["warnings"] == ["model_empty"]
    assert "  WARNING: the model is empty: nothing was read, so nothing was sent." in run.summary()
    assert "purchase_channels" in run.summary()
    assert run.exit_code == 0


def test_a_model_with_rows_has_no_warning():
    run = report(rows_in_model=3, rows_read=3)
    assert run.to_dict()["warnings"] == []
    assert "WARNING" not in run.summary()


def test_coverage_is_the_share_of_events_sent_and_empty_when_none_were():
    run = report(rows_in_model=10, rows_read=10)
    assert run.to_dict()["match_key_coverage"] == {}
    run.events_sent = 2
    run.count_event_keys("em,ph,external_id", None)
    run.count_event_keys("em,external_id", None)
    coverage = run.to_dict()["match_key_coverage"]
    assert (coverage["em"], coverage["ph"], coverage["fn"]) == (1.0, 0.5, 0.0)
